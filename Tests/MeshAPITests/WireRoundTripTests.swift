import MeshAPI
import MeshCore
import Testing

/// Every wire type writes exactly the JSON the API has always sent, and reads it back to an equal value.
@Suite struct WireRoundTripTests {
    static let cart = try! SPIFFEID(parsing: "spiffe://mesh.local/ns/shop/sa/cart")
    static let control = try! SPIFFEID(parsing: "spiffe://mesh.local/ns/mesh-system/sa/mesh-control")
    static let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

    /// Reads `text`, checks the value, and checks that writing it gives `text` back byte for byte.
    func roundTrip<M: WireMessage>(_ text: String, _ expected: M, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let read = try M(bytes: Array(text.utf8))
        #expect(read == expected, sourceLocation: sourceLocation)
        #expect(expected.json.text == text, sourceLocation: sourceLocation)
        #expect(expected.answerText == text + "\n", sourceLocation: sourceLocation)
        #expect(expected.bytes == Array(text.utf8), sourceLocation: sourceLocation)
    }

    @Test func identityRequestWithAndWithoutToken() throws {
        try roundTrip(#"{"csr":"PEM\n","token":"mjt_abc"}"#, IdentityRequest(csrPEM: "PEM\n", token: "mjt_abc"))
        try roundTrip(#"{"csr":"PEM\n"}"#, IdentityRequest(csrPEM: "PEM\n", token: nil))
    }

    @Test func identityAnswer() throws {
        let text = #"{"spiffeID":"spiffe://mesh.local/ns/shop/sa/cart","certificateChain":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n","trustBundle":"B","serial":"0A1B","notAfter":1767225600}"#
        try roundTrip(text, IdentityAnswer(spiffeID: Self.cart, certificateChainPEM: Self.pem, trustBundlePEM: "B",
                                           serial: "0A1B", notAfter: 1_767_225_600))
    }

    @Test func bundleAnswer() throws {
        try roundTrip(#"{"trustDomain":"mesh.local","bundle":"B","controlPlane":"spiffe://mesh.local/ns/mesh-system/sa/mesh-control"}"#,
                      BundleAnswer(trustDomain: try TrustDomain("mesh.local"), bundlePEM: "B", controlPlane: Self.control))
    }

    @Test func tokenRequestAndAnswer() throws {
        try roundTrip(#"{"service":"shop/cart","ttlSeconds":3600}"#, TokenRequest(service: "shop/cart", ttlSeconds: 3600))
        try roundTrip(#"{"service":"shop/cart"}"#, TokenRequest(service: "shop/cart", ttlSeconds: nil))
        try roundTrip(#"{"token":"mjt_x","spiffeID":"spiffe://mesh.local/ns/shop/sa/cart","expiresAt":1700000000}"#,
                      TokenAnswer(token: "mjt_x", spiffeID: Self.cart, expiresAt: 1_700_000_000))
    }

    @Test func caStatusWithAndWithoutNextChange() throws {
        let text = #"{"trustDomain":"mesh.local","issuing":2,"certTTLSeconds":86400,"rotationOverlapSeconds":3600,"roots":["#
            + #"{"id":1,"phase":"retiring","sha256":"ab","subject":"root 1","notAfter":1800000000,"nextChangeAt":1700003600},"#
            + #"{"id":2,"phase":"issuing","sha256":"cd","subject":"root 2","notAfter":1900000000,"nextChangeAt":null}]}"#
        try roundTrip(text, CAStatus(trustDomain: "mesh.local", issuing: 2, certTTLSeconds: 86_400, rotationOverlapSeconds: 3600, roots: [
            .init(id: 1, phase: "retiring", sha256: "ab", subject: "root 1", notAfter: 1_800_000_000, nextChangeAt: 1_700_003_600),
            .init(id: 2, phase: "issuing", sha256: "cd", subject: "root 2", notAfter: 1_900_000_000, nextChangeAt: nil),
        ]))
    }

    @Test func sidecarStatusList() throws {
        let text = #"{"version":7,"sidecars":[{"identity":"spiffe://mesh.local/ns/shop/sa/cart","appliedVersion":7,"lastSeen":1700000000,"secondsAgo":3,"state":"in-sync"},"#
            + #"{"identity":"spiffe://mesh.local/ns/shop/sa/db","appliedVersion":6,"lastSeen":1699990000,"secondsAgo":10003,"state":"stale"}]}"#
        try roundTrip(text, SidecarStatusList(version: 7, sidecars: [
            .init(identity: "spiffe://mesh.local/ns/shop/sa/cart", appliedVersion: 7, lastSeen: 1_700_000_000, secondsAgo: 3, state: .inSync),
            .init(identity: "spiffe://mesh.local/ns/shop/sa/db", appliedVersion: 6, lastSeen: 1_699_990_000, secondsAgo: 10_003, state: .stale),
        ]))
        try roundTrip(#"{"version":0,"sidecars":[]}"#, SidecarStatusList(version: 0, sidecars: []))
    }

    @Test func errorBodyAndTheErrorItCarries() throws {
        try roundTrip(#"{"error":"token.used","reason":"this token was used \"before\""}"#,
                      ErrorBody(error: "token.used", reason: "this token was used \"before\""))
        let e = ErrorBody(error: "token.used", reason: "again").meshError
        #expect(e.errorCode == .tokenUsed)
        #expect(e.kind == .forbidden)
        #expect(ErrorBody(error: "api.unknown-field", reason: "x").meshError.errorCode == .apiUnknownField)
        #expect(ErrorBody(error: "never.declared", reason: "x").meshError.kind == .internal)
        #expect(ErrorBody(MeshError(.authRequired, "who?")) == ErrorBody(error: "auth.required", reason: "who?"))
    }

    @Test func sliceAnswerKeepsTheDocumentWhole() throws {
        let text = #"{"version":7,"service":"shop/cart","identity":"spiffe://mesh.local/ns/shop/sa/cart","rules":[],"inbound":[],"outbound":[],"later":1}"#
        let answer = try SliceAnswer(bytes: Array(text.utf8))
        #expect(answer.version == 7)
        #expect(answer.json.text == text)
        #expect(SliceAnswer.path(after: -1) == "/v1/slice?version=-1")
        #expect(SliceAnswer.path(after: 12) == "/v1/slice?version=12")
    }
}
