import MeshAPI
import MeshCore
import Testing

/// The quarantine messages round-trip byte for byte and are read strictly.
@Suite struct QuarantineWireTests {
    let wire = WireRoundTripTests()

    @Test func requestListAndRecord() throws {
        try wire.roundTrip(#"{"identity":"spiffe://mesh.local/ns/shop/sa/cart","reason":"probing","forSeconds":3600}"#,
                           QuarantineRequest(identity: WireRoundTripTests.cart, reason: "probing", forSeconds: 3600))
        try wire.roundTrip(#"{"identity":"spiffe://mesh.local/ns/shop/sa/cart","reason":""}"#,
                           QuarantineRequest(identity: WireRoundTripTests.cart, reason: ""))
        let text = #"{"revision":3,"quarantines":[{"identity":"spiffe://mesh.local/ns/shop/sa/cart","reason":"r","since":10,"until":null,"actor":"operator","automatic":false},"#
            + #"{"identity":"spiffe://mesh.local/ns/shop/sa/cart","reason":"rule","since":11,"until":71,"actor":"alert probing","automatic":true}]}"#
        try wire.roundTrip(text, QuarantineList(revision: 3, quarantines: [
            QuarantineRecord(identity: WireRoundTripTests.cart, reason: "r", since: 10, until: nil, actor: "operator", automatic: false),
            QuarantineRecord(identity: WireRoundTripTests.cart, reason: "rule", since: 11, until: 71, actor: "alert probing", automatic: true),
        ]))
    }

    @Test func strict() throws {
        #expect(throws: MeshError.self) { _ = try QuarantineRequest(bytes: Array(#"{"identity":"spiffe://mesh.local/ns/shop/sa/cart","x":1}"#.utf8)) }
        #expect(throws: MeshError.self) { _ = try QuarantineRequest(bytes: Array(#"{"identity":"spiffe://mesh.local/ns/shop/sa/cart","forSeconds":0}"#.utf8)) }
        #expect(throws: MeshError.self) { _ = try QuarantineRequest(bytes: Array(#"{"reason":"x"}"#.utf8)) }
    }
}
