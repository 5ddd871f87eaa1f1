import Foundation
import MeshCore
import MeshTestSupport
import Testing

/// `meshctl check` at both layers and `meshctl validate` of issuer keys, run as the built binary against a copy
/// of the example mesh (`-f DIR`, offline). Tokens are signed at test time with an ES256 key made by `openssl`;
/// the copy's issuer gets that key's public JWK (the example's own key has no private half anywhere).
@Suite struct MeshctlCheckL7Tests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static func meshctl(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return try ChildProcess.run("\((exe as NSString).deletingLastPathComponent)/meshctl", args, environment: [:])
    }

    /// The example mesh with the issuer's keys replaced by a test key (`TokenMinter`'s P-256 key, kid `test`);
    /// returns the folder and the key's name for `token`.
    static func mesh() throws -> (dir: TempDir, key: String) {
        let dir = try TempDir(prefix: "meshctl-l7")
        for name in ["services.json", "segments.json", "rules.json", "issuers.json"] {
            try dir.write(name, try Data(contentsOf: URL(fileURLWithPath: "\(root)/mesh-config/mesh/\(name)")).map { $0 })
        }
        try FileManager.default.createDirectory(atPath: dir.file("keys"), withIntermediateDirectories: false)
        let jwk = try TokenMinter.shared.jwk("ec.pem", kid: "test", extra: #", "alg": "ES256""#)
        try dir.write("keys/id.example.com.jwks.json", "{\"keys\": [\(jwk.text)]}")
        return (dir, "ec.pem")
    }

    /// An ES256 token (JOSE r‖s signature, signed by the `openssl` command line) with `claims`, signed by `key`.
    static func token(_ claims: String, key: String) throws -> String {
        try TokenMinter.shared.token(header: #"{"alg":"ES256","kid":"test","typ":"JWT"}"#, claims: claims, signer: key)
    }

    static func claims(scope: String, exp: Double) -> String {
        #"{"iss":"https://id.example.com","aud":"payments","sub":"alice","scope":"\#(scope)","exp":\#(Int(exp)),"iat":\#(Int(Date().timeIntervalSince1970) - 10)}"#
    }

    @Test func explainsBothLayersForARequest() throws {
        let (dir, _) = try Self.mesh()
        let ok = try Self.meshctl(["check", "-f", dir.path, "--from", "orders", "--to", "payments", "--port", "8080",
                                   "--method", "GET", "--path", "/v1/payments/./p-1//status"])
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        #expect(ok.stdout.contains("layer 4 (connection, at the handshake): ALLOWED"))
        #expect(ok.stdout.contains("layer 7 (request): ALLOWED: spiffe://mesh.local/ns/shop/sa/orders → shop/payments:8080 GET /v1/payments/p-1/status: allowed by orders-read-payment-status (route /v1/payments/*/status)"))
        #expect(ok.stdout.contains("method GET not in [POST]"))
        let debug = try Self.meshctl(["check", "-f", dir.path, "--from", "orders", "--to", "payments", "--port", "8080",
                                      "--method", "POST", "--path", "/v1/payments", "--header", "X-Debug: 1"])
        #expect(debug.status == 1)
        #expect(debug.stdout.contains("layer 7 (request): DENIED") && debug.stdout.contains("403 denied by payments-no-debug-header"))
        let refused = try Self.meshctl(["check", "-f", dir.path, "--from", "orders", "--to", "payments", "--port", "8080",
                                        "--method", "GET", "--path", "/v1/payments/%2e%2e/admin%2Fx"])
        #expect(refused.status == 1 && refused.stdout.contains("http.path-encoded-slash"))
    }

    @Test func verifiesTheTokenWithTheMeshIssuers() throws {
        let (dir, key) = try Self.mesh()
        let now = Date().timeIntervalSince1970
        func check(_ token: String) throws -> (status: Int32, stdout: String, stderr: String) {
            try dir.write("token.jwt", token + "\n")
            return try Self.meshctl(["check", "-f", dir.path, "--from", "frontend", "--to", "payments", "--port", "8080",
                                     "--method", "POST", "--path", "/v1/payments", "--jwt", dir.file("token.jwt")])
        }
        let good = try check(try Self.token(Self.claims(scope: "openid payments:write", exp: now + 600), key: key))
        #expect(good.status == 0, "\(good.stdout) \(good.stderr)")
        #expect(good.stdout.contains("token: valid (issuer https://id.example.com, subject alice); the app receives its subject, not the token"))
        #expect(good.stdout.contains("allowed by frontend-to-payments (route /v1/payments)"))
        let expired = try check(try Self.token(Self.claims(scope: "payments:write", exp: now - 3600), key: key))
        #expect(expired.status == 1)
        #expect(expired.stdout.contains("token: INVALID (jwt.expired"))
        #expect(expired.stdout.contains("401 unauthenticated"))
        #expect(expired.stdout.contains("needs a valid token from https://id.example.com (token invalid: jwt.expired"))
        let scope = try check(try Self.token(Self.claims(scope: "payments:read", exp: now + 600), key: key))
        #expect(scope.status == 1 && scope.stdout.contains(#"claim scope contains "payments:write" not met"#))
        #expect(scope.stdout.contains("403 denied by default-deny"))
        let none = try Self.meshctl(["check", "-f", dir.path, "--from", "frontend", "--to", "payments", "--port", "8080",
                                     "--method", "POST", "--path", "/v1/payments", "-o", "json"])
        #expect(none.status == 1 && none.stdout.contains(#""status":401"#) && none.stdout.contains(#""state":"absent""#))
    }

    /// Without `-f`, the mesh is the applied one (`GET /v1/mesh`) and a quarantine reported by `/v1/check`
    /// refuses whatever the rules say.
    @Test func checksAgainstTheAppliedMeshAndItsQuarantines() throws {
        let (dir, _) = try Self.mesh()
        var files: [(name: String, content: String)] = []
        for name in ["services.json", "segments.json", "rules.json"] { files.append((name, try dir.text(name))) }
        let jwks = try dir.text("keys/id.example.com.jwks.json")
        files.append(("issuers.json", try dir.text("issuers.json").replacingOccurrences(of: #""jwksFile": "keys/id.example.com.jwks.json""#, with: #""jwks": \#(jwks)"#)))
        let args = ["check", "--from", "orders", "--to", "payments", "--port", "8080", "--method", "POST", "--path", "/v1/payments"]
        let cp = try StubControlPlane(graph: GraphFixture.answer(now: 1_780_000_000), meshFiles: files)
        defer { cp.stop() }
        let ok = try cp.meshctl(args)
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        #expect(ok.stdout.contains("layer 7 (request): ALLOWED") && ok.stdout.contains("allowed by orders-create-payment"))
        #expect(cp.requests.withLock { $0.map { $0.split(separator: " ")[0...1].joined(separator: " ") } }.contains("GET /v1/mesh"))
        let quarantined = try StubControlPlane(graph: GraphFixture.answer(now: 1_780_000_000), meshFiles: files,
                                               quarantined: ["spiffe://mesh.local/ns/shop/sa/orders"])
        defer { quarantined.stop() }
        let refused = try quarantined.meshctl(args)
        #expect(refused.status == 1 && refused.stdout.contains("DENIED: spiffe://mesh.local/ns/shop/sa/orders is quarantined"))
    }

    @Test func validateRefusesAPrivateKeyAndInlinesJWKSFiles() throws {
        let (dir, _) = try Self.mesh()
        let ok = try Self.meshctl(["validate", "-f", dir.path])
        #expect(ok.status == 0, "\(ok.stderr)")
        try dir.write("keys/id.example.com.jwks.json", #"{"keys": [{"kty": "EC", "crv": "P-256", "kid": "k", "x": "x3ABbBT_xO8gxEiLgOII4efSRS7p532haHgso2mz-rQ", "y": "LZaxLU8AJCjDD-5eJeKloMyhdCqX8UZmKUkcSsSyoP0", "d": "secret"}]}"#)
        let bad = try Self.meshctl(["validate", "-f", dir.path])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("jwt.bad-key: issuers: https://id.example.com: the JWK carries the private member \"d\""))
        try FileManager.default.removeItem(atPath: dir.file("keys/id.example.com.jwks.json"))
        let missing = try Self.meshctl(["validate", "-f", dir.path])
        #expect(missing.status == 66 && missing.stderr.contains("jwksFile keys/id.example.com.jwks.json"))
    }
}
