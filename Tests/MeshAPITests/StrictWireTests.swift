import MeshAPI
import MeshCore
import Testing

/// Reading is strict: a message that is not exactly its schema is refused with a stable `api.*` code (or the
/// code of the broken rule, for typed fields), and the reason starts with the JSON path.
@Suite struct StrictWireTests {
    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let read: @Sendable () throws -> Void
        let code: String
        let path: String
        var description: String { name }
    }

    static func reading<M: WireMessage>(_ type: M.Type, _ text: String) -> @Sendable () throws -> Void {
        { _ = try M(bytes: Array(text.utf8)) }
    }

    static let cases: [Case] = [
        Case(name: "unknown member in an identity request", read: reading(IdentityRequest.self, #"{"csr":"x","tokn":"t"}"#),
             code: "api.unknown-field", path: "tokn"),
        Case(name: "identity request without a CSR", read: reading(IdentityRequest.self, #"{"token":"t"}"#),
             code: "api.missing-field", path: "csr"),
        Case(name: "CSR that is not a string", read: reading(IdentityRequest.self, #"{"csr":1}"#), code: "api.wrong-type", path: "csr"),
        Case(name: "identity answer without its chain",
             read: reading(IdentityAnswer.self, #"{"spiffeID":"spiffe://a/b","trustBundle":"B","serial":"1","notAfter":1}"#),
             code: "api.missing-field", path: "certificateChain"),
        Case(name: "identity answer with a bad SPIFFE ID",
             read: reading(IdentityAnswer.self, #"{"spiffeID":"http://a/b","certificateChain":"C","trustBundle":"B","serial":"1","notAfter":1}"#),
             code: "spiffe.bad-scheme", path: "spiffeID"),
        Case(name: "expiry with a fraction",
             read: reading(IdentityAnswer.self, #"{"spiffeID":"spiffe://a/b","certificateChain":"C","trustBundle":"B","serial":"1","notAfter":1.5}"#),
             code: "api.wrong-type", path: "notAfter"),
        Case(name: "bundle with a bad trust domain",
             read: reading(BundleAnswer.self, #"{"trustDomain":"Mesh","bundle":"B","controlPlane":"spiffe://a/b"}"#),
             code: "spiffe.bad-trust-domain-char", path: "trustDomain"),
        Case(name: "token answer with an extra member",
             read: reading(TokenAnswer.self, #"{"token":"t","spiffeID":"spiffe://a/b","expiresAt":1,"x":0}"#),
             code: "api.unknown-field", path: "x"),
        Case(name: "token request with a string TTL", read: reading(TokenRequest.self, #"{"service":"a/b","ttlSeconds":"1h"}"#),
             code: "api.wrong-type", path: "ttlSeconds"),
        Case(name: "CA root without nextChangeAt (null, not absent)",
             read: reading(CAStatus.self, #"{"trustDomain":"t","issuing":1,"certTTLSeconds":1,"rotationOverlapSeconds":1,"roots":[{"id":1,"phase":"issuing","sha256":"a","subject":"s","notAfter":1}]}"#),
             code: "api.missing-field", path: "roots[0].nextChangeAt"),
        Case(name: "CA roots not an array",
             read: reading(CAStatus.self, #"{"trustDomain":"t","issuing":1,"certTTLSeconds":1,"rotationOverlapSeconds":1,"roots":{}}"#),
             code: "api.wrong-type", path: "roots"),
        Case(name: "sidecar row in an unknown state",
             read: reading(SidecarStatusList.self, #"{"version":1,"sidecars":[{"identity":"i","appliedVersion":1,"lastSeen":1,"secondsAgo":1,"state":"fine"}]}"#),
             code: "api.bad-value", path: "sidecars[0].state"),
        Case(name: "error body without a reason", read: reading(ErrorBody.self, #"{"error":"x"}"#), code: "api.missing-field", path: "reason"),
        Case(name: "error body that is an array", read: reading(ErrorBody.self, #"[]"#), code: "api.wrong-type", path: "$"),
        Case(name: "slice without a version", read: reading(SliceAnswer.self, #"{"service":"a/b"}"#), code: "api.missing-field", path: "version"),
        Case(name: "slice with a negative version", read: reading(SliceAnswer.self, #"{"version":-1}"#), code: "api.out-of-range", path: "version"),
        Case(name: "slice that is not an object", read: reading(SliceAnswer.self, #""v""#), code: "api.wrong-type", path: "$"),
        Case(name: "slice with a duplicate key", read: reading(SliceAnswer.self, #"{"version":1,"version":2}"#),
             code: "json.duplicate-key", path: ""),
        Case(name: "not JSON at all", read: reading(ErrorBody.self, "<html>"), code: "json.syntax", path: ""),
    ]

    @Test(arguments: cases)
    func refuses(_ c: Case) {
        do {
            try c.read()
            Issue.record("\(c.name): read without error")
        } catch let e as MeshError {
            #expect(e.code == c.code, "\(e)")
            #expect(e.reason.hasPrefix(c.path), "\(e)")
        } catch {
            Issue.record("\(c.name): \(error)")
        }
    }

    @Test func apiCodesAreDeclaredWithTheirKinds() {
        #expect(ErrorCode.known("api.unknown-field")?.kind == .badRequest)
        #expect(ErrorCode.known("api.unexpected-answer")?.kind == .unavailable)
        #expect(ErrorCode.known("token.used") == .tokenUsed)
        #expect(ErrorCode.known("nobody.said") == nil)
        // No two declared codes share a text.
        #expect(ErrorCode.declared.count == Set(ErrorCode.declared.values.map(\.id)).count)
    }
}
