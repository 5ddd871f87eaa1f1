import MeshCore

/// A quarantine entry as the API and the alert engine see it.
public typealias QuarantineEntry = IdentityRecords.Quarantine

/// Quarantine: the highest-priority enforced deny of an identity, by an operator or an alert rule. It rides the
/// deny list (`RevocationList.quarantined`), so every parked slice poll is answered at once and every sidecar
/// closes the identity's live connections, both directions; the control plane refuses its renewals, slice polls
/// and reports. Durable with the identity records, audited, never for `mesh-system`; automatic ones are rate
/// limited mesh-wide so a misfiring rule cannot take the mesh down.
extension ControlPlane {
    /// Most quarantines kept at once (default 10 000).
    public static let maxQuarantines = 10_000

    /// Quarantines `identity` until `until` (seconds since the epoch; nil: until released). Quarantining an
    /// identity already quarantined replaces its entry (new reason, new expiry). Order: validate → (automatic:
    /// rate limit) → compare-and-set (durable) → audit (undone if it fails) → swap → every poll answered.
    @discardableResult
    public func quarantine(identity: SPIFFEID, reason: String, until: Double?, actor: String, automatic: Bool) throws -> QuarantineEntry {
        guard identity.isWorkload, identity.trustDomain == ca.trustDomain else {
            throw MeshError(.quarantineBadRequest, "\(identity) is not a workload identity of trust domain \(ca.trustDomain)")
        }
        let parts = identity.path.split(separator: "/")
        guard !(parts.count >= 2 && parts[0] == "ns" && parts[1] == Self.systemNamespace) else {
            throw MeshError(.quarantineSystemIdentity, "\(identity) is in \(Self.systemNamespace), the control plane's own namespace: never quarantined")
        }
        guard reason.utf8.count <= 1024 else { throw MeshError(.quarantineBadRequest, "the reason is longer than 1024 bytes") }
        return try issuing.withLock { _ throws -> QuarantineEntry in
            let now = now()
            if let until, !(until > now) { throw MeshError(.quarantineBadRequest, "the quarantine would end before it starts") }
            if automatic { try admitAutomatic(identity, reason: reason, now: now) }
            let base = identityRecords
            let entry = QuarantineEntry(identity: identity, reason: reason, since: now, until: until, actor: actor, automatic: automatic)
            var next = base
            next.quarantines = base.quarantines.filter { $0.identity != identity } + [entry]
            guard next.quarantines.count <= Self.maxQuarantines else {
                throw MeshError(.quarantineListFull, "the quarantine list holds \(Self.maxQuarantines) entries")
            }
            next.revision += 1
            next.revocationRevision += 1
            try commitIdentities(next, over: base) {
                try audit.record(time: now, actor: actor, action: "identity.quarantine", [
                    ("identity", .string(identity.description)), ("reason", .string(reason)),
                    ("until", until.map { .int(Int($0)) } ?? .null), ("automatic", .bool(automatic)),
                    ("revision", .int(next.revocationRevision)),
                ])
            }
            return entry
        }
    }

    /// Lifts the quarantine of `identity` (`quarantine.not-found` when there is none).
    @discardableResult
    public func release(identity: SPIFFEID, actor: String) throws -> QuarantineEntry {
        try issuing.withLock { _ throws -> QuarantineEntry in
            guard let entry = identityRecords.quarantines.first(where: { $0.identity == identity }) else {
                throw MeshError(.quarantineNotFound, "\(identity) is not quarantined")
            }
            try dropQuarantines([entry], actor: actor, why: "released")
            return entry
        }
    }

    /// The quarantines in force at `now`, oldest first.
    public func quarantines(now: Double) -> [QuarantineEntry] {
        identityRecords.quarantines.filter { $0.until.map { $0 > now } ?? true }.sorted { $0.since < $1.since }
    }

    /// Drops the quarantines whose `until` has come (the server's tick, once a second): the deny list changes and
    /// every parked poll is answered. True when something was dropped.
    @discardableResult
    public func expireQuarantines() throws -> Bool {
        guard isLeader else { return false }  // the leader alone expires (over etcd)
        return try issuing.withLock { _ throws -> Bool in
            let now = now()
            let due = identityRecords.quarantines.filter { $0.until.map { $0 <= now } ?? false }
            guard !due.isEmpty else { return false }
            try dropQuarantines(due, actor: "mesh-control", why: "expired")
            return true
        }
    }

    /// A quarantined caller is refused (`identity.quarantined`, 403): renewals, slice polls, status and reports.
    func refuseIfQuarantined(_ id: SPIFFEID, now: Double) throws {
        let quarantines = identityState.withLock { $0.quarantines }  // not a copy of every record (see `denyList`)
        guard !quarantines.isEmpty,
              let q = quarantines.first(where: { $0.identity == id }), q.until.map({ $0 > now }) ?? true else { return }
        throw MeshError(.identityQuarantined, "\(id) is quarantined (\(q.reason.isEmpty ? "no reason given" : q.reason))")
    }

    /// Removes `entries` and audits one `identity.release` each. Called holding `issuing`.
    private func dropQuarantines(_ entries: [QuarantineEntry], actor: String, why: String) throws {
        let now = now()
        let base = identityRecords
        let gone = Set(entries.map(\.identity))
        var next = base
        next.quarantines = base.quarantines.filter { !gone.contains($0.identity) }
        next.revision += 1
        next.revocationRevision += 1
        try commitIdentities(next, over: base) {
            for e in entries {
                try audit.record(time: now, actor: actor, action: "identity.release", [
                    ("identity", .string(e.identity.description)), ("why", .string(why)), ("quarantinedSince", .int(Int(e.since))),
                    ("revision", .int(next.revocationRevision)),
                ])
            }
        }
    }

    /// At most `maxAutomaticQuarantines` per `automaticQuarantineWindow` mesh-wide; beyond it refused, raised as
    /// a security event (the alert engine surfaces it) and audited.
    private func admitAutomatic(_ identity: SPIFFEID, reason: String, now: Double) throws {
        let limit = settings.maxAutomaticQuarantines, window = settings.automaticQuarantineWindow
        let admitted = automaticQuarantineTimes.withLock { times -> Bool in
            times = times.filter { now - $0 < window }
            guard times.count < limit else { return false }
            times.append(now)
            return true
        }
        guard !admitted else { return }
        security.raise("quarantine-rate-limited", [("identity", identity.description), ("reason", reason)])
        try? audit.record(time: now, actor: "mesh-control", action: "security.quarantine-rate-limited", [
            ("identity", .string(identity.description)), ("reason", .string(reason)),
        ])
        throw MeshError(.quarantineRateLimited, "\(limit) automatic quarantines in the last \(Int(window)) s: \(identity) is not quarantined")
    }
}
