import MeshAlerts
import MeshAPI
import MeshCore
import Synchronization
import Testing

/// Each kind on a scripted pattern with an injected clock: it fires, is de-duplicated while it holds, and
/// resolves when the pattern stops.
@Suite struct AlertEvaluatorTests {
    let batch = A.id("batch")

    func evaluator(_ rules: [AlertRule], quarantine: QuarantineAction? = nil, throttle: ThrottleAction? = nil) -> AlertEvaluator {
        AlertEvaluator(rules: rules, trustDomain: "mesh.local", declared: [A.id("batch"), A.id("frontend"), A.id("orders")],
                       quarantine: quarantine, throttle: throttle)
    }

    /// `action: throttle` tightens instead of denying: the throttle is asked once, with the rule's rate and duration,
    /// and never for a mesh-system identity; no quarantine is asked.
    @Test func throttleActionAsksOnceWithTheRulesRate() {
        let q = A.Quarantines()
        let asked = Mutex<[(String, Double, Double?, String)]>([])
        let throttle: ThrottleAction = { id, rate, forSeconds, rule in
            asked.withLock { $0.append((id.description, rate, forSeconds, rule)) }
            return .success(())
        }
        let rule = AlertRule(name: "spiky", kind: .denySpike, severity: .warning, threshold: 3, window: 60, action: .throttle,
                             throttlePerSecond: 2, throttleFor: 600)
        var e = evaluator([rule], quarantine: q.action, throttle: throttle)
        let fired = e.observe(A.report(batch, [A.edge(batch, "shop/payments", n: 4)]), now: 100)
        #expect(fired.map(\.event) == ["alert-firing"])
        #expect(fired.first?.alert.action == "throttled to 2/s for 600s")
        #expect(e.observe(A.report(batch, [A.edge(batch, "shop/payments", n: 4)], seq: 2), now: 101).isEmpty)
        #expect(asked.withLock { $0.map(\.0) } == [batch] && asked.withLock { $0.first?.1 } == 2 && asked.withLock { $0.first?.2 } == 600)
        #expect(q.count == 0)
        let system = A.id("mesh-control", ns: "mesh-system")
        let refusedSystem = e.observe(A.report(system, [A.edge(system, "shop/payments", n: 4)]), now: 102)
        #expect(refusedSystem.first?.alert.action == "not throttled: mesh-system identity" && asked.withLock { $0.count } == 1)
    }

    @Test func probingFiresOnceQuarantinesOnceAndResolvesAfterTheWindow() {
        let q = A.Quarantines()
        let rule = AlertRule(name: "lateral", kind: .probing, severity: .critical, distinct: 2, window: 30, action: .quarantine, quarantineFor: 3600)
        var e = evaluator([rule], quarantine: q.action)
        #expect(e.observe(A.report(batch, [A.edge(batch, "shop/payments", port: 8080)]), now: 1000).isEmpty)
        let fired = e.observe(A.report(batch, [A.edge(batch, "shop/ledger", port: 9090)], seq: 2), now: 1005)
        #expect(fired.map(\.event) == ["alert-firing"])
        #expect(fired.first?.alert.evidence.destinations == ["shop/ledger:9090", "shop/payments:8080"])
        #expect(fired.first?.alert.action == "quarantined for 3600s")
        #expect(q.calls.withLock { $0.map(\.0) } == [batch] && q.calls.withLock { $0.first?.1 } == 3600)
        // Still probing: de-duplicated (no new transition, no second quarantine), evidence grows.
        #expect(e.observe(A.report(batch, [A.edge(batch, "shop/orders")], seq: 3), now: 1010).isEmpty)
        #expect(e.tick(now: 1011, facts: AlertFacts()).isEmpty)
        #expect(e.firing.count == 1 && e.firing.first?.evidence.count == 3 && q.count == 1)
        // Stops: the window (30 s) empties at 1040; resolved once false for resolveAfter (= window) more.
        #expect(e.tick(now: 1041, facts: AlertFacts()).isEmpty)
        #expect(e.tick(now: 1069, facts: AlertFacts()).isEmpty)
        let resolved = e.tick(now: 1071, facts: AlertFacts())
        #expect(resolved.map(\.event) == ["alert-resolved"] && resolved.first?.alert.resolvedAt == 1071)
        #expect(e.firing.isEmpty && e.recent.count == 1)
    }

    /// The mesh's own answers (a quarantine cutting a caller off, a throttle refusing it) are not new evidence.
    @Test func refusalsCausedByQuarantineOrThrottleAreNotEvidence() {
        var e = evaluator([AlertRule(name: "spike", kind: .denySpike, severity: .warning, threshold: 2, window: 60)])
        var edges: [TelemetryEdge] = []
        for reason in ["identity-quarantined", "rate-limited"] {
            var edge = A.edge(batch, "shop/payments", n: 5)
            edge.key.reason = reason
            edges.append(edge)
        }
        #expect(e.observe(A.report(batch, edges), now: 100).isEmpty)
        #expect(e.observe(A.report(batch, [A.edge(batch, "shop/payments", n: 3)], seq: 2), now: 101).map(\.event) == ["alert-firing"])
    }

