import MeshCore

/// The state machine: a condition seen true opens a pending alert (or refreshes the one open for its key:
/// de-duplication); pending fires once true for the rule's `for`; firing resolves once false for `resolveAfter`.
/// A key that fires again after resolving is a new alert.
extension AlertEvaluator {
    /// The condition of `rule` holds for `subject` now, with this evidence.
    mutating func hold(_ rule: AlertRule, subject: String, key: String, now: Int, evidence: AlertEvidence) -> [AlertTransition] {
        if var alert = active[key] {
            alert.lastTrue = now
            alert.falseSince = nil
            var e = evidence
            e.firstSeen = min(alert.evidence.firstSeen, evidence.firstSeen)
            alert.evidence = e
            active[key] = alert
            return []
        }
        guard active.count < limits.maxActiveAlerts else { suppressed += 1; return [] }
        active[key] = Alert(id: nextID, rule: rule.name, kind: rule.kind, severity: rule.severity, subject: subject, key: key,
                            state: .pending, since: now, firedAt: nil, resolvedAt: nil, evidence: evidence, action: nil,
                            description: rule.description, lastTrue: now, falseSince: nil)
        nextID += 1
        return rule.forSeconds == 0 ? fire(key, rule) : []
    }

    /// An event kind seen once more: counts add up while the alert is open.
    mutating func sighting(_ rule: AlertRule, subject: String, key: String, now: Int, evidence: AlertEvidence) -> [AlertTransition] {
        var e = evidence
        if let open = active[key] {
            e.count += open.evidence.count
            e.destinations = Array((open.evidence.destinations + evidence.destinations.filter { !open.evidence.destinations.contains($0) })
                .prefix(AlertEvidence.maxDestinations))
        }
        return hold(rule, subject: subject, key: key, now: now, evidence: e)
    }

    mutating func fire(_ key: String, _ rule: AlertRule) -> [AlertTransition] {
        guard var alert = active[key] else { return [] }
        alert.state = .firing
        alert.firedAt = alert.lastTrue
        if rule.action != nil { alert.action = act(rule, alert) }
        active[key] = alert
        return [AlertTransition(alert: alert)]
    }

    /// Never a `mesh-system` identity, whatever the rule says; the closures decide the rest (rate limits …).
    func act(_ rule: AlertRule, _ alert: Alert) -> String {
        let verb = rule.action == .throttle ? "throttled" : "quarantined"
        guard let id = try? SPIFFEID(parsing: alert.subject) else { return "not \(verb): not a SPIFFE ID" }
        if Self.isSystem(alert.subject) { return "not \(verb): mesh-system identity" }
        if rule.action == .throttle {
            guard let throttle, let rate = rule.throttlePerSecond else { return "not throttled: no throttle wired" }
            switch throttle(id, rate, rule.throttleFor.map(Double.init), rule.name) {
            case .success:
                let text = "throttled to \(ThrottleList.text(rate))/s"
                return rule.throttleFor.map { "\(text) for \($0)s" } ?? "\(text) until released"
            case .failure(let e): return "throttle refused: \(e.errorCode.id): \(e.reason)"
            }
        }
        guard let quarantine else { return "not quarantined: no quarantine wired" }
        let reason = "alert \(rule.name) (\(rule.kind.rawValue)): \(alert.evidence.count) in evidence"
        switch quarantine(id, reason, rule.quarantineFor.map(Double.init), rule.name) {
        case .success: return rule.quarantineFor.map { "quarantined for \($0)s" } ?? "quarantined until released"
        case .failure(let e): return "quarantine refused: \(e.errorCode.id): \(e.reason)"
        }
    }

    mutating func resolve(_ key: String, now: Int) -> [AlertTransition] {
        guard var alert = active.removeValue(forKey: key) else { return [] }
        guard alert.state == .firing else { return [] }
        alert.state = .resolved
        alert.resolvedAt = now
        recent.append(alert)
        if recent.count > limits.maxRecentResolved { recent.removeFirst(recent.count - limits.maxRecentResolved) }
        return [AlertTransition(alert: alert)]
    }

