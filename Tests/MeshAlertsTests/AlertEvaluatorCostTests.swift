import Dispatch
import MeshAlerts
import MeshAPI
import MeshCore
import Testing

/// The cost of `observe` per report with 10,000 tracked identities (printed; the bound asserted is loose, so a
/// slow shared machine does not fail it, but a per-report scan of the tracked set would).
@Suite struct AlertEvaluatorCostTests {
    @Test func observeCostWithTenThousandTrackedIdentities() {
        let rules = [AlertRule(name: "spike", kind: .denySpike, severity: .warning, threshold: 100, window: 60),
                     AlertRule(name: "lateral", kind: .probing, severity: .critical, distinct: 3, window: 60),
                     AlertRule(name: "new", kind: .newEdge, severity: .info, learningPeriod: 3600),
                     AlertRule(name: "who", kind: .unknownIdentity, severity: .critical)]
        let declared = Set((0..<10_000).map { A.id("w\($0)") })
        var e = AlertEvaluator(rules: rules, trustDomain: "mesh.local", declared: declared)
        // A report as a sidecar sends it: 10 edges, 2 refused, from one of 10,000 identities.
        let reports = (0..<10_000).map { i -> TelemetryReport in
            let me = A.id("w\(i)")
            var edges = (0..<8).map { j in A.edge(me, "shop/s\(j)", allowed: true, n: 3) }
            edges.append(A.edge(me, "shop/payments", n: 1))
            edges.append(A.edge(A.id("w\((i + 1) % 10_000)"), "shop/s\(i % 8)", n: 1, observer: .inbound))
            return A.report(me, edges)
        }
        for (i, r) in reports.enumerated() { _ = e.observe(r, now: i / 1_000) }
        #expect(e.trackedIdentities == 10_000 && e.active.isEmpty)
        let rounds = 3
        let start = DispatchTime.now().uptimeNanoseconds
        for round in 1...rounds {
            for (i, r) in reports.enumerated() { _ = e.observe(r, now: 10 + round * 10 + i / 1_000) }
        }
        let perReport = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(rounds * reports.count) / 1_000
        let tickStart = DispatchTime.now().uptimeNanoseconds
        _ = e.tick(now: 45, facts: AlertFacts())
        let tickMs = Double(DispatchTime.now().uptimeNanoseconds - tickStart) / 1e6
        print("alert observe: \((perReport * 10).rounded() / 10) µs per report (10 edges) with \(e.trackedIdentities) tracked identities; tick \((tickMs * 10).rounded() / 10) ms")
        #expect(perReport < 2_000)
    }
}
