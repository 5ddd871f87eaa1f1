import MeshAPI
import MeshCore

/// Incremental evaluation of alert rules: fed each telemetry report as it is ingested (`observe`) and ticked
/// once a second (`tick`) for the time-based kinds; never a scan of history. State is bounded (`Limits`):
/// callers tracked, edges learned, resolved alerts kept. Time is passed in (seconds), so tests control it.
public struct AlertEvaluator: Sendable {
    public struct Limits: Sendable {
        /// Caller identities with window state (default 20,000). When full, those idle longest are dropped.
        public var maxTrackedIdentities = 20_000
        /// Edges remembered for `new-edge` (default 100,000); once full, new edges are counted, not learned or alerted.
        public var maxKnownEdges = 100_000
        /// Resolved alerts kept for `GET /v1/alerts` (default 1,000).
        public var maxRecentResolved = 1_000
        /// Pending and firing alerts at most (default 10,000); beyond, new ones are counted in `suppressed`, not opened.
        public var maxActiveAlerts = 10_000
        /// A reporting identity silent this long (default 1 day) is forgotten (its stale alert resolves).
        public var forgetAfter = 86_400
        public init() {}
    }

    /// Refusals that are the mesh's own answer to an alert (a quarantined identity cut off, a throttled caller
    /// above its rate) are not evidence of a new one: counting them would escalate a throttle into a quarantine,
    /// or add a cut connection to the probing evidence.
    public static let responseReasons: Set<String> = ["identity-quarantined", "rate-limited"]

    public private(set) var rules: [AlertRule]
    var trustPrefix: String?
    var declared: Set<String>
    let limits: Limits
    let quarantine: QuarantineAction?
    let throttle: ThrottleAction?
    var started: Int?
    var callers: [String: CallerTrack] = [:]
    var sources: [String: SourceTrack] = [:]
    var knownEdges: Set<String> = []
    /// Pending and firing alerts by key.
    public internal(set) var active: [String: Alert] = [:]
    /// Resolved alerts, oldest first, at most `maxRecentResolved`.
    public internal(set) var recent: [Alert] = []
    public internal(set) var edgesNotLearned = 0
    /// Alerts not opened because `maxActiveAlerts` were open.
    public internal(set) var suppressed = 0
    var nextID = 1
    /// The longest window of any rule: how long caller state is kept.
    var retain = AlertRule.defaultWindow

    public init(rules: [AlertRule] = [], trustDomain: String? = nil, declared: Set<String> = [], limits: Limits = Limits(),
                quarantine: QuarantineAction? = nil, throttle: ThrottleAction? = nil) {
        self.rules = []
        self.declared = []
        self.limits = limits
        self.quarantine = quarantine
        self.throttle = throttle
        configure(rules: rules, trustDomain: trustDomain, declared: declared)
    }

    /// A new rule set (an applied mesh): alerts of rules no longer present resolve at the next tick.
    public mutating func configure(rules: [AlertRule], trustDomain: String?, declared: Set<String>) {
        self.rules = rules
        trustPrefix = trustDomain.map { "spiffe://\($0)/" }
        self.declared = declared
        retain = max(1, rules.filter { $0.kind == .denySpike || $0.kind == .probing }.map(\.effectiveWindow).max() ?? AlertRule.defaultWindow)
    }

    public var trackedIdentities: Int { callers.count }
    public var firing: [Alert] { active.values.filter { $0.state == .firing }.sorted { $0.id < $1.id } }

    // MARK: feeding