    /// `deny-spike` / `probing` for one caller: evidence when the condition holds, nil otherwise.
    func windowed(_ rule: AlertRule, _ caller: String, now: Int) -> AlertEvidence? {
        guard let track = callers[caller] else { return nil }
        let window = rule.effectiveWindow
        let targets = track.targets(within: window, now: now)
        switch rule.kind {
        case .denySpike:
            let n = track.refusals(within: window, now: now)
            guard n > rule.threshold ?? Int.max else { return nil }
            return AlertEvidence(count: n, destinations: targets, firstSeen: track.firstSeen, lastSeen: track.lastSeen,
                                 detail: "\(n) refusals in \(window)s (threshold \(rule.threshold ?? 0))")
        case .probing:
            guard targets.count >= rule.distinct ?? Int.max else { return nil }
            return AlertEvidence(count: targets.count, destinations: targets, firstSeen: track.firstSeen, lastSeen: track.lastSeen,
                                 detail: "refused at \(targets.count) destinations in \(window)s")
        default: return nil
        }
    }

    /// `sidecar-stale`, `policy-out-of-sync`, `certificate-expiring` for one reporting identity.
    func level(_ rule: AlertRule, _ source: String, _ track: SourceTrack, now: Int, facts: AlertFacts) -> AlertEvidence? {
        switch rule.kind {
        case .sidecarStale:
            let after = rule.after ?? AlertRule.defaultStaleAfter
            guard now - track.lastReport >= after else { return nil }
            return AlertEvidence(count: now - track.lastReport, lastSeen: track.lastReport, detail: "no report for \(now - track.lastReport)s")
        case .policyOutOfSync:
            guard let since = track.behindSince, now - since >= rule.after ?? AlertRule.defaultAfter else { return nil }
            return AlertEvidence(count: facts.appliedPolicyVersion - track.policyVersion, firstSeen: since, lastSeen: track.lastReport,
                                 detail: "policy version \(track.policyVersion), applied \(facts.appliedPolicyVersion)")
        case .certificateExpiring:
            guard let notAfter = facts.certificateNotAfter[source], notAfter - now <= rule.within ?? AlertRule.defaultWithin else { return nil }
            return AlertEvidence(count: notAfter - now, lastSeen: track.lastReport, detail: "certificate expires at \(UTCTime.iso8601(Double(notAfter)))")
        default: return nil
        }
    }

    /// `new-edge`: learned silently during each rule's learning period, alerted after it.
    mutating func newEdge(caller: String, target: String, now: Int) -> [AlertTransition] {
        let edge = "\(caller) -> \(target)"
        guard !knownEdges.contains(edge) else { return [] }
        guard knownEdges.count < limits.maxKnownEdges else { edgesNotLearned += 1; return [] }
        knownEdges.insert(edge)
        var out: [AlertTransition] = []
        for rule in rules where rule.kind == .newEdge && now >= (started ?? now) + (rule.learningPeriod ?? AlertRule.defaultLearningPeriod) {
            out += sighting(rule, subject: caller, key: "\(rule.name)|\(edge)", now: now,
                            evidence: AlertEvidence(count: 1, destinations: [target], firstSeen: now, lastSeen: now, detail: "new edge \(edge)"))
        }
        return out
    }

    /// Before tracking one more caller at the cap: drop the idlest tenth (amortised: once per cap/10 new callers).
    mutating func makeRoom(now: Int) {
        guard callers.count >= limits.maxTrackedIdentities else { return }
        let drop = max(1, limits.maxTrackedIdentities / 10)
        let idlest = callers.sorted { $0.value.lastSeen < $1.value.lastSeen }.prefix(drop).map(\.key)
        for key in idlest { callers[key] = nil }
    }
}
