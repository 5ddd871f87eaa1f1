@testable import ControlPlaneKit
import MeshCore
import MeshPolicy
import MeshTestSupport
import Testing

/// Apply-time key validation (issue 13): a mesh whose issuer keys `MeshJWT` refuses is refused by the control
/// plane's parse (used by `PUT /v1/mesh` and `POST /v1/mesh/validate`) with the `jwt.*` code, so no sidecar
/// ever receives it. `MeshPolicy.load` alone accepts these bundles: the shape is fine, the keys are not.
@Suite struct IssuerKeyValidationTests {
    static let x = "x3ABbBT_xO8gxEiLgOII4efSRS7p532haHgso2mz-rQ", y = "LZaxLU8AJCjDD-5eJeKloMyhdCqX8UZmKUkcSsSyoP0"

    static func mesh(keys: String, algorithms: String = #"["ES256"]"#) -> [PolicyFile] {
        [PolicyFile(name: "mesh.json", content: """
        {"trustDomain": "mesh.local", "services": [{"namespace": "shop", "name": "payments", "ports": [{"port": 8080, "protocol": "http"}]},
                                                   {"namespace": "shop", "name": "frontend", "ports": [8080]}],
         "rules": [{"name": "a", "action": "allow", "from": {"services": ["shop/frontend"]}, "to": {"services": ["shop/payments"]},
                    "jwt": {"issuers": ["https://id.example.com"]}}],
         "issuers": [{"issuer": "https://id.example.com", "audiences": ["payments"], "algorithms": \(algorithms), "jwks": {"keys": \(keys)}}]}
        """)]
    }

    @Test func acceptsAPublicKey() throws {
        let policy = try PolicySnapshot.parse(Self.mesh(keys: #"[{"kty": "EC", "crv": "P-256", "kid": "k", "x": "\#(Self.x)", "y": "\#(Self.y)"}]"#))
        #expect(policy.issuers.map(\.issuer) == ["https://id.example.com"])
    }

    @Test(arguments: [
        (#"[{"kty": "EC", "crv": "P-256", "kid": "k", "x": "\#(x)", "y": "\#(y)", "d": "private"}]"#, #"["ES256"]"#, "jwt.bad-key"),
        (#"[{"kty": "EC", "crv": "P-384", "kid": "k", "x": "\#(x)", "y": "\#(y)"}]"#, #"["ES256"]"#, "jwt.bad-key"),
        (#"[{"kty": "EC", "crv": "P-256", "kid": "k", "x": "AAAA", "y": "\#(y)"}]"#, #"["ES256"]"#, "jwt.bad-key"),
        (#"[{"kty": "EC", "crv": "P-256", "kid": "k", "alg": "RS256", "x": "\#(x)", "y": "\#(y)"}]"#, #"["ES256"]"#, "jwt.bad-key"),
        (#"[{"kty": "EC", "crv": "P-256", "kid": "k", "alg": "ES256", "x": "\#(x)", "y": "\#(y)"}]"#, #"["EdDSA"]"#, "jwt.bad-key"),
        (#"[{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]"#, #"["ES256"]"#, "jwt.bad-key"),
        (#"[]"#, #"["ES256"]"#, "jwt.bad-key"),
    ])
    func refusesABadKeyAtApplyTime(keys: String, algorithms: String, code: String) throws {
        let files = Self.mesh(keys: keys, algorithms: algorithms)
        #expect(try MeshPolicy.load(files: files.map { ($0.name, Array($0.content.utf8)) }).issuers.count == 1)
        _ = expectMeshError(code, reasonPrefix: "issuers: https://id.example.com: ") { _ = try PolicySnapshot.parse(files) }
    }
}
