import Foundation
import Glibc
import MeshCore
import MeshTestSupport
import Testing

/// Issue 13 end to end with policy from the control plane: the mesh declares payments' port 8080 `http`, rules
/// by method, path and header, one with an end-user token requirement, and an issuer whose key pair is made at
/// test time. No sidecar config names a protocol: the slices make the callers' outbound listeners pooled HTTP hops
/// and payments' inbound listener decide every request.
@Suite(.serialized) struct L7ManagedMeshTests {
    static let issuer = "https://id.test"

    final class Mesh {
        let cp: ControlPlaneFixture
        let backend: RecordingBackend
        let inPort = TCP.freePort()
        var ports: [String: UInt16] = [:]
        var sidecars: [String: SidecarProcess] = [:]

        init() throws {
            cp = try ControlPlaneFixture()
            backend = try RecordingBackend()
            let dir = "\(cp.dir)/mesh"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try """
            {"trustDomain": "mesh.local", "services": [
              {"namespace": "shop", "name": "frontend", "ports": [8080]},
              {"namespace": "shop", "name": "orders", "ports": [8080]},
              {"namespace": "shop", "name": "payments", "ports": [{"port": 8080, "protocol": "http"}]}]}
            """.writeReplacing(toFile: "\(dir)/services.json")
            try Self.writeIssuer(dir, key: "ec.pem", kid: "k1")
            try """
            {"rules": [
              {"name": "orders-read-status", "action": "allow", "from": {"services": ["shop/orders"]},
               "to": {"services": ["shop/payments"]}, "ports": [8080],
               "http": {"methods": ["GET"], "paths": ["/v1/payments/*/status"]}},
              {"name": "frontend-pays", "action": "allow", "from": {"services": ["shop/frontend"]},
               "to": {"services": ["shop/payments"]}, "ports": [8080], "http": {"methods": ["POST"], "paths": ["/v1/payments"]},
               "jwt": {"issuers": ["\(L7ManagedMeshTests.issuer)"], "claims": [{"name": "scope", "contains": "payments:write"}]}},
              {"name": "no-debug", "action": "deny", "from": {"identities": ["spiffe://mesh.local/*"]},
               "to": {"services": ["shop/payments"]}, "ports": [8080], "http": {"headers": [{"name": "x-debug", "equals": "1"}]}}]}
            """.writeReplacing(toFile: "\(dir)/rules.json")
            let applied = try cp.meshctl(["apply", "-f", dir])
            guard applied.status == 0 else { throw TestFailure("apply: \(applied.stderr)") }
            sidecars["payments"] = try sidecar("payments", ["inbound": [[
                "name": "api", "port": 8080, "listen": "127.0.0.1:\(inPort)", "forwardTo": "127.0.0.1:\(backend.port)",
                "allow": [String]()]]])
            for caller in ["frontend", "orders"] {
                let port = TCP.freePort()
                ports[caller] = port
                sidecars[caller] = try sidecar(caller, ["outbound": [[
                    "name": "payments", "to": "shop/payments", "port": 8080, "listen": "127.0.0.1:\(port)"]]])
            }
            for s in sidecars.values { try s.waitReady(timeout: 20) }
        }

        /// The issuer's keys: one key, `key` (a TokenMinter key file) under `kid`.
        static func writeIssuer(_ dir: String, key: String, kid: String) throws {
            let jwk = try TokenMinter.shared.jwk(key, kid: kid).text
            try """
            {"issuers": [{"issuer": "\(L7ManagedMeshTests.issuer)", "audiences": ["payments"], "algorithms": ["ES256"],
                          "jwks": {"keys": [\(jwk)]}}]}
            """.writeReplacing(toFile: "\(dir)/issuers.json")
        }

        /// Rotates the issuer's key with a new apply and waits until payments enforces it.
        func rotateIssuer(key: String, kid: String) throws {
            try Self.writeIssuer("\(cp.dir)/mesh", key: key, kid: kid)
            let applied = try cp.meshctl(["apply", "-f", "\(cp.dir)/mesh"])
            guard applied.status == 0 else { throw TestFailure("apply: \(applied.stderr)") }
            let deadline = Date().addingTimeInterval(10)
            while ControlPlaneLifecycleTests.metric(sidecars["payments"]!, "mesh_policy_version") != 2, Date() < deadline { usleep(20_000) }
        }

        func sidecar(_ name: String, _ listeners: [String: Any]) throws -> SidecarProcess {
            let s = try SidecarProcess(name: name, config: try cp.bootstrapConfig(name, managed: true, extra: listeners), dir: cp.dir)
            cp.sidecars.append(s)
            return s
        }

        func client(_ caller: String) throws -> L7Client { try L7Client(port: ports[caller]!) }

        func stop() {
            cp.stop()
            backend.stop()
        }
    }

