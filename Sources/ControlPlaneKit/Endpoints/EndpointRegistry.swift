import Synchronization
import MeshCore

/// Where each service's sidecars listen: what they registered (`POST /v1/endpoints`), kept while they are heard
/// from. In memory only: after a control-plane restart slices carry no endpoints (sidecars fall back to the
/// services.json `address` or their static `upstream`) until each sidecar re-registers, which it does at its
/// next heartbeat (`EndpointRegistrar.heartbeatSeconds`, 15 s).
///
/// One lock; a registration, a removal and a poll's touch are O(endpoints of the caller); the expiry sweep
/// (once a second, `ControlServer`'s tick) is O(all endpoints). The `revision` moves with every change, and
/// each service remembers the revision of its last change, so a parked poll wakes only when a destination of
/// its own slice changed.
public final class EndpointRegistry: Sendable {
    /// Bounds, with their defaults.
    public struct Limits: Sendable {
        /// Endpoints of one service (default 1,000); beyond it `endpoint.limit`.
        public var maxPerService = 1_000
        /// Endpoints in all (default 50,000).
        public var maxTotal = 50_000
        /// An endpoint whose sidecar sent nothing (no poll, renewal, report or registration) for this long is
        /// dropped (default 90 s: three 30 s long polls, or six 15 s heartbeats).
        public var ttlSeconds: Double = 90
        public init() {}
    }

    /// One registered endpoint: a service port served at `address` by the sidecar whose certificate is `serial`.
    public struct Entry: Sendable, Equatable {
        public let service: ServiceKey
        public let port: Int
        public let address: HostPort
        public let identity: String
        public let serial: String
        public let registeredAt: Double
        public var lastSeen: Double
    }

    struct Key: Hashable, Sendable {
        let port: Int
        let address: HostPort
    }

    struct State: Sendable {
        var revision = 0
        var entries: [ServiceKey: [Key: Entry]] = [:]
        var changedAt: [ServiceKey: Int] = [:]
        var total = 0
        /// Certificate serial → entries registered under it, and when that sidecar was last heard from.
        var serials: [String: (count: Int, seen: Double)] = [:]
    }

    public let limits: Limits
    private let state = Mutex(State())

    /// `startRevision`: the control plane starts it at its start time in ms, so revisions keep increasing across
    /// restarts and a sidecar's revision from before a restart is never mistaken for a current one.
    public init(limits: Limits = Limits(), startRevision: Int = 0) {
        self.limits = limits
        state.withLock { $0.revision = startRevision }
    }

    /// Increases with every change of any service's endpoints.
    public var revision: Int { state.withLock { $0.revision } }

    /// Replaces the endpoints `serial` (a sidecar of `service`) registered by `endpoints`; returns whether
    /// anything changed. The addresses were checked by the caller (`EndpointAddressCheck`).
    @discardableResult
    public func register(service: ServiceKey, identity: String, serial: String, endpoints: [(port: Int, address: HostPort)],
                         now: Double) throws(MeshError) -> Bool {
        try state.withLock { s throws(MeshError) -> Bool in
            var mine = s.entries[service] ?? [:]
            let wanted = Set(endpoints.map { Key(port: $0.port, address: $0.address) })
            let added = wanted.filter { mine[$0] == nil }.count
            let stale = mine.filter { $0.value.serial == serial && !wanted.contains($0.key) }.map(\.key)
            let size = mine.count - stale.count + added
            if size > limits.maxPerService {
                throw MeshError(.endpointLimit, "\(service) would have \(size) endpoints (at most \(limits.maxPerService))")
            }
            if s.total - stale.count + added > limits.maxTotal {
                throw MeshError(.endpointLimit, "the mesh holds \(limits.maxTotal) endpoints, the most it keeps")
            }
            var changed = !stale.isEmpty || added > 0
            for k in stale {
                Self.drop(&s, mine.removeValue(forKey: k)!)
                s.total -= 1
            }
            for k in wanted {
                if let old = mine[k], old.serial == serial {
                    mine[k]!.lastSeen = now
                    continue
                }
                if let old = mine[k] { Self.drop(&s, old) } else { s.total += 1 }
                mine[k] = Entry(service: service, port: k.port, address: k.address, identity: identity, serial: serial,
                                registeredAt: now, lastSeen: now)
                s.serials[serial, default: (0, now)].count += 1
            }
            s.serials[serial]?.seen = now
            s.entries[service] = mine.isEmpty ? nil : mine
            if changed { Self.bump(&s, [service]) }
            return changed
        }
    }

