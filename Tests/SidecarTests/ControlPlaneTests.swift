import Foundation
import Glibc
import Testing
import MeshCore
import MeshHTTP
import MeshHTTP1
import MeshNet
import MeshTLS

/// Black box: `mesh-control`, `meshctl` and bootstrapping sidecars as real processes on loopback.
@Suite("Workload identity from the control plane")
struct ControlPlaneTests {
    /// payments accepts frontend and orders; all three get their identity from join tokens.
    static func threeServices(_ cp: ControlPlaneFixture, app mode: TestApp.Mode = .http("payments"))
        throws -> (app: TestApp, payments: SidecarProcess, frontend: SidecarProcess, orders: SidecarProcess, fePort: UInt16, orPort: UInt16) {
        let app = try TestApp(mode)
        cp.apps.append(app)
        let inPort = TCP.freePort(), fePort = TCP.freePort(), orPort = TCP.freePort()
        let payments = try cp.sidecar("shop/payments", inbound: [[
            "name": "api", "listen": "127.0.0.1:\(inPort)", "forwardTo": "127.0.0.1:\(app.port)",
            "allow": ["spiffe://mesh.local/ns/shop/sa/frontend", "spiffe://mesh.local/ns/shop/sa/orders"]]])
        func out(_ port: UInt16) -> [[String: Any]] {
            [["name": "payments", "listen": "127.0.0.1:\(port)", "upstream": "127.0.0.1:\(inPort)",
              "expectIdentity": "spiffe://mesh.local/ns/shop/sa/payments"]]
        }
        let frontend = try cp.sidecar("shop/frontend", outbound: out(fePort))
        let orders = try cp.sidecar("shop/orders", outbound: out(orPort))
        for s in [payments, frontend, orders] { try s.waitReady(timeout: 20) }
        return (app, payments, frontend, orders, fePort, orPort)
    }

    @Test func threeSidecarsBootstrapFromTokensAndTalk() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        let mesh = try Self.threeServices(cp)
        #expect(TCP.httpGet(port: mesh.fePort).hasSuffix("hello from payments\n"))
        #expect(TCP.httpGet(port: mesh.orPort).hasSuffix("hello from payments\n"))
        let id = (mesh.payments.adminJSON("/config")?["identity"] as? [String: Any])?["spiffeID"] as? String
        #expect(id == "spiffe://mesh.local/ns/shop/sa/payments")
        // The private key never left the sidecar and is 0600 on its disk.
        var st = stat()
        #expect(stat("\(cp.dir)/payments/svid.key", &st) == 0 && st.st_mode & 0o777 == 0o600)
        let audit = try cp.auditRecords()
        #expect(audit.filter { $0["action"] as? String == "token.create" }.count == 3)
        let issued = audit.filter { $0["action"] as? String == "certificate.issue" }
        #expect(Set(issued.compactMap { $0["identity"] as? String }) == [
            "spiffe://mesh.local/ns/shop/sa/payments", "spiffe://mesh.local/ns/shop/sa/frontend", "spiffe://mesh.local/ns/shop/sa/orders"])
        #expect(issued.allSatisfy { $0["via"] as? String == "token" })
    }

    @Test func reusedExpiredAndForeignTokensAreRefused() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        let token = try String(contentsOfFile: try cp.tokenFile("shop/payments"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try Self.requestIdentity(cp, token: token).status == 200)
        let reused = try Self.requestIdentity(cp, token: token)
        #expect(reused.status == 403 && reused.text.contains("token.used"))
        let short = try String(contentsOfFile: try cp.tokenFile("shop/payments", ttl: "1s"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        usleep(2_100_000)
        let expired = try Self.requestIdentity(cp, token: short)
        #expect(expired.status == 403 && expired.text.contains("token.expired"))
        let foreign = try Self.requestIdentity(cp, token: "mjt_" + String(repeating: "ab", count: 32))
        #expect(foreign.status == 403 && foreign.text.contains("token.unknown"))
        let none = try Self.requestIdentity(cp, token: nil)
        #expect(none.status == 401)
    }

    /// A CSR that asks for another identity gets the token's identity, never the one it asked for.
    @Test func csrAskingForAnotherIdentityGetsTheTokensIdentity() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        let token = try String(contentsOfFile: try cp.tokenFile("shop/frontend"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let key = try PrivateKey.generateP256()
        try Data(key.pem()).write(to: URL(fileURLWithPath: "\(cp.dir)/k.pem"))
        let made = system("openssl req -new -key \(cp.dir)/k.pem -subj /CN=admin -addext 'subjectAltName=URI:spiffe://mesh.local/ns/shop/sa/admin' -out \(cp.dir)/evil.csr 2>/dev/null")
        try #require(made == 0)
        let csr = try String(contentsOfFile: "\(cp.dir)/evil.csr", encoding: .utf8)
        let r = try Self.requestIdentity(cp, token: token, csrPEM: csr)
        #expect(r.status == 200)
        let doc = try StrictJSON.parse(r.body)
        #expect(doc["spiffeID"]?.stringValue == "spiffe://mesh.local/ns/shop/sa/frontend")
        let chain = try Certificate.parseChain(pem: Array((doc["certificateChain"]?.stringValue ?? "").utf8))
        #expect(chain[0].uriSANs == ["spiffe://mesh.local/ns/shop/sa/frontend"])
        let audit = try cp.auditRecords().last { $0["action"] as? String == "certificate.issue" }
        #expect((audit?["csrAskedFor"] as? [String]) == ["spiffe://mesh.local/ns/shop/sa/admin"])
    }

    /// POST /v1/identity with a token (or none), over TLS that trusts the control plane's bundle.
    static func requestIdentity(_ cp: ControlPlaneFixture, token: String?, csrPEM: String? = nil) throws -> HTTPClient.Response {
        let bundle = try Certificate.parseChain(pem: Array(try Data(contentsOf: URL(fileURLWithPath: "\(cp.dataDir)/bundle.pem"))), maxCount: 16)
        let td = try TrustDomain("mesh.local")
        let client = HTTPClient(address: try SocketAddress(HostPort(host: "127.0.0.1", port: cp.port)),
                                tls: try TLSContext.client(trusting: bundle, trustDomain: td),
                                expectServer: try SPIFFEID.workload("spiffe://mesh.local/ns/mesh-system/sa/mesh-control"))
        let csr = try csrPEM ?? String(decoding: CertificateSigningRequest.create(key: PrivateKey.generateP256()).pem(), as: UTF8.self)
        var body: [(String, JSONValue)] = [("csr", .string(csr))]
        if let token { body.append(("token", .string(token))) }
        return try client.send(method: "POST", path: "/v1/identity", body: Array(JSONValue.object(body).text.utf8))
    }
}
