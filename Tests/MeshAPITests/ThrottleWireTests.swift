import MeshAPI
import MeshCore
import Testing

/// The throttle messages write exactly their documented JSON and read it back; unknown members are refused.
@Suite struct ThrottleWireTests {
    static let cart = try! SPIFFEID(parsing: "spiffe://mesh.local/ns/shop/sa/cart")

    func roundTrip<M: WireMessage>(_ text: String, _ expected: M, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try M(bytes: Array(text.utf8)) == expected, sourceLocation: sourceLocation)
        #expect(expected.json.text == text, sourceLocation: sourceLocation)
    }

    @Test func requestsAndAnswers() throws {
        try roundTrip(#"{"identity":"spiffe://mesh.local/ns/shop/sa/cart","perSecond":2.5,"forSeconds":3600}"#,
                      ThrottleRequest(identity: Self.cart, perSecond: 2.5, forSeconds: 3600))
        try roundTrip(#"{"identity":"spiffe://mesh.local/ns/shop/sa/cart","perSecond":5}"#,
                      ThrottleRequest(identity: Self.cart, perSecond: 5, forSeconds: nil))
        try roundTrip(#"{"identity":"spiffe://mesh.local/ns/shop/sa/cart"}"#, UnthrottleRequest(identity: Self.cart))
        let entry = ThrottleEntry(identity: Self.cart, perSecond: 0.5, burst: 1, since: 1_700_000_000, until: nil, actor: "operator")
        try roundTrip(#"{"revision":3,"throttles":[{"identity":"spiffe://mesh.local/ns/shop/sa/cart","perSecond":0.5,"burst":1,"since":1700000000,"until":null,"actor":"operator"}]}"#,
                      ThrottleListAnswer(revision: 3, throttles: [entry]))
    }

    @Test func strictReading() {
        #expect(throws: MeshError.self) { try ThrottleRequest(bytes: Array(#"{"identity":"spiffe://mesh.local/ns/shop/sa/cart","perSecond":1,"burst":9}"#.utf8)) }
        #expect(throws: MeshError.self) { try ThrottleRequest(bytes: Array(#"{"identity":"spiffe://mesh.local/ns/shop/sa/cart","perSecond":"1"}"#.utf8)) }
        #expect(throws: MeshError.self) { try ThrottleRequest(bytes: Array(#"{"identity":"spiffe://mesh.local/ns/shop/sa/cart","perSecond":1,"forSeconds":0}"#.utf8)) }
    }
}