    /// Removes `endpoints` of `service` (a clean shutdown), or every endpoint `serial` registered when nil.
    @discardableResult
    public func deregister(service: ServiceKey, serial: String, endpoints: [(port: Int, address: HostPort)]?) -> Bool {
        state.withLock { s -> Bool in
            guard var mine = s.entries[service] else { return false }
            let keys = endpoints.map { $0.map { Key(port: $0.port, address: $0.address) } }
                ?? mine.filter { $0.value.serial == serial }.map(\.key)
            var changed = false
            for k in keys {
                if let e = mine.removeValue(forKey: k) {
                    Self.drop(&s, e)
                    s.total -= 1
                    changed = true
                }
            }
            s.entries[service] = mine.isEmpty ? nil : mine
            if changed { Self.bump(&s, [service]) }
            return changed
        }
    }

    /// The sidecar with certificate `serial` was heard from (a poll, a renewal, a report): its endpoints live on.
    public func touch(serial: String?, now: Double) {
        guard let serial else { return }
        state.withLock { s in if s.serials[serial] != nil { s.serials[serial]!.seen = now } }
    }

    /// Drops the endpoints not heard from within `ttlSeconds`; returns the services that changed.
    public func expire(now: Double) -> Set<ServiceKey> {
        state.withLock { s -> Set<ServiceKey> in
            var changed: Set<ServiceKey> = []
            for (service, mine) in s.entries {
                var kept = mine
                for (k, e) in mine where now - Self.seen(s, e) > limits.ttlSeconds {
                    Self.drop(&s, kept.removeValue(forKey: k)!)
                    s.total -= 1
                    changed.insert(service)
                }
                if changed.contains(service) { s.entries[service] = kept.isEmpty ? nil : kept }
            }
            if !changed.isEmpty { Self.bump(&s, changed) }
            return changed
        }
    }

    /// The live endpoints of `service`: (port, address), ascending by port then address.
    public func endpoints(of service: ServiceKey) -> [(port: Int, address: HostPort)] {
        state.withLock { s in Self.sorted(s.entries[service]?.keys.map { ($0.port, $0.address) } ?? []) }
    }

    /// True when some service in `services` changed after `revision`, or `revision` is not one of ours (newer).
    func changed(after revision: Int, among services: some Sequence<ServiceKey>) -> Bool {
        state.withLock { s in revision > s.revision || services.contains { (s.changedAt[$0] ?? 0) > revision } }
    }

    /// Every entry, by service then port then address, with its last-seen time.
    public func list() -> [Entry] {
        state.withLock { s in
            s.entries.values.flatMap { $0.values.map { e in
                var e = e
                e.lastSeen = Self.seen(s, e)
                return e
            } }.sorted { ($0.service, $0.port, Self.order($0.address)) < ($1.service, $1.port, Self.order($1.address)) }
        }
    }

    static func sorted(_ list: [(port: Int, address: HostPort)]) -> [(port: Int, address: HostPort)] {
        list.sorted { ($0.port, order($0.address)) < ($1.port, order($1.address)) }
    }

    /// Ascending order of addresses: by host text, then port.
    static func order(_ a: HostPort) -> String {
        let p = String(a.port)
        return a.host + "#" + String(repeating: "0", count: 5 - p.count) + p
    }

    private static func seen(_ s: State, _ e: Entry) -> Double { max(e.lastSeen, s.serials[e.serial]?.seen ?? 0) }

    /// `e` left the table (the caller adjusts `total`).
    private static func drop(_ s: inout State, _ e: Entry) {
        guard let c = s.serials[e.serial] else { return }
        if c.count <= 1 { s.serials[e.serial] = nil } else { s.serials[e.serial]!.count -= 1 }
    }

    private static func bump(_ s: inout State, _ services: Set<ServiceKey>) {
        s.revision += 1
        for service in services { s.changedAt[service] = s.revision }
    }
}
