import Foundation
import Glibc
import MeshCore
import MeshJWT
import MeshNet
import MeshPolicy
import MeshTLS
import MeshTestSupport
import Testing
@testable import SidecarKit

/// Tokens end to end through a sidecar run in the test process (so its state can carry a slice with an issuer
/// while static allow lists decide): an mTLS client → the `http` inbound → a recording backend. A verified
/// token's `sub` reaches the app as `x-mesh-token-subject`; a forged one never does, and a token that fails
/// (expired, `alg: none`, wrong audience) yields no subject at all.
@Suite(.serialized) struct L7TokenEndToEndTests {
    /// A running in-process sidecar (`payments`, one `http` inbound allowing `frontend`, a slice carrying one
    /// ES256 issuer) in front of `backend`, and a client context for `frontend`.
    struct Rig {
        let sidecar: Sidecar
        let port: UInt16
        let client: TLSContext
        let backend: RecordingBackend
        let now: Double

        func stop() {
            sidecar.stop()
            backend.stop()
        }
    }

    static func rig(limits: InboundHTTPLimits = .default, forwardToken: Bool = false, claimHeaders: [String] = []) throws -> Rig {
        let td = try TrustDomain("mesh.local")
        let now = Date().timeIntervalSince1970
        let ca = try TestCA(trustDomain: td, now: now).ca
        func identity(_ name: String) throws -> TLSIdentity {
            let key = try PrivateKey.generateP256()
            let cert = try ca.issue(.svid(try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/\(name)"), now: now, lifetime: 3600), for: key)
            return try TLSIdentity(chain: [cert], key: key, trustBundle: [ca.certificate], trustDomain: td)
        }
        let backend = try RecordingBackend()
        let port = TCP.freePort()
        var listener = InboundListener(name: "api", listen: HostPort(host: "127.0.0.1", port: port),
                                       forwardTo: HostPort(host: "127.0.0.1", port: backend.port),
                                       allow: [try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/frontend")])
        listener.protocol = .http
        var config = SidecarConfig(identity: IdentityFiles(certificate: "/nonexistent.crt", key: "/nonexistent.key",
                                                           trustBundle: "/nonexistent.pem", trustDomain: td), inbound: [listener])
        config.admin.enabled = false
        config.loops = 1
        let issuer = SliceIssuer(issuer: "https://id.example", audiences: ["payments"],
                                 jwks: .object([("keys", .array([try TokenMinter.shared.jwk("ec.pem", kid: "k1")]))]), algorithms: ["ES256"],
                                 forwardToken: forwardToken, claimHeaders: claimHeaders)
        var sliceJSON = #"{"version":1,"service":"shop/payments","identity":"spiffe://mesh.local/ns/shop/sa/payments","rules":[],"inbound":[],"outbound":[],"issuers":["#
        sliceJSON += issuer.json.text + "]}"
        let slice = try ServiceSlice(bytes: Array(sliceJSON.utf8))
        let state = try SidecarState(config: config, identity: try identity("payments"), generation: 1, loadedAt: now, slice: slice)
        let sidecar = Sidecar(runtime: SidecarRuntime(config: config, state: state, log: try EventLog(path: "/dev/null"), httpLimits: limits),
                              configPath: "/nonexistent.json")
        try sidecar.start()
        return Rig(sidecar: sidecar, port: port, client: try TLSContext(role: .client, identity: try identity("frontend")),
                   backend: backend, now: now)
    }

    @Test func onlyAVerifiedSubjectReachesTheApp() throws {
        let rig = try Self.rig()
        defer { rig.stop() }
        let (now, backend, port, client) = (rig.now, rig.backend, rig.port, rig.client)
        func token(_ claims: String, alg: String = "ES256") throws -> String {
            try TokenMinter.shared.token(header: #"{"alg":"\#(alg)","kid":"k1"}"#, claims: claims, signer: alg == "none" ? nil : "ec.pem")
        }
        let exp = Int(now) + 600
        let cases: [(String, String?)] = [
            (try token(#"{"iss":"https://id.example","aud":"payments","sub":"alice","exp":\#(exp)}"#), "alice"),
            (try token(#"{"iss":"https://id.example","aud":"payments","sub":"alice","exp":\#(Int(now) - 600)}"#), nil),
            (try token(#"{"iss":"https://id.example","aud":"payments","sub":"alice","exp":\#(exp)}"#, alg: "none"), nil),
            (try token(#"{"iss":"https://id.example","aud":"orders","sub":"alice","exp":\#(exp)}"#), nil),
        ]
        for (i, (t, subject)) in cases.enumerated() {
            let request = "GET /t/\(i) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(t)\r\nX-Mesh-Token-Subject: root\r\nConnection: close\r\n\r\n"
            let out = try BlockingTLSClient.connect(port: port, context: client, send: Array(request.utf8))
            #expect(String(decoding: out.received, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"), "case \(i)")
            let seen = try #require(backend.requestTexts.last, "case \(i)")
            #expect(seen.hasPrefix("GET /t/\(i) HTTP/1.1\r\n"))
            #expect(!seen.contains("root"), "case \(i): the forged subject reached the app")
            if let subject {
                #expect(seen.contains("\r\nx-mesh-token-subject: \(subject)\r\n"), "case \(i)")
            } else {
                #expect(!seen.lowercased().contains("x-mesh-token-subject"), "case \(i)")
            }
        }
    }

    /// A bearer token is a credential: an app that holds one can replay it to every service of its audience, and
    /// writes it to its logs. By default a verified token stays at the sidecar (the app gets its subject), and so
    /// does one that failed (one for another audience is valid there); an issuer with `forwardToken` passes
    /// its tokens on. Fails on the old code, which forwarded every token.
    @Test func aTokenStaysAtTheSidecarUnlessItsIssuerForwardsIt() throws {
        for forward in [false, true] {
            let rig = try Self.rig(forwardToken: forward)
            defer { rig.stop() }
            let exp = Int(rig.now) + 600
            let valid = try TokenMinter.shared.token(header: #"{"alg":"ES256","kid":"k1"}"#,
                                                     claims: #"{"iss":"https://id.example","aud":"payments","sub":"alice","exp":\#(exp)}"#, signer: "ec.pem")
            let otherAudience = try TokenMinter.shared.token(header: #"{"alg":"ES256","kid":"k1"}"#,
                                                             claims: #"{"iss":"https://id.example","aud":"orders","sub":"alice","exp":\#(exp)}"#, signer: "ec.pem")
            for (i, t) in [valid, otherAudience].enumerated() {
                let request = "GET /f/\(i) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(t)\r\nConnection: close\r\n\r\n"
                let out = try BlockingTLSClient.connect(port: rig.port, context: rig.client, send: Array(request.utf8))
                #expect(String(decoding: out.received, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"), "forward \(forward), token \(i)")
                let seen = try #require(rig.backend.requestTexts.last)
                #expect(seen.hasPrefix("GET /f/\(i) HTTP/1.1\r\n"))
                #expect(seen.contains("\r\nAuthorization: Bearer \(t)\r\n") == forward, "forward \(forward), token \(i): \(seen)")
                #expect(seen.contains("\r\nx-mesh-token-subject: alice\r\n") == (i == 0), "forward \(forward), token \(i)")
            }
            // Another scheme in the same field is not a token of ours: it reaches the app either way.
            let basic = "GET /f/b HTTP/1.1\r\nHost: x\r\nAuthorization: Basic dTpw\r\nConnection: close\r\n\r\n"
            _ = try BlockingTLSClient.connect(port: rig.port, context: rig.client, send: Array(basic.utf8))
            #expect(rig.backend.requestTexts.last?.contains("\r\nAuthorization: Basic dTpw\r\n") == true)
        }
    }

    /// Claims the issuer hands on reach the app as `x-mesh-claim-<name>`; the caller's own `X-Mesh-Claim-*` never
    /// does (every incoming `x-mesh-*` is stripped), with a token or without.
    @Test func claimHeadersCarryVerifiedClaimsAndCannotBeForged() throws {
        let rig = try Self.rig(claimHeaders: ["scope"])
        defer { rig.stop() }
        let t = try TokenMinter.shared.token(header: #"{"alg":"ES256","kid":"k1"}"#,
                                             claims: #"{"iss":"https://id.example","aud":"payments","sub":"alice","scope":"payments:write","exp":\#(Int(rig.now) + 600)}"#, signer: "ec.pem")
        for (i, auth) in ["Authorization: Bearer \(t)\r\n", ""].enumerated() {
            let request = "GET /c/\(i) HTTP/1.1\r\nHost: x\r\n\(auth)X-Mesh-Claim-Scope: admin\r\nConnection: close\r\n\r\n"
            _ = try BlockingTLSClient.connect(port: rig.port, context: rig.client, send: Array(request.utf8))
            let seen = try #require(rig.backend.requestTexts.last)
            #expect(!seen.contains("admin"), "the forged claim reached the app: \(seen)")
            #expect(seen.contains("\r\nx-mesh-claim-scope: payments:write\r\n") == (i == 0), "\(seen)")
        }
    }

    /// Slow headers: a head that does not complete within `headTimeoutMs` is answered 408 and closed; the app
    /// never sees it.
    @Test func aSlowHeadIsAnswered408() throws {
        var limits = InboundHTTPLimits()
        limits.headTimeoutMs = 300
        let rig = try Self.rig(limits: limits)
        defer { rig.stop() }
        let started = Date()
        let out = try BlockingTLSClient.connect(port: rig.port, context: rig.client, send: Array("GET /slow HTTP/1.1\r\nHost: x\r\nX-A:".utf8))
        let text = String(decoding: out.received, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), "\(text)")
        #expect(text.contains("\"error\":\"http.request-timeout\""))
        #expect(Date().timeIntervalSince(started) < 3)
        #expect(rig.backend.requests.isEmpty)
    }
}
