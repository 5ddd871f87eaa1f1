import MeshCore

/// What the control plane remembers about the identities it certified: the most recently issued certificate of
/// each (only that one may renew: an older one renewing is a copy of a key), and what the operator revoked.
public struct IdentityRecords: Sendable, Equatable {
    /// The certificate issued last to an identity.
    public struct Latest: Sendable, Equatable {
        public var serial: String
        public var notAfter: Double
        public init(serial: String, notAfter: Double) {
            self.serial = serial
            self.notAfter = notAfter
        }
    }

    /// One revocation: an identity (its certificates issued up to `revokedAt`) or one serial.
    public struct Revocation: Sendable, Equatable {
        public var identity: SPIFFEID?
        public var serial: String?
        public var revokedAt: Double
        public var reason: String
        public var actor: String
        /// After this, every certificate it refuses has expired beyond the renewal grace: it can be dropped.
        public var until: Double
        public init(identity: SPIFFEID?, serial: String?, revokedAt: Double, reason: String, actor: String, until: Double) {
            self.identity = identity
            self.serial = serial
            self.revokedAt = revokedAt
            self.reason = reason
            self.actor = actor
            self.until = until
        }
    }

    /// One quarantine: the identity is denied above every allow until released or `until` (nil: no expiry).
    public struct Quarantine: Sendable, Equatable {
        public var identity: SPIFFEID
        public var reason: String
        public var since: Double
        public var until: Double?
        public var actor: String
        /// True when an alert rule quarantined it (rate limited), false for an operator.
        public var automatic: Bool
        public init(identity: SPIFFEID, reason: String, since: Double, until: Double?, actor: String, automatic: Bool) {
            self.identity = identity
            self.reason = reason
            self.since = since
            self.until = until
            self.actor = actor
            self.automatic = automatic
        }
    }

    /// One throttle: a tighter rate of new connections for an identity at every receiving sidecar.
    public struct Throttle: Sendable, Equatable {
        public var limit: RateLimit
        public var since: Double
        /// nil: until released.
        public var until: Double?
        public var actor: String
        public init(limit: RateLimit, since: Double, until: Double?, actor: String) {
            self.limit = limit
            self.since = since
            self.until = until
            self.actor = actor
        }
    }

    /// Increases with every committed change (compare-and-set).
    public var revision: Int
    /// Increases only when `revocations`, `quarantines` or `throttles` change: the deny list's revision, which wakes the sidecars' polls.
    public var revocationRevision: Int
    public var latest: [SPIFFEID: Latest]
    public var revocations: [Revocation]
    /// One per identity; expired ones are dropped by the control plane's tick (the deny list changes then).
    public var quarantines: [Quarantine]
    /// Throttled identities (risk-adaptive limits), carried with the deny list.
    public var throttles: [SPIFFEID: Throttle] = [:]

    public init(revision: Int = 0, revocationRevision: Int = 0, latest: [SPIFFEID: Latest] = [:], revocations: [Revocation] = [],
                quarantines: [Quarantine] = []) {
        self.revision = revision
        self.revocationRevision = revocationRevision
        self.latest = latest
        self.revocations = revocations
        self.quarantines = quarantines
    }

    public static let empty = IdentityRecords()

    /// The deny list handed to sidecars with their slices.
    public var denyList: RevocationList {
        var list = RevocationList(revision: revocationRevision)
        for r in revocations {
            if let id = r.identity { list.identities[id] = max(list.identities[id] ?? 0, r.revokedAt) }
            if let s = r.serial { list.serials.insert(s) }
        }
        list.quarantined = Set(quarantines.map(\.identity))
        list.throttled = ThrottleList(identities: throttles.mapValues { .init(limit: $0.limit, until: $0.until) })
        return list
    }
}

/// Where identity records are kept (a file, or etcd shared by replicas).
///
/// Two parts with their own compare-and-set, so that renewing one identity never rewrites the records of all:
/// - the deny-list part (`revision`, `revocationRevision`, `revocations`, `quarantines`, `throttles`): small, rarely
///   changed, compared by `revision`;
/// - `latest`, one entry per identity, compared entry by entry (a renewal storm of 10,000 identities is 10,000
///   small independent writes, and two replicas renewing one identity at once cannot both win).
///
/// Contract:
/// - `load` returns the last committed records, both parts (`IdentityRecords.empty` when none).
/// - `compareAndSet` commits the deny-list part of `next` only if the stored `revision` is `expected`, else throws
///   `identities.conflict` and changes nothing; `next.latest` is ignored (the stored entries are kept). When it
///   returns, the change is durable.
/// - `setLatest` commits `latest` (nil: removes the entry) for `identity` only if the stored entry is still
///   `previous` (nil: none stored), else throws `identities.conflict` and changes nothing. Durable on return.
/// - `subscribe`: each committed deny-list change is told to every subscriber exactly once, after it is durable,
///   in commit order, with the records now stored (subscribers take the deny-list part from it).
/// - `subscribeLatest`: each committed `setLatest` is told (identity, entry now stored), after it is durable. A
///   failed compare-and-set tells nobody.
public protocol IdentityRepository: Sendable {
    func load() throws -> IdentityRecords
    func compareAndSet(expected: Int, _ next: IdentityRecords) throws
    func setLatest(_ identity: SPIFFEID, _ latest: IdentityRecords.Latest?, previous: IdentityRecords.Latest?) throws
    func subscribe(_ onChange: @escaping @Sendable (IdentityRecords) -> Void) -> Subscription
    func subscribeLatest(_ onChange: @escaping @Sendable (SPIFFEID, IdentityRecords.Latest?) -> Void) -> Subscription
}

extension IdentityRecords {
    /// `self` with the deny-list part of `other` (revisions, revocations, quarantines, throttles); `latest` kept.
    public func withDenyList(of other: IdentityRecords) -> IdentityRecords {
        var r = other
        r.latest = latest
        return r
    }
}