    /// One ingested report. Cost: one dictionary update per refused edge, one set lookup per edge, and the
    /// windowed rules re-checked for the callers it touched.
    public mutating func observe(_ report: TelemetryReport, now: Int) -> [AlertTransition] {
        if started == nil { started = now }
        let source = report.source.description
        var track = sources[source] ?? SourceTrack(lastReport: now, policyVersion: report.policyVersion)
        track.lastReport = now
        track.policyVersion = report.policyVersion
        sources[source] = track
        var out: [AlertTransition] = []
        var touched: Set<String> = []
        let learning = rules.contains { $0.kind == .newEdge }
        let unknownRules = rules.filter { $0.kind == .unknownIdentity }
        for edge in report.edges {
            let caller = edge.key.caller
            guard caller.hasPrefix("spiffe://") else { continue }  // unauthenticated, (overflow)
            let target = "\(edge.key.destination):\(edge.key.port)"
            if !edge.key.allowed, edge.counts.connections > 0, !Self.responseReasons.contains(edge.key.reason) {
                if callers[caller] == nil { makeRoom(now: now) }
                callers[caller, default: CallerTrack(now: now)].refuse(edge.counts.connections, target: target, now: now, retain: retain)
                touched.insert(caller)
            }
            if learning { out += newEdge(caller: caller, target: target, now: now) }
            if !unknownRules.isEmpty, let prefix = trustPrefix, caller.hasPrefix(prefix), !declared.contains(caller),
               !Self.isSystem(caller) {
                for rule in unknownRules {
                    out += sighting(rule, subject: caller, key: "\(rule.name)|\(caller)", now: now,
                                    evidence: AlertEvidence(count: 1, destinations: [target], firstSeen: now, lastSeen: now,
                                                            detail: "not a declared service"))
                }
            }
        }
        for caller in touched.sorted() {
            for rule in rules where rule.kind == .denySpike || rule.kind == .probing {
                if let evidence = windowed(rule, caller, now: now) {
                    out += hold(rule, subject: caller, key: "\(rule.name)|\(caller)", now: now, evidence: evidence)
                }
            }
        }
        return out
    }

    /// The control plane's clone detection raised `clone-suspected` for `identity`.
    public mutating func cloneSuspected(identity: String, detail: String, now: Int) -> [AlertTransition] {
        var out: [AlertTransition] = []
        for rule in rules where rule.kind == .cloneSuspected {
            out += sighting(rule, subject: identity, key: "\(rule.name)|\(identity)", now: now,
                            evidence: AlertEvidence(count: 1, firstSeen: now, lastSeen: now, detail: detail))
        }
        return out
    }

    /// Once a second: level kinds, pending alerts whose `for` has passed, resolutions, forgetting.
    public mutating func tick(now: Int, facts: AlertFacts) -> [AlertTransition] {
        if started == nil { started = now }
        var out: [AlertTransition] = []
        let byName = Dictionary(rules.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let levelRules = rules.filter { [.sidecarStale, .policyOutOfSync, .certificateExpiring].contains($0.kind) }
        // Rebuilt in one pass (assigning into a dictionary while iterating it would copy it per entry).
        let forget = limits.forgetAfter
        sources = sources.filter { now - $0.value.lastReport < forget }.mapValues { track in
            var t = track
            t.behindSince = t.policyVersion > 0 && t.policyVersion < facts.appliedPolicyVersion ? t.behindSince ?? now : nil
            return t
        }
        for (source, track) in sources where !levelRules.isEmpty {
            for rule in levelRules {
                if let evidence = level(rule, source, track, now: now, facts: facts) {
                    out += hold(rule, subject: source, key: "\(rule.name)|\(source)", now: now, evidence: evidence)
                }
            }
        }
        for (key, alert) in active.sorted(by: { $0.value.id < $1.value.id }) {
            guard let rule = byName[alert.rule], rule.kind == alert.kind else {
                out += resolve(key, now: now)
                continue
            }
            if rule.kind == .denySpike || rule.kind == .probing, let evidence = windowed(rule, alert.subject, now: now) {
                out += hold(rule, subject: alert.subject, key: key, now: now, evidence: evidence)
            }
            guard let current = active[key] else { continue }
            if current.state == .pending {
                if current.lastTrue < now, !rule.kind.isEvent { active[key] = nil }  // fell false before `for` passed
                else if now - current.since >= rule.forSeconds { out += fire(key, rule) }
            } else if current.lastTrue < now {
                let falseSince = rule.kind.isEvent ? current.lastTrue : current.falseSince ?? now
                active[key]?.falseSince = falseSince
                if now - falseSince >= rule.effectiveResolveAfter { out += resolve(key, now: now) }
            }
        }
        let retain = self.retain
        callers = callers.compactMapValues { track in
            var t = track
            t.expire(now: now, retain: retain)
            return t.refusals.isEmpty && t.targets.isEmpty ? nil : t
        }
        return out
    }

    static func isSystem(_ identity: String) -> Bool { identity.contains("/ns/mesh-system/") }
}
