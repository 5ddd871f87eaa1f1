import MeshCore

/// Risk-adaptive limits: the operator (or the alert engine, `action: throttle`) tightens the rate of new
/// connections an identity may open at every receiving sidecar. Durable with the identity records, audited,
/// carried with the deny list (same revision, so every parked slice poll is answered at once) and dropped by
/// the server's tick when it expires.
extension ControlPlane {
    /// Most throttles in force at once (default 10,000).
    public static let maxThrottles = 10_000

    /// The throttles in force, by identity.
    public var throttles: [SPIFFEID: IdentityRecords.Throttle] { identityRecords.throttles }

    /// Throttles `identity` to `perSecond` new connections per second (burst `max(1, perSecond)`) at every
    /// receiving sidecar, until `until` (seconds since the epoch; nil: until released). Replaces an earlier
    /// throttle of the same identity. Never a `mesh-system` identity. Codes `throttle.bad-request`,
    /// `throttle.list-full`.
    public func throttle(identity: SPIFFEID, perSecond: Double, until: Double?, actor: String) throws {
        let limit = RateLimit(connectionsPerSecond: perSecond)
        guard limit.problem == nil else {
            throw MeshError(.throttleBadRequest, "perSecond must be > 0 and at most \(Int(RateLimit.maxPerSecond))")
        }
        guard identity.isWorkload, identity.trustDomain == ca.trustDomain else {
            throw MeshError(.throttleBadRequest, "\(identity) is not a workload of trust domain \(ca.trustDomain)")
        }
        // The mesh's own identities are never limited: a misfiring rule must not starve the control plane.
        guard !identity.path.hasPrefix("/ns/\(Self.systemNamespace)/") else {
            throw MeshError(.throttleBadRequest, "\(identity) is in the reserved namespace \(Self.systemNamespace)")
        }
        guard actor.utf8.count <= 256 else { throw MeshError(.throttleBadRequest, "the actor is longer than 256 bytes") }
        try issuing.withLock { _ throws in
            let now = now()
            if let until, !(until > now) { throw MeshError(.throttleBadRequest, "until must be in the future") }
            let base = identityRecords
            var next = base
            next.throttles = base.throttles.filter { $0.value.until.map { $0 > now } ?? true }
            // Whole seconds, rounded up, as the file and the slices carry them.
            next.throttles[identity] = .init(limit: limit, since: now, until: until?.rounded(.up), actor: actor)
            guard next.throttles.count <= Self.maxThrottles else {
                throw MeshError(.throttleListFull, "the throttle list holds \(Self.maxThrottles) entries")
            }
            next.revision += 1
            next.revocationRevision += 1
            try commitIdentities(next, over: base) {
                try audit.record(time: now, actor: actor, action: "identity.throttle", [
                    ("identity", .string(identity.description)), ("perSecond", .string(ThrottleList.text(perSecond))),
                    ("until", .optional(until.map { UTCTime.iso8601($0) })), ("revision", .int(next.revocationRevision)),
                ])
            }
        }
    }

    /// Lifts the throttle on `identity`. Code `throttle.not-found` when it has none.
    public func unthrottle(identity: SPIFFEID, actor: String) throws {
        try issuing.withLock { _ throws in
            let now = now()
            let base = identityRecords
            guard base.throttles[identity] != nil else { throw MeshError(.throttleNotFound, "\(identity) is not throttled") }
            var next = base
            next.throttles[identity] = nil
            next.revision += 1
            next.revocationRevision += 1
            try commitIdentities(next, over: base) {
                try audit.record(time: now, actor: actor, action: "identity.unthrottle", [
                    ("identity", .string(identity.description)), ("revision", .int(next.revocationRevision)),
                ])
            }
        }
    }

    /// Drops expired throttles (the server's tick, once a second): written, audited as `mesh-control`, and
    /// handed to the sidecars. Nothing expired: nothing written. Sidecars already ignore an expired entry.
    public func expireThrottles() throws {
        guard isLeader else { return }  // the leader alone expires (over etcd)
        let now = now()
        guard identityRecords.throttles.values.contains(where: { $0.until.map { $0 <= now } ?? false }) else { return }
        try issuing.withLock { _ throws in
            let base = identityRecords
            let expired = base.throttles.filter { $0.value.until.map { $0 <= now } ?? false }.keys
            guard !expired.isEmpty else { return }
            var next = base
            for id in expired { next.throttles[id] = nil }
            next.revision += 1
            next.revocationRevision += 1
            try commitIdentities(next, over: base) {
                try audit.record(time: now, actor: "mesh-control", action: "identity.throttle-expired", [
                    ("identities", .string(expired.map(\.description).sorted().joined(separator: ","))),
                    ("revision", .int(next.revocationRevision)),
                ])
            }
        }
    }
}