    @Test func denySpikeFiresAboveTheThresholdOnly() {
        var e = evaluator([AlertRule(name: "spike", kind: .denySpike, severity: .warning, threshold: 10, window: 60)])
        #expect(e.observe(A.report(batch, [A.edge(batch, "shop/payments", n: 10)]), now: 100).isEmpty)
        let fired = e.observe(A.report(batch, [A.edge(batch, "shop/payments", n: 1)], seq: 2), now: 110)
        #expect(fired.map(\.event) == ["alert-firing"] && fired.first?.alert.evidence.count == 11)
        #expect(fired.first?.alert.action == nil)
        // Allowed connections never count.
        var quiet = evaluator([AlertRule(name: "spike", kind: .denySpike, severity: .warning, threshold: 10)])
        #expect(quiet.observe(A.report(batch, [A.edge(batch, "shop/payments", allowed: true, n: 500)]), now: 100).isEmpty)
        // The first 10 leave the window at 160: false from then, resolved at 160 + 60.
        #expect(e.tick(now: 159, facts: AlertFacts()).isEmpty)
        #expect(e.tick(now: 160, facts: AlertFacts()).isEmpty)
        #expect(e.tick(now: 219, facts: AlertFacts()).isEmpty)
        #expect(e.tick(now: 220, facts: AlertFacts()).map(\.event) == ["alert-resolved"])
    }

    @Test func pendingWaitsForFor() {
        var rule = AlertRule(name: "spike", kind: .denySpike, severity: .info, threshold: 1, window: 60)
        rule.forSeconds = 10
        var e = evaluator([rule])
        #expect(e.observe(A.report(batch, [A.edge(batch, "shop/orders", n: 5)]), now: 0).isEmpty)
        #expect(e.active.values.map(\.state) == [.pending])
        #expect(e.tick(now: 9, facts: AlertFacts()).isEmpty)
        #expect(e.tick(now: 10, facts: AlertFacts()).map(\.event) == ["alert-firing"])
    }

    @Test func meshSystemIsNeverQuarantined() {
        let q = A.Quarantines()
        var e = evaluator([AlertRule(name: "lateral", kind: .probing, severity: .critical, distinct: 2, action: .quarantine)], quarantine: q.action)
        let system = A.id("mesh-control", ns: "mesh-system")
        let fired = e.observe(A.report(system, [A.edge(system, "shop/a"), A.edge(system, "shop/b")]), now: 5)
        #expect(fired.first?.alert.action == "not quarantined: mesh-system identity" && q.count == 0)
    }

    @Test func newEdgeAfterTheLearningPeriod() {
        var e = evaluator([AlertRule(name: "new", kind: .newEdge, severity: .info, learningPeriod: 100)])
        let frontend = A.id("frontend")
        #expect(e.observe(A.report(frontend, [A.edge(frontend, "shop/orders", allowed: true)]), now: 0).isEmpty)
        #expect(e.observe(A.report(frontend, [A.edge(frontend, "shop/orders", allowed: true)], seq: 2), now: 150).isEmpty)
        let fired = e.observe(A.report(frontend, [A.edge(frontend, "shop/ledger", port: 9090, allowed: true)], seq: 3), now: 151)
        #expect(fired.map(\.alert.key) == ["new|\(frontend) -> shop/ledger:9090"])
        #expect(e.observe(A.report(frontend, [A.edge(frontend, "shop/ledger", port: 9090)], seq: 4), now: 152).isEmpty)
        #expect(e.tick(now: 450, facts: AlertFacts()).isEmpty)
        #expect(e.tick(now: 451, facts: AlertFacts()).map(\.event) == ["alert-resolved"])
    }

    @Test func unknownIdentityOfOurTrustDomainOnly() {
        var e = evaluator([AlertRule(name: "who", kind: .unknownIdentity, severity: .critical)])
        let orders = A.id("orders")
        let stranger = A.id("miner", ns: "tmp")
        let foreign = "spiffe://other.org/ns/x/sa/y"
        let fired = e.observe(A.report(orders, [A.edge(stranger, "shop/orders", observer: .inbound), A.edge(foreign, "shop/orders", observer: .inbound),
                                                A.edge(batch, "shop/orders", observer: .inbound)]), now: 10)
        #expect(fired.map(\.alert.subject) == [stranger])
        #expect(e.observe(A.report(orders, [A.edge(stranger, "shop/orders", observer: .inbound)], seq: 2), now: 20).isEmpty)
        #expect(e.firing.first?.evidence.count == 2)
    }

