import MeshCore
import MeshPolicy

/// The one place a sidecar asks "may this connection go ahead?", whichever way its policy arrives: static allow
/// lists from its own config file, or its slice of the mesh policy from the control plane. The state snapshot
/// holds one; connections ask it and never branch on where policy comes from. It is handed the time and reads no
/// clock, so it is decided on facts alone (and testable without sockets). Every answer fails closed.
public protocol Authorizer: Sendable {
    /// May `peer` (its certificate already verified) connect through inbound `listener` at `now` (seconds since
    /// the epoch)? The shadow verdict of audit rules comes along, to be counted, never enforced.
    func inbound(listener: String, peer: SPIFFEID, now: Double) -> PolicyDecision

    /// May the app call out through outbound `listener` at `now`? nil when the configured upstream is itself
    /// the permission (static allow lists decide only inbound). The shadow verdict of audit rules comes along
    /// as inbound, so an audit rule can be observed at the calling end too.
    func outbound(listener: String, now: Double) -> PolicyDecision?

    /// The identity the server behind outbound `listener` must present (nil: no such listener).
    func expectedServer(listener: String) -> SPIFFEID?

    /// The earliest grant expiry after `now`: when live connections must be decided again (nil: none ahead).
    func nextExpiry(after now: Double) -> Double?

    /// True when inbound `listener` has rules to be decided by (readiness).
    func covers(inbound listener: String) -> Bool

    /// The control plane's deny list (revoked identities and serials), checked on every handshake, resumed ones
    /// included, and on live connections when it changes; nil with static allow lists.
    var revocations: RevocationList? { get }

    /// The rate of new connections `peer` may open under the allow rule `rule` at `now`: the tighter of the
    /// rule's `rateLimit` and the control plane's throttle on `peer`; nil when neither applies.
    func rateLimit(rule: String, peer: SPIFFEID, now: Double) -> RateLimit?

    /// May this request (on an inbound `http` listener, from `peer` already allowed to connect) go ahead? See
    /// `Authorizer+Request.swift`: static allow lists allow every request of an allowed connection.
    func request(listener: String, peer: SPIFFEID, request: RequestSummary, now: Double) -> RequestDecision

    /// Whether `request` can look at the request's header fields: when false the sidecar does not build them.
    var readsRequestHeaders: Bool { get }
}

extension Authorizer {
    public var revocations: RevocationList? { nil }
    /// An authorizer that does not say gets the fields.
    public var readsRequestHeaders: Bool { true }
    public func rateLimit(rule: String, peer: SPIFFEID, now: Double) -> RateLimit? { nil }
}

/// The authorizer a configuration calls for: the control plane's slice when `policy` is set (failing closed
/// until the first slice arrives), else the config's allow lists.
func makeAuthorizer(config: SidecarConfig, trustDomain: TrustDomain, slice: ServiceSlice?) -> any Authorizer {
    if config.policy != nil { return SliceAuthorizer(config: config, slice: slice) }
    return AllowListAuthorizer(config: config, trustDomain: trustDomain)
}

/// Static policy: each inbound listener's allow list; outbound, the configured upstream is the permission and
/// must present its configured identity.
public struct AllowListAuthorizer: Authorizer {
    /// Inbound listener name → who may connect.
    public let allowLists: [String: AllowList]
    /// Outbound listener name → who must answer.
    private let servers: [String: SPIFFEID]

    public init(config: SidecarConfig, trustDomain: TrustDomain) {
        var lists: [String: AllowList] = [:]
        for l in config.inbound { lists[l.name] = AllowList(listener: l.name, trustDomain: trustDomain, allowed: l.allow) }
        allowLists = lists
        servers = Dictionary(config.outbound.map { ($0.name, $0.expectIdentity) }, uniquingKeysWith: { first, _ in first })
    }

    public func inbound(listener: String, peer: SPIFFEID, now: Double) -> PolicyDecision {
        PolicyDecision(enforced: allowLists[listener]?.evaluate(peer) ?? .deny(rule: Verdict.defaultDenyRule, reason: .noPolicy))
    }

    public func outbound(listener: String, now: Double) -> PolicyDecision? { nil }

    public func expectedServer(listener: String) -> SPIFFEID? { servers[listener] }

    public func nextExpiry(after now: Double) -> Double? { nil }

    public func covers(inbound listener: String) -> Bool { allowLists[listener] != nil }
}

/// Policy from the control plane: this service's slice decides, on facts built from the listener (inbound: the
/// service port it serves; outbound: the destination service and port) and the caller's identity. Without a
/// slice, or for a listener the config does not tie to a port, every decision is `no-policy`.
public struct SliceAuthorizer: Authorizer {
    /// nil until the first slice arrives.
    public let slice: ServiceSlice?
    /// Inbound listener name → the service port it serves.
    let servicePorts: [String: Int]
    /// Outbound listener name → the service and port it calls.
    private let destinations: [String: Destination]
    /// Outbound listener name → who must answer.
    private let servers: [String: SPIFFEID]

    private struct Destination: Sendable {
        let service: ServiceKey
        let port: Int
    }

    public init(config: SidecarConfig, slice: ServiceSlice?) {
        self.slice = slice
        var ports: [String: Int] = [:]
        for l in config.inbound { if let p = l.servicePort { ports[l.name] = p } }
        var destinations: [String: Destination] = [:]
        for l in config.outbound {
            if let d = l.destination, let p = l.destinationPort { destinations[l.name] = Destination(service: d, port: p) }
        }
        servicePorts = ports
        self.destinations = destinations
        servers = Dictionary(config.outbound.map { ($0.name, $0.expectIdentity) }, uniquingKeysWith: { first, _ in first })
    }

    // The slice is reached by optional chaining, never bound: `guard let slice` copies it (a retain and a
    // release of each of its references) on every connection.
    public func inbound(listener: String, peer: SPIFFEID, now: Double) -> PolicyDecision {
        if let port = servicePorts[listener], let service = slice?.service,
           let decided = slice?.decideInbound(ConnectionFacts(peer: peer, destination: service, port: port, now: now)) {
            return decided
        }
        return PolicyDecision(enforced: .deny(rule: Verdict.defaultDenyRule, reason: .noPolicy))
    }

    public func outbound(listener: String, now: Double) -> PolicyDecision? {
        if let d = destinations[listener], let me = slice?.identity,
           let decided = slice?.egressDecision(ConnectionFacts(peer: me, destination: d.service, port: d.port, now: now)) {
            return decided
        }
        return PolicyDecision(enforced: .deny(rule: Verdict.defaultDenyRule, reason: .noPolicy))
    }

    public func expectedServer(listener: String) -> SPIFFEID? { servers[listener] }

    public func nextExpiry(after now: Double) -> Double? { slice?.nextExpiry(after: now) }

    public var revocations: RevocationList? { slice?.revoked }

    public func rateLimit(rule: String, peer: SPIFFEID, now: Double) -> RateLimit? {
        guard let slice else { return nil }
        let throttle = slice.throttled.isEmpty ? nil : slice.throttled.limit(for: peer, now: now)
        guard let ruleLimit = slice.rateLimit(rule: rule) else { return throttle }
        return ruleLimit.tighter(throttle)
    }

    public func covers(inbound listener: String) -> Bool { servicePorts[listener] != nil }
}
