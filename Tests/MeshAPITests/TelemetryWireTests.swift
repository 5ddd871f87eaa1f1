import MeshAPI
import MeshCore
import Testing

/// The telemetry messages: exact text both ways, and strict reading of what a sidecar may send.
@Suite struct TelemetryWireTests {
    static let cart = try! SPIFFEID(parsing: "spiffe://mesh.local/ns/shop/sa/cart")

    static func edgeText(shadow: String = #""shadowVerdict":"allow","shadowRule":"audit-1""#, port: String = "8080",
                         handshake: String = "1,\(Array(repeating: "0", count: 14).joined(separator: ","))") -> String {
        #"{"observer":"outbound","caller":"spiffe://mesh.local/ns/shop/sa/cart","destination":"shop/payments","port":"#
            + port + #","verdict":"deny","rule":"default-deny","reason":"egress-not-allowed","# + shadow
            + #","connections":1,"bytesToDestination":0,"bytesToCaller":0,"handshakeCounts":["# + handshake
            + #"],"durationCounts":[1,"# + Array(repeating: "0", count: 12).joined(separator: ",") + "]}"
    }

    static var edge: TelemetryEdge {
        var counts = EdgeCounts()
        counts.record(bytesToDestination: 0, bytesToCaller: 0, handshakeUs: 400, durationUs: 900)
        return TelemetryEdge(key: EdgeKey(observer: .outbound, caller: cart.description, destination: "shop/payments", port: 8080,
                                          allowed: false, rule: "default-deny", reason: "egress-not-allowed",
                                          shadowAllowed: true, shadowRule: "audit-1"), counts: counts)
    }

    @Test func reportRoundTripsByteForByte() throws {
        let text = #"{"source":"spiffe://mesh.local/ns/shop/sa/cart","instance":"00ff","seq":3,"policyVersion":7,"windowStart":100,"windowEnd":105,"edges":["#
            + Self.edgeText() + #"],"foldedConnections":2,"droppedBatches":1}"#
        let expected = TelemetryReport(source: Self.cart, instance: "00ff", seq: 3, policyVersion: 7, windowStart: 100, windowEnd: 105,
                                       edges: [Self.edge], foldedConnections: 2, droppedBatches: 1)
        #expect(try TelemetryReport(bytes: Array(text.utf8)) == expected)
        #expect(expected.json.text == text)
        #expect(try TelemetryAck(bytes: Array(#"{"seq":3,"duplicate":true}"#.utf8)) == TelemetryAck(seq: 3, duplicate: true))
    }

    @Test func graphEdgeCarriesDerivedPercentilesAndReadsBack() throws {
        let g = GraphAnswer(from: 100, to: 200, resolutionSeconds: 10,
                            edges: [GraphEdge(key: Self.edge.key, counts: Self.edge.counts, firstSeen: 110, lastSeen: 190)])
        let text = g.json.text
        #expect(text.contains(#""handshakeP50Us":500,"handshakeP99Us":500,"durationP50Us":1000,"durationP99Us":1000"#))
        #expect(try GraphAnswer(bytes: Array(text.utf8)) == g)
    }

    @Test(arguments: [
        ("unknown member", edgeText(shadow: #""shadowVerdict":null,"shadowRule":null,"extra":1"#), "api.unknown-field"),
        ("verdict that is not allow or deny", edgeText(shadow: #""shadowVerdict":"maybe","shadowRule":null"#), "api.bad-value"),
        ("port out of range", edgeText(port: "70000"), "api.out-of-range"),
        ("wrong number of histogram buckets", edgeText(handshake: "1,0"), "api.bad-value"),
        ("negative count", edgeText(handshake: "-1,\(Array(repeating: "0", count: 14).joined(separator: ","))"), "api.out-of-range"),
        ("shadow rule too long", edgeText(shadow: #""shadowVerdict":"allow","shadowRule":""# + String(repeating: "r", count: 513) + "\""),
         "api.out-of-range"),
    ])
    func strictEdges(_ c: (String, String, String)) {
        let text = #"{"source":"spiffe://mesh.local/ns/shop/sa/cart","instance":"00ff","seq":1,"policyVersion":0,"windowStart":1,"windowEnd":1,"edges":["#
            + c.1 + #"],"foldedConnections":0,"droppedBatches":0}"#
        #expect(throws: MeshError.self, "\(c.0)") { try TelemetryReport(bytes: Array(text.utf8)) }
        do { _ = try TelemetryReport(bytes: Array(text.utf8)) } catch { #expect(error.code == c.2, "\(c.0): \(error)") }
    }

    @Test func reportHeaderIsStrict() {
        for (text, code) in [
            (#"{"source":"spiffe://mesh.local/ns/shop/sa/cart","instance":"UPPER","seq":1,"policyVersion":0,"windowStart":1,"windowEnd":1,"edges":[],"foldedConnections":0,"droppedBatches":0}"#, "api.bad-value"),
            (#"{"source":"spiffe://mesh.local/ns/shop/sa/cart","instance":"a","seq":0,"policyVersion":0,"windowStart":1,"windowEnd":1,"edges":[],"foldedConnections":0,"droppedBatches":0}"#, "api.out-of-range"),
            (#"{"source":"spiffe://mesh.local/ns/shop/sa/cart","instance":"a","seq":1,"policyVersion":0,"windowStart":5,"windowEnd":4,"edges":[],"foldedConnections":0,"droppedBatches":0}"#, "api.out-of-range"),
            (#"{"source":"http://x","instance":"a","seq":1,"policyVersion":0,"windowStart":1,"windowEnd":1,"edges":[],"foldedConnections":0,"droppedBatches":0}"#, "spiffe.bad-scheme"),
        ] {
            do {
                _ = try TelemetryReport(bytes: Array(text.utf8))
                Issue.record("accepted: \(text)")
            } catch { #expect(error.code == code, "\(text): \(error)") }
        }
    }
}