    static func token(scope: String, expiresIn: Double = 600, key: String = "ec.pem", kid: String = "k1") throws -> String {
        let now = Date().timeIntervalSince1970
        let claims = #"{"iss":"\#(issuer)","aud":"payments","sub":"customer-42","scope":"\#(scope)","exp":\#(Int(now + expiresIn))}"#
        return try TokenMinter.shared.token(header: #"{"alg":"ES256","kid":"\#(kid)","typ":"JWT"}"#, claims: claims, signer: key)
    }

    @Test func requestsAreDecidedByMethodPathHeaderAndTokenOverPooledHops() throws {
        let m = try Mesh()
        defer { m.stop() }
        let orders = try m.client("orders")
        orders.send("GET /v1/payments/p-1/status HTTP/1.1\r\nHost: payments\r\nX-Mesh-Peer-Identity: spiffe://mesh.local/ns/shop/sa/frontend\r\n\r\n")
        #expect(orders.response()?.status == 200)
        orders.send("DELETE /v1/payments/p-1 HTTP/1.1\r\nHost: payments\r\n\r\n")
        let deleted = orders.response(method: "DELETE")
        #expect(deleted?.status == 403 && deleted?.body.contains("\"error\":\"request.forbidden\"") == true)
        orders.send("GET /v1/payments/p-1/status HTTP/1.1\r\nHost: payments\r\nX-Debug: 1\r\n\r\n")
        #expect(orders.response()?.status == 403)  // the http-scoped deny decides this request only …
        orders.send("GET /v1/payments/p-2/../p-3/status HTTP/1.1\r\nHost: payments\r\n\r\n")
        #expect(orders.response()?.status == 200)  // … and the connection carries on

        let frontend = try m.client("frontend")
        frontend.send("POST /v1/payments HTTP/1.1\r\nHost: payments\r\nContent-Length: 2\r\n\r\n{}")
        let missing = frontend.response(method: "POST")
        #expect(missing?.status == 401)
        #expect(missing?.headers["WWW-Authenticate"]?.hasPrefix("Bearer realm=\"\(Self.issuer)\"") == true)
        frontend.send("POST /v1/payments HTTP/1.1\r\nHost: payments\r\nAuthorization: Bearer \(try Self.token(scope: "openid"))\r\nContent-Length: 2\r\n\r\n{}")
        #expect(frontend.response(method: "POST")?.status == 403)  // valid token without the scope
        frontend.send("POST /v1/payments HTTP/1.1\r\nHost: payments\r\nAuthorization: Bearer \(try Self.token(scope: "openid", expiresIn: -3600))\r\nContent-Length: 2\r\n\r\n{}")
        let expired = frontend.response(method: "POST")
        #expect(expired?.status == 401 && expired?.body.contains("jwt.expired") == true)
        frontend.send("POST /v1/payments HTTP/1.1\r\nHost: payments\r\nAuthorization: Bearer \(try Self.token(scope: "openid payments:write"))\r\nContent-Length: 2\r\n\r\n{}")
        #expect(frontend.response(method: "POST")?.status == 200)

        // The app saw exactly the three allowed requests, with our stamps and not the forged one.
        let seen = m.backend.requestTexts
        #expect(seen.count == 3)
        #expect(seen.map { $0.components(separatedBy: "\r\n")[0] } == [
            "GET /v1/payments/p-1/status HTTP/1.1", "GET /v1/payments/p-3/status HTTP/1.1", "POST /v1/payments HTTP/1.1"])
        #expect(seen[0].lowercased().contains("x-mesh-peer-identity: spiffe://mesh.local/ns/shop/sa/orders\r\n"))
        #expect(!seen[0].contains("sa/frontend"))
        #expect(seen[2].lowercased().contains("x-mesh-token-subject: customer-42\r\n"))

        // The callers' listeners became pooled HTTP hops from the slice alone: one mTLS connection each.
        for caller in ["orders", "frontend"] {
            #expect(ControlPlaneLifecycleTests.metric(m.sidecars[caller]!, "mesh_pool_hops_opened_total") == 1, "\(caller)")
        }
    }

    /// Issuer keys rotate with the slices: the pooled connection stays, the old key stops verifying at once.
    @Test func issuerKeysRotateWithoutDroppingConnections() throws {
        let m = try Mesh()
        defer { m.stop() }
        let frontend = try m.client("frontend")
        func pay(key: String, kid: String) throws -> L7Client.Response? {
            frontend.send("POST /v1/payments HTTP/1.1\r\nHost: payments\r\nAuthorization: Bearer \(try Self.token(scope: "payments:write", key: key, kid: kid))\r\nContent-Length: 0\r\n\r\n")
            return frontend.response(method: "POST")
        }
        #expect(try pay(key: "ec.pem", kid: "k1")?.status == 200)
        try m.rotateIssuer(key: "ec-other.pem", kid: "k2")
        let old = try pay(key: "ec.pem", kid: "k1")
        #expect(old?.status == 401 && old?.body.contains("jwt.unknown-kid") == true)
        #expect(try pay(key: "ec-other.pem", kid: "k2")?.status == 200)
        #expect(!frontend.closed)
        #expect(ControlPlaneLifecycleTests.metric(m.sidecars["frontend"]!, "mesh_pool_hops_opened_total") == 1)
    }
}
