import Dispatch
import Synchronization
import MeshAlerts
import MeshAPI
import MeshCore
import MeshObservability

/// The control plane's alert engine: fed every counted telemetry report and clone-suspected event, ticked
/// once a second, configured from the applied mesh. Evaluation runs on its own serial queue, so ingestion only
/// pays an enqueue; the queue is bounded (`maxQueued` reports waiting; beyond, reports skip evaluation and are
/// counted in `mesh_alerts_skipped_reports_total`). Transitions go to `transitions` (log line, webhook).
public final class AlertService: Sendable {
    /// Reports waiting for evaluation at most (default 10,000: half a minute of 10,000 sidecars at 20 s).
    public static let maxQueued = 10_000

    struct State {
        var evaluator: AlertEvaluator
        /// Alerts fired, by "rule\u{0}severity" (a counter: never goes down).
        var fired: [String: Int] = [:]
    }

    private let state: Mutex<State>
    private let queued = Mutex<(waiting: Int, skipped: Int)>((0, 0))
    let queue = DispatchQueue(label: "mesh-control.alerts")
    let now: @Sendable () -> Double
    /// Told each transition to firing or resolved, on the alert queue.
    public let transitions = ChangeObservers<AlertTransition>()

    init(now: @escaping @Sendable () -> Double, limits: AlertEvaluator.Limits = AlertEvaluator.Limits(), quarantine: @escaping QuarantineAction,
         throttle: ThrottleAction? = nil) {
        self.now = now
        state = Mutex(State(evaluator: AlertEvaluator(limits: limits, quarantine: quarantine, throttle: throttle)))
    }

    /// A new applied mesh: its alert rules, trust domain and declared service identities.
    func configure(_ snapshot: PolicySnapshot) {
        let policy = snapshot.policy
        let rules = policy?.alerts ?? []
        let declared = Set(policy?.services.map(\.identity.description) ?? [])
        let domain = policy?.trustDomain.name
        queue.async { [self] in state.withLock { $0.evaluator.configure(rules: rules, trustDomain: domain, declared: declared) } }
    }

    /// From ingestion (any thread): queued for evaluation, or counted as skipped when the queue is full.
    func enqueue(_ report: TelemetryReport) {
        let admitted = queued.withLock { q -> Bool in
            guard q.waiting < Self.maxQueued else { q.skipped += 1; return false }
            q.waiting += 1
            return true
        }
        guard admitted else { return }
        queue.async { [self] in
            queued.withLock { $0.waiting -= 1 }
            let t = Int(now())
            publish(state.withLock { $0.evaluator.observe(report, now: t) })
        }
    }

    func cloneSuspected(identity: String, detail: String) {
        queue.async { [self] in
            let t = Int(now())
            publish(state.withLock { $0.evaluator.cloneSuspected(identity: identity, detail: detail, now: t) })
        }
    }

    /// Once a second from the server's tick; `facts` is read on the alert queue (never on the event loop).
    func tick(facts: @escaping @Sendable (_ certificates: Bool) -> AlertFacts) {
        queue.async { [self] in
            let t = Int(now())
            let f = facts(state.withLock { $0.evaluator.rules.contains { $0.kind == .certificateExpiring } })
            publish(state.withLock { $0.evaluator.tick(now: t, facts: f) })
        }
    }

    private func publish(_ list: [AlertTransition]) {
        guard !list.isEmpty else { return }
        state.withLock { s in
            for tr in list where tr.to == .firing { s.fired["\(tr.alert.rule)\u{0}\(tr.alert.severity.rawValue)", default: 0] += 1 }
        }
        for tr in list { transitions.notify(tr) }
    }

    private let webhook = Mutex<(hook: AlertWebhook?, subscription: Subscription?)>((nil, nil))

    /// Every transition from now on is POSTed to `hook` (`--alert-webhook`); its counts join `/metrics`.
    public func deliver(to hook: AlertWebhook) {
        let subscription = transitions.subscribe { hook.send($0) }
        webhook.withLock { $0 = (hook, subscription) }
    }

    /// Waits until every report and tick queued so far has been evaluated (tests, shutdown).
    public func drain() { queue.sync {} }

    // MARK: reading

    /// Pending and firing alerts (oldest first), then, with `recent`, the resolved ones kept (newest first).
    public func alerts(recent: Bool) -> [Alert] {
        state.withLock { s in
            let open = s.evaluator.active.values.sorted { $0.id < $1.id }
            return recent ? open + s.evaluator.recent.reversed() : open
        }
    }

    /// `mesh_alerts_firing{rule,severity}`, `mesh_alerts_total{rule,severity}`, tracked identities, skipped reports.
    var metricFamilies: [MetricFamily] {
        let (rules, firing, fired, tracked) = state.withLock { s in
            (s.evaluator.rules, s.evaluator.firing, s.fired, s.evaluator.trackedIdentities)
        }
        let skipped = queued.withLock { $0.skipped }
        func sample(_ rule: String, _ severity: String, _ n: Int) -> MetricSample {
            var m = MetricSample(.int(n))
            m.labels = [MetricLabel("rule", rule), MetricLabel("severity", severity)]
            return m
        }
        var keys = Set(rules.map { "\($0.name)\u{0}\($0.severity.rawValue)" }).union(fired.keys)
        keys.formUnion(firing.map { "\($0.rule)\u{0}\($0.severity.rawValue)" })
        let sorted = keys.sorted()
        func split(_ k: String) -> (String, String) {
            let parts = k.split(separator: "\u{0}", omittingEmptySubsequences: false)
            return (String(parts[0]), String(parts.count > 1 ? parts[1] : ""))
        }
        let hook = webhook.withLock { $0.hook }
        var families: [MetricFamily] = []
        if let counts = hook?.counts {
            families.append(MetricFamily("mesh_alert_webhook_deliveries_total", .counter,
                                         help: "Webhook deliveries by result: delivered, retried (a failed attempt retried), failed (given up), dropped (queue full).", [
                MetricSample(["result": "delivered"], .int(counts.delivered)), MetricSample(["result": "retried"], .int(counts.retried)),
                MetricSample(["result": "failed"], .int(counts.failed)), MetricSample(["result": "dropped"], .int(counts.dropped)),
            ]))
        }
        return families + [
            MetricFamily("mesh_alerts_firing", .gauge, help: "Alerts firing now, by rule and severity.", sorted.map { k in
                let (r, s) = split(k)
                return sample(r, s, firing.filter { $0.rule == r && $0.severity.rawValue == s }.count)
            }),
            MetricFamily("mesh_alerts_total", .counter, help: "Alerts that fired since the control plane started, by rule and severity.",
                         sorted.map { k in let (r, s) = split(k); return sample(r, s, fired[k] ?? 0) }),
            MetricFamily("mesh_alerts_tracked_identities", .gauge, help: "Caller identities with alert window state (bounded).",
                         [MetricSample(.int(tracked))]),
            MetricFamily("mesh_alerts_skipped_reports_total", .counter, help: "Telemetry reports not evaluated because the alert queue was full.",
                         [MetricSample(.int(skipped))]),
        ]
    }
}
