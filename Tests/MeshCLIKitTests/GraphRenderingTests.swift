@testable import MeshCLIKit
import MeshAPI
import MeshCore
import Testing

/// `meshctl graph` output: table, Graphviz and JSON, exactly.
@Suite struct GraphRenderingTests {
    static let now = 1_800_000_000

    @Test func tableShowsEveryEdgeSortedWithUnitsAndRelativeTimes() {
        let text = GraphRendering.table(GraphFixture.answer(now: Self.now), now: Self.now, trustDomain: "mesh.local")
        #expect(text == """
        edges 2027-01-15T07:45:00Z … 2027-01-15T08:00:00Z (resolution 10 s): 5
        CALLER                                   DESTINATION         OBSERVER  VERDICT  RULE                REASON                SHADOW                  CONNS    BYTES →/←      HANDSHAKE p50/p99  DURATION p50/p99  FIRST    LAST
        shop/orders                              shop/ledger:8080    outbound  deny     default-deny        egress-not-allowed    allow orders-to-ledger  3        0 B/0 B        -/-                1ms/1ms           2m ago   5s ago
        shop/frontend                            shop/orders:8080    inbound   allow    frontend-to-orders  allowed               -                       12       1.5 KiB/300 B  1ms/10ms           500ms/500ms       15m ago  10s ago
        shop/frontend                            shop/orders:8080    outbound  allow    frontend-to-orders  allowed               -                       12       1.5 KiB/300 B  1ms/10ms           500ms/500ms       15m ago  10s ago
        spiffe://evil.local/ns/shop/sa/frontend  shop/payments:8080  inbound   deny     default-deny        foreign-trust-domain  -                       1        0 B/0 B        500µs/500µs        1ms/1ms           2h ago   2h ago
        unauthenticated                          shop/payments:8080  inbound   deny     default-deny        handshake-failed      -                       2000000  4.7 GiB/0 B    10s/10s            1h/1h             1d ago   59s ago
        """)
    }

    @Test func anEmptyGraphSaysSo() {
        let text = GraphRendering.table(GraphAnswer(from: 1_799_999_940, to: Self.now, resolutionSeconds: 10, edges: []),
                                        now: Self.now, trustDomain: nil)
        #expect(text == "edges 2027-01-15T07:59:00Z … 2027-01-15T08:00:00Z (resolution 10 s): 0\n(no edges)")
    }

    @Test func dotIsADeterministicDigraph() {
        let answer = GraphFixture.answer(now: Self.now)
        let text = GraphRendering.dot(answer, trustDomain: "mesh.local")
        #expect(text == #"""
        digraph mesh {
          rankdir=LR;
          node [shape=box];
          "shop/frontend";
          "shop/ledger";
          "shop/orders";
          "shop/payments";
          "spiffe://evil.local/ns/shop/sa/frontend";
          "unauthenticated";
          "shop/orders" -> "shop/ledger" [label="8080: 3 conn\ndeny default-deny (egress-not-allowed)\naudit: allow orders-to-ledger", color="red", style="dotted"];
          "shop/frontend" -> "shop/orders" [label="8080: 12 conn\nallow frontend-to-orders", color="black", style="solid"];
          "spiffe://evil.local/ns/shop/sa/frontend" -> "shop/payments" [label="8080: 1 conn\ndeny default-deny (foreign-trust-domain)", color="red", style="dashed"];
          "unauthenticated" -> "shop/payments" [label="8080: 2000000 conn\ndeny default-deny (handshake-failed)", color="red", style="dashed"];
        }
        """#)
        var shuffled = answer
        shuffled.edges.reverse()
        #expect(GraphRendering.dot(shuffled, trustDomain: "mesh.local") == text)
    }

    @Test func dotEscapesQuotesAndBackslashes() {
        #expect(GraphRendering.quote(#"a"b\c"#, "line\nbreak") == #""a\"b\\c\nline break""#)
    }

    @Test func jsonIsTheAnswerItself() throws {
        let answer = GraphFixture.answer(now: Self.now)
        let text = TelemetryCommands.render(answer, .json, now: Self.now, trustDomain: "mesh.local")
        #expect(text == answer.json.text)
        #expect(try GraphAnswer(json: try StrictJSON.parse(Array(text.utf8), limits: GraphAnswer.limits)) == answer)
    }

    @Test func unitsAndAges() {
        #expect([0, 1023, 1024, 1536, 1 << 20, 5 << 30, 3 << 40].map(GraphRendering.bytes)
                == ["0 B", "1023 B", "1 KiB", "1.5 KiB", "1 MiB", "5 GiB", "3072 GiB"])
        #expect([nil, 500, 1_000, 2_500, 1_000_000, 2_500_000, 60_000_000, 900_000_000, 3_600_000_000].map(GraphRendering.micros)
                == ["-", "500µs", "1ms", "2.5ms", "1s", "2.5s", "1m", "15m", "1h"])
        #expect([Self.now + 5, Self.now, Self.now - 59, Self.now - 60, Self.now - 3599, Self.now - 3600, Self.now - 86_400]
                    .map { GraphRendering.ago($0, now: Self.now) }
                == ["0s ago", "0s ago", "59s ago", "1m ago", "59m ago", "1h ago", "1d ago"])
    }

    @Test func callersOfTheMeshTrustDomainShowAsServices() {
        #expect(GraphRendering.caller("spiffe://mesh.local/ns/shop/sa/frontend", "mesh.local") == "shop/frontend")
        #expect(GraphRendering.caller("spiffe://mesh.local/ns/shop/sa/frontend", nil) == "spiffe://mesh.local/ns/shop/sa/frontend")
        #expect(GraphRendering.caller("spiffe://other.local/ns/shop/sa/frontend", "mesh.local") == "spiffe://other.local/ns/shop/sa/frontend")
        #expect(GraphRendering.caller("spiffe://mesh.local/ns/shop/sa/frontend/x", "mesh.local") == "spiffe://mesh.local/ns/shop/sa/frontend/x")
        #expect(GraphRendering.caller("spiffe://mesh.local/batch/job", "mesh.local") == "spiffe://mesh.local/batch/job")
        #expect(GraphRendering.caller("(overflow)", "mesh.local") == "(overflow)")
    }
}
