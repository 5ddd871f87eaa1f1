import Foundation
import Glibc
import MeshCore
@testable import MeshTLS
import MeshTestSupport
import Testing

/// Black box: the identity lifecycle against a real control plane and real sidecars — a cloned key cannot
/// renew, an operator revokes an identity (renewal, slice poll and every handshake refused, live connections
/// closed), expired certificates read nothing, and nobody gets a join token for the control plane's own namespace.
@Suite("Identity lifecycle", .serialized)
struct IdentityLifecycleTests {
    /// One HTTPS request to the control plane with `identity` as the client certificate.
    static func call(_ port: UInt16, _ identity: TLSIdentity, _ method: String, _ path: String,
                     body: String = "") throws -> (status: Int, body: String) {
        let ctx = try TLSContext(role: .client, identity: identity, resumption: .off)
        let request = "\(method) \(path) HTTP/1.1\r\nHost: cp\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        let out = try BlockingTLSClient.connect(port: port, context: ctx, send: Array(request.utf8), timeout: 10)
        let text = String(decoding: out.received, as: UTF8.self)
        let status = text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? -1
        let payload = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, payload)
    }

    /// The identity a bootstrapped sidecar wrote to `dir/name/`.
    static func sidecarIdentity(_ cp: ControlPlaneFixture, _ name: String) throws -> TLSIdentity {
        func read(_ f: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: "\(cp.dir)/\(name)/\(f)"))) }
        return try TLSIdentity(certificatePEM: read("svid.crt"), keyPEM: read("svid.key"), bundlePEM: read("bundle.crt"),
                               trustDomain: TestCA.meshDomain)
    }

    static func renewBody() throws -> String {
        let csr = try CertificateSigningRequest.create(key: PrivateKey.generateP256(), commonName: "x").pem()
        return JSONValue.object([("csr", .string(String(decoding: csr, as: UTF8.self)))]).text
    }

    static func controlLog(_ cp: ControlPlaneFixture) -> [[String: Any]] {
        ((try? String(contentsOfFile: cp.logPath, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    // MARK: item 9

    /// `mesh-system` is the control plane's own namespace: no join token for it, through meshctl or the API.
    @Test func noJoinTokenForTheControlPlanesNamespace() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        for service in ["mesh-system/mesh-control", "mesh-system/anything"] {
            let r = try cp.meshctl(["token", "create", "--service", service])
            #expect(r.status == 1, "meshctl token create --service \(service): \(r.stdout)")
            #expect(r.stderr.contains("token.reserved-identity"), "\(r.stderr)")
        }
        #expect(try cp.auditRecords().allSatisfy { $0["action"] as? String != "token.create" })
        #expect(try cp.meshctl(["token", "create", "--service", "shop/cart"]).status == 0)
    }

    // MARK: item 4

    /// An expired (or not yet valid) certificate of our CA passes the control plane's TLS (renewal grace), but
    /// reads no slice and reports no status; renewal within the grace still works.
    @Test func expiredCertificatesReadNoPolicyAndReportNoStatus() throws {
        let ca = try TestCA()
        let cp = try ControlPlaneFixture(importing: (ca.certificate.pem(), ca.ca.key.pem()))
        defer { cp.stop() }
        let mesh = "\(cp.dir)/mesh"
        try FileManager.default.createDirectory(atPath: mesh, withIntermediateDirectories: true)
        try ManagedMesh.services.writeReplacing(toFile: "\(mesh)/services.json")
        try "{\"rules\": []}".writeReplacing(toFile: "\(mesh)/rules.json")
        #expect(try cp.meshctl(["apply", "-f", mesh]).status == 0)
        let uri = "spiffe://mesh.local/ns/shop/sa/payments"
        let bundle = [ca.certificate]
        func identity(notBefore: Double, notAfter: Double) throws -> TLSIdentity {
            let m = try ca.mint(uri) { $0.notBefore = notBefore; $0.notAfter = notAfter }
            return try TLSIdentity(chain: m.chain, key: m.key, trustBundle: bundle, trustDomain: ca.trustDomain)
        }
        let now = Double(time(nil))
        let expired = try identity(notBefore: now - 7200, notAfter: now - 600)
        let future = try identity(notBefore: now + 3600, notAfter: now + 7200)
        let valid = try identity(notBefore: now - 60, notAfter: now + 3600)

        #expect(try Self.call(cp.port, valid, "GET", "/v1/slice?version=-1").status == 200)
        let e = try Self.call(cp.port, expired, "GET", "/v1/slice?version=7")
        #expect(e.status == 401, "\(e.body)")
        #expect(e.body.contains("auth.certificate-expired"), "\(e.body)")
        let f = try Self.call(cp.port, future, "GET", "/v1/slice?version=8")
        #expect(f.status == 401, "\(f.body)")
        #expect(f.body.contains("auth.certificate-not-yet-valid"), "\(f.body)")
        // Neither reported a version.
        let status = try cp.meshctl(["-o", "json", "status"])
        #expect(!status.stdout.contains("\"appliedVersion\":7") && !status.stdout.contains("\"appliedVersion\":8"), "\(status.stdout)")
        // Renewal keeps its grace (expired 600 s ago, grace = cert TTL = 3600 s).
        let renewed = try Self.call(cp.port, expired, "POST", "/v1/identity", body: try Self.renewBody())
        #expect(renewed.status == 200, "\(renewed.body)")
    }

    // MARK: item 3

    /// Two sidecars hold copies of one key and certificate: the first renewal works, the second (from the now
    /// older serial) is refused with `issue.clone-suspected`, logged, counted and audited as a security event.
    @Test func aClonedKeyCannotRenewTwice() throws {
        let cp = try ControlPlaneFixture(certTTL: 10)
        defer { cp.stop() }
        let first = try cp.sidecar("shop/cart", inbound: [["name": "api", "listen": "127.0.0.1:\(TCP.freePort())",
                                                           "forwardTo": "127.0.0.1:9", "allow": [String]()]])
        try first.waitReady(timeout: 20)
        let original = try Self.sidecarIdentity(cp, "cart")
        // The thief's copy: the same files, its own sidecar (the files are valid, so no token is spent).
        try FileManager.default.createDirectory(atPath: "\(cp.dir)/cart2", withIntermediateDirectories: true)
        for f in ["svid.crt", "svid.key", "bundle.crt"] {
            try FileManager.default.copyItem(atPath: "\(cp.dir)/cart/\(f)", toPath: "\(cp.dir)/cart2/\(f)")
        }
        var cfg = first.config
        var id = cfg["identity"] as! [String: Any]
        id["certificate"] = "cart2/svid.crt"; id["key"] = "cart2/svid.key"; id["trustBundle"] = "cart2/bundle.crt"
        cfg["identity"] = id
        cfg["admin"] = nil
        cfg["inbound"] = [["name": "api", "listen": "127.0.0.1:\(TCP.freePort())", "forwardTo": "127.0.0.1:9", "allow": [String]()]]
        let clone = try SidecarProcess(name: "cart2", config: cfg, dir: cp.dir)
        cp.sidecars.append(clone)
        try clone.waitReady(timeout: 20)

        // Both renew at about 5 s; whichever comes second presents the older serial.
        let deadline = Date().addingTimeInterval(15)
        var refusedRenewal = false
        while Date() < deadline && !refusedRenewal {
            refusedRenewal = [first, clone].contains { s in
                s.logEvents().contains { ($0["event"] as? String) == "renewal-failed" && "\($0)".contains("issue.clone-suspected") }
            }
            usleep(200_000)
        }
        #expect(refusedRenewal, "one of the two renewals is refused with issue.clone-suspected")
        let audit = try cp.auditRecords()
        let renewals = audit.filter { $0["action"] as? String == "certificate.issue" && $0["via"] as? String == "renewal" }
        #expect(!renewals.isEmpty, "the first renewal worked")
        let clones = audit.filter { $0["action"] as? String == "security.clone-suspected" }
        #expect(clones.first?["serial"] as? String == original.leaf.serialHex, "\(clones)")
        #expect(Self.controlLog(cp).contains { $0["event"] as? String == "clone-suspected" && $0["serial"] as? String == original.leaf.serialHex })
        let metrics = try cp.meshctl(["metrics"])
        #expect(metrics.stdout.contains("mesh_control_security_events_total{event=\"clone-suspected\"}"), "\(metrics.stdout) \(metrics.stderr)")
    }

    /// `meshctl identity revoke` of a service: its live connection closes within about a second, new handshakes
    /// (resumed ones too) are refused with `identity-revoked`, its renewal and slice poll are refused, and the
    /// revocation is audited and listed.
    @Test func revokingAnIdentityClosesItsConnectionsAndRefusesEverything() throws {
        let mesh = try ManagedMesh(rules: """
        {"name": "frontend-to-payments", "action": "allow", "from": {"services": ["shop/frontend"]}, "to": {"services": ["shop/payments"]}, "ports": [8080]}
        """, app: .echo, callers: ["frontend"])
        defer { mesh.stop() }
        let payments = mesh.sidecars["payments"]!
        let port = mesh.ports["frontend"]!
        func echoes(_ fd: Int32, _ text: String) -> Bool {
            guard TCP.sendAll(fd, Array(text.utf8)) else { return false }
            var buf = [UInt8](repeating: 0, count: 64)
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            return n > 0 && String(decoding: buf[0..<n], as: UTF8.self) == text
        }
        let live = try TCP.connect(port: port)
        defer { close(live) }
        TCP.setTimeout(live, seconds: 5)
        #expect(echoes(live, "before"))
        // Then a few short connections: each resumes the session the one before left (single use), so the frontend
        // sidecar holds a resumable session when the revocation comes.
        for i in 0..<4 {
            let fd = try TCP.connect(port: port)
            #expect(echoes(fd, "warm \(i)"))
            shutdown(fd, Int32(SHUT_WR))
            _ = TCP.readToEOF(fd)  // both directions ended: the sidecar keeps the session
            close(fd)
            usleep(100_000)
        }
        let resumedBefore = ControlPlaneLifecycleTests.metric(payments, "mesh_tls_handshakes_total{direction=\"inbound\",resumed=\"true\"}")
        #expect(resumedBefore > 0, "the sidecars resume sessions (stateful by default)")
        let frontend = try Self.sidecarIdentity(mesh.cp, "frontend")

        let revokedAt = Date()
        let r = try mesh.cp.meshctl(["identity", "revoke", "--identity", "spiffe://mesh.local/ns/shop/sa/frontend", "--reason", "key leaked"])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        // The live connection ends within about a second.
        let ended = TCP.readToEOF(live)
        let took = Date().timeIntervalSince(revokedAt)
        #expect(ended.bytes.isEmpty && took < 1.5, "closed after \(took) s")
        #expect(payments.waitForEvent(timeout: 3) { $0["reason"] as? String == "identity-revoked" } != nil)
        // New connections are refused, resumed handshakes included.
        for _ in 0..<3 {
            let fd = try TCP.connect(port: port)
            TCP.setTimeout(fd, seconds: 5)
            #expect(!echoes(fd, "after"))
            close(fd)
        }
        let resumedAfter = ControlPlaneLifecycleTests.metric(payments, "mesh_tls_handshakes_total{direction=\"inbound\",resumed=\"true\"}")
        #expect(resumedAfter > resumedBefore, "a resumed handshake was tried and refused")
        let refusals = payments.logEvents().filter { $0["event"] as? String == "refused" && $0["reason"] as? String == "identity-revoked" }
        #expect(refusals.count >= 3, "\(refusals)")
        // Its renewal and its slice poll are refused.
        let renewal = try Self.call(mesh.cp.port, frontend, "POST", "/v1/identity", body: try Self.renewBody())
        #expect(renewal.status == 403 && renewal.body.contains("identity.revoked"), "\(renewal)")
        let poll = try Self.call(mesh.cp.port, frontend, "GET", "/v1/slice?version=-1")
        #expect(poll.status == 403 && poll.body.contains("identity.revoked"), "\(poll)")
        // Audited, and listed.
        let audit = try mesh.cp.auditRecords().filter { $0["action"] as? String == "identity.revoke" }
        #expect(audit.count == 1 && audit.first?["identity"] as? String == "spiffe://mesh.local/ns/shop/sa/frontend"
                && audit.first?["reason"] as? String == "key leaked" && audit.first?["actor"] as? String == "operator", "\(audit)")
        let list = try mesh.cp.meshctl(["identity", "list-revoked"])
        #expect(list.status == 0 && list.stdout.contains("spiffe://mesh.local/ns/shop/sa/frontend") && list.stdout.contains("key leaked"),
                "\(list.stdout) \(list.stderr)")
    }

    /// `--serial HEX` revokes one certificate: its renewal and slice poll are refused; others of the service are not.
    @Test func revokingASerialRefusesThatCertificate() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        let s = try cp.sidecar("shop/cart", inbound: [["name": "api", "listen": "127.0.0.1:\(TCP.freePort())",
                                                       "forwardTo": "127.0.0.1:9", "allow": [String]()]])
        try s.waitReady(timeout: 20)
        let cart = try Self.sidecarIdentity(cp, "cart")
        let r = try cp.meshctl(["identity", "revoke", "--serial", cart.leaf.serialHex])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        let renewal = try Self.call(cp.port, cart, "POST", "/v1/identity", body: try Self.renewBody())
        #expect(renewal.status == 403 && renewal.body.contains("identity.revoked"), "\(renewal)")
        let audit = try cp.auditRecords().filter { $0["action"] as? String == "identity.revoke" }
        #expect(audit.first?["serial"] as? String == cart.leaf.serialHex, "\(audit)")
        #expect(try cp.meshctl(["identity", "revoke", "--serial", "xyz"]).status == 1)
        #expect(try cp.meshctl(["identity", "revoke"]).status == 64)
    }
}