    @Test func sidecarStaleAndBackAgain() {
        var e = evaluator([AlertRule(name: "stale", kind: .sidecarStale, severity: .warning, after: 60)])
        _ = e.observe(A.report(batch, []), now: 0)
        #expect(e.tick(now: 59, facts: AlertFacts()).isEmpty)
        #expect(e.tick(now: 60, facts: AlertFacts()).map(\.event) == ["alert-firing"])
        #expect(e.tick(now: 61, facts: AlertFacts()).isEmpty)
        _ = e.observe(A.report(batch, [], seq: 2), now: 70)
        #expect(e.tick(now: 71, facts: AlertFacts()).map(\.event) == ["alert-resolved"])
    }

    @Test func policyOutOfSyncAfterTheGrace() {
        var e = evaluator([AlertRule(name: "sync", kind: .policyOutOfSync, severity: .warning, after: 30)])
        _ = e.observe(A.report(batch, [], version: 3), now: 0)
        #expect(e.tick(now: 1, facts: AlertFacts(appliedPolicyVersion: 3)).isEmpty)
        #expect(e.tick(now: 2, facts: AlertFacts(appliedPolicyVersion: 4)).isEmpty)
        let fired = e.tick(now: 32, facts: AlertFacts(appliedPolicyVersion: 4))
        #expect(fired.first?.alert.evidence.detail == "policy version 3, applied 4")
        _ = e.observe(A.report(batch, [], version: 4, seq: 2), now: 40)
        #expect(e.tick(now: 41, facts: AlertFacts(appliedPolicyVersion: 4)).map(\.event) == ["alert-resolved"])
    }

    @Test func certificateExpiringWithin() {
        var e = evaluator([AlertRule(name: "expiring", kind: .certificateExpiring, severity: .warning, within: 600)])
        _ = e.observe(A.report(batch, []), now: 0)
        #expect(e.tick(now: 1, facts: AlertFacts(certificateNotAfter: [batch: 1000])).isEmpty)
        #expect(e.tick(now: 400, facts: AlertFacts(certificateNotAfter: [batch: 1000])).map(\.event) == ["alert-firing"])
        #expect(e.tick(now: 401, facts: AlertFacts(certificateNotAfter: [batch: 5000])).map(\.event) == ["alert-resolved"])
    }

    @Test func cloneSuspectedFromTheSecurityEvent() {
        let q = A.Quarantines()
        var e = evaluator([AlertRule(name: "clone", kind: .cloneSuspected, severity: .critical, action: .quarantine)], quarantine: q.action)
        let fired = e.cloneSuspected(identity: batch, detail: "serial=ab latest=cd", now: 5)
        #expect(fired.first?.alert.action == "quarantined until released" && q.count == 1)
        #expect(e.cloneSuspected(identity: batch, detail: "serial=ab latest=cd", now: 6).isEmpty)
        #expect(e.tick(now: 306, facts: AlertFacts()).map(\.event) == ["alert-resolved"])
    }

    @Test func aRemovedRuleResolvesItsAlerts() {
        var e = evaluator([AlertRule(name: "spike", kind: .denySpike, severity: .info, threshold: 1)])
        _ = e.observe(A.report(batch, [A.edge(batch, "shop/orders", n: 5)]), now: 0)
        e.configure(rules: [], trustDomain: "mesh.local", declared: [])
        #expect(e.tick(now: 1, facts: AlertFacts()).map(\.event) == ["alert-resolved"])
    }

    @Test func stateStaysWithinTheCaps() {
        var limits = AlertEvaluator.Limits()
        limits.maxTrackedIdentities = 1_000
        limits.maxRecentResolved = 5
        var e = AlertEvaluator(rules: [AlertRule(name: "spike", kind: .denySpike, severity: .info, threshold: 1_000)], trustDomain: "mesh.local",
                               limits: limits)
        for i in 0..<10_000 {
            let caller = A.id("w\(i)")
            _ = e.observe(A.report(caller, [A.edge(caller, "shop/orders", n: 1)]), now: i / 100)
            #expect(e.trackedIdentities <= 1_000)
        }
        #expect(e.trackedIdentities > 800)
        _ = e.tick(now: 10_000, facts: AlertFacts())
        #expect(e.trackedIdentities == 0)
    }

    @Test func openAlertsAreCapped() {
        var limits = AlertEvaluator.Limits()
        limits.maxActiveAlerts = 10
        var e = AlertEvaluator(rules: [AlertRule(name: "spike", kind: .denySpike, severity: .info, threshold: 1)], trustDomain: "mesh.local",
                               limits: limits)
        for i in 0..<100 {
            let caller = A.id("w\(i)")
            _ = e.observe(A.report(caller, [A.edge(caller, "shop/orders", n: 2)]), now: 1)
        }
        #expect(e.active.count == 10 && e.suppressed == 90)
    }
}
