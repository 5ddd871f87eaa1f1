import MeshCore

/// One service's share of the compiled policy: what it may accept (inbound, per port) and what it may call
/// (outbound, per destination). Built by `MeshPolicy.compile(version:)`, sent to the sidecar as JSON
/// (`json()` / `init(json:)`). A decision is a hash probe on the port, one on the peer identity, and a short
/// scan of wildcard prefixes; it agrees with `MeshPolicy.evaluate`. Both decide on facts (`ConnectionFacts`,
/// later `RequestFacts`), never on a clock.
public struct ServiceSlice: Sendable, Equatable {
    public let version: Int
    public let service: ServiceKey
    /// The identity this service presents.
    public let identity: SPIFFEID
    /// The rules this slice refers to, in evaluation order (numbers in `inbound` and `outbound` index this).
    public let rules: [SliceRule]
    /// Port → who may connect (and who is denied, and the audit rules).
    public let inbound: [Int: InboundPort]
    /// Destination → how to reach it; only destinations some allow rule reaches (an audit one included: its
    /// shadow verdict is computed at the calling end too, never enforced).
    public internal(set) var outbound: [ServiceKey: SliceDestination]
    /// The mesh's deny list (revoked identities and serials), carried with every slice; empty when nothing is revoked.
    public var revoked: RevocationList = .empty
    /// The control plane's endpoint revision this slice's endpoints were read at (the poll's `endpoints=`).
    public var endpointsRevision = 0
    /// Inbound service port → its protocol, for the ports declared `http` (absent: `tcp`).
    public var portProtocols: [Int: PortProtocol] = [:]
    /// The token issuers some inbound rule of this slice names in a `jwt` requirement.
    public var issuers: [SliceIssuer] = []
    /// Rule name → its `rateLimit`, for the rules of this slice that carry one (looked up after an allow).
    private let rateLimits: [String: RateLimit]
    let kinds: [RuleKind]
    /// `expires` as seconds, `+infinity` when the rule does not expire.
    let deadlines: [Double]
    /// Per rule: false for a deny rule with an `http` match, which refuses requests, never a whole connection.
    let decidesConnections: [Bool]
    /// Per rule: its compiled request matcher, nil when it has neither `http` nor `jwt` (it matches every request).
    let matchers: [RequestMatcher?]
    /// The same, flattened for the data path.
    let requestTable: RequestTable
    /// Some rule has a header condition: only then does a request decision need the request's fields (the
    /// sidecar skips building them per request otherwise).
    public let readsRequestHeaders: Bool

    init(version: Int, service: ServiceKey, identity: SPIFFEID, rules: [SliceRule], inbound: [Int: InboundPort],
         outbound: [ServiceKey: SliceDestination]) {
        self.version = version
        self.service = service
        self.identity = identity
        self.rules = rules
        self.inbound = inbound
        self.outbound = outbound
        kinds = rules.map { RuleKind($0.action, $0.mode) }
        var limits: [String: RateLimit] = [:]
        for r in rules { if let l = r.rateLimit { limits[r.name] = l } }
        rateLimits = limits
        deadlines = rules.map { $0.expires?.seconds ?? .infinity }
        decidesConnections = rules.map { $0.action == .allow || $0.http == nil }
        matchers = rules.map(RequestMatcher.init(rule:))
        requestTable = RequestTable(matchers)
        readsRequestHeaders = matchers.contains { !($0?.headers.isEmpty ?? true) }
    }

    /// Decides whether `facts.peer` (the verified identity of the caller) may connect to this service on
    /// `facts.port` at `facts.now` (a rule stops applying when `now >= expires`). Facts naming another
    /// destination get `default-deny`: a slice only speaks for its own service.
    public func decideInbound(_ facts: ConnectionFacts) -> PolicyDecision { decision(on: facts) }

    /// The same decision for one request (`decideRequest(facts).decision`).
    public func decideInbound(_ facts: RequestFacts) -> PolicyDecision { decideRequest(facts).decision }

    /// One body for both kinds of facts, specialised for each here in the module: the public entry points are
    /// concrete, so a caller in another module never pays for a generic call on the data path.
    @inline(__always)
    func decision<Facts: PolicyFacts>(on facts: Facts) -> PolicyDecision {
        if let request = facts.request { return decideRequest(request).decision }
        if let refused = PolicyDecision.screen(facts.connection.peer, in: identity.trustDomain) { return refused }
        if !revoked.quarantined.isEmpty, revoked.quarantines(facts.connection.peer) { return .quarantined }
        guard facts.connection.destination == service, let table = inbound[facts.connection.port] else {
            return .defaultDeny
        }
        let now = facts.connection.now
        var accumulator = DecisionAccumulator()
        if let list = table.identities[facts.connection.peer] { fold(list, into: &accumulator, now: now) }
        if !table.prefixes.isEmpty {
            // The peer is in our trust domain (screened), like every pattern: compare path bytes only.
            var path = facts.connection.peer.path
            path.withUTF8 { bytes in
                for (index, prefix) in table.prefixPaths.enumerated() where Self.starts(bytes, with: prefix) {
                    fold(table.prefixes[index].rules, into: &accumulator, now: now)
                }
            }
        }
        return accumulator.decision { rules[$0].name }
    }

    /// Decides whether this service (`facts.peer`, our own identity) may call `facts.destination` on
    /// `facts.port` (enforced rules only). It allows exactly when the destination's `decideInbound` would; a
    /// deny is named after the deny rule only on ports some allow rule reaches (the slice keeps no deny-only
    /// destinations), `default-deny` otherwise, and for facts whose caller is not this service.
    public func egress<Facts: PolicyFacts>(_ facts: Facts) -> Verdict { egressDecision(facts).enforced }

    /// The egress decision with the shadow verdict of audit rules (nil when none applies), as the destination's
    /// `decideInbound` would give it: so "audit first, enforce later" is observable at the calling end.
    public func egressDecision<Facts: PolicyFacts>(_ facts: Facts) -> PolicyDecision { egress(of: facts.connection) }

    /// The same for a connection's facts: concrete, so the sidecar's call on every new connection is not a
    /// generic call into another module (unspecialised there).
    public func egressDecision(_ facts: ConnectionFacts) -> PolicyDecision { egress(of: facts) }

    private func egress(of facts: ConnectionFacts) -> PolicyDecision {
        guard facts.peer == identity,
              let list = outbound[facts.destination]?.ports[facts.port] else {
            return PolicyDecision.defaultDeny
        }
        if !revoked.quarantined.isEmpty, let d = outbound[facts.destination], revoked.quarantines(d.identity) {
            return .quarantined
        }
        var accumulator = DecisionAccumulator()
        fold(list, into: &accumulator, now: facts.now)
        return accumulator.decision { rules[$0].name }
    }

    /// The earliest `expires` strictly after `now`, when some rule of the slice still has one ahead: the time
    /// to re-check live connections.
    public func nextExpiry(after now: Double) -> Double? {
        deadlines.filter { $0 > now && $0 != .infinity }.min()
    }

    /// The `rateLimit` of the allow rule named `rule` (the one an inbound `allow` verdict names), nil when it has none.
    @inline(__always)
    public func rateLimit(rule: String) -> RateLimit? { rateLimits.isEmpty ? nil : rateLimits[rule] }

    /// The throttles from the control plane, carried with the deny list.
    public var throttled: ThrottleList { revoked.throttled }

    /// Inbound ports with any rule, ascending.
    public var inboundPorts: [Int] { inbound.keys.sorted() }

    /// Destinations, ascending.
    public var destinations: [SliceDestination] { outbound.keys.sorted().map { outbound[$0]! } }

    /// True when `bytes` continues after `prefix` (a prefix ends with `/`, a workload path never does).
    @inline(__always)
    static func starts(_ bytes: UnsafeBufferPointer<UInt8>, with prefix: [UInt8]) -> Bool {
        guard bytes.count > prefix.count else { return false }
        return prefix.withUnsafeBufferPointer { p in
            for i in 0..<p.count where p[i] != bytes[i] { return false }
            return true
        }
    }

    /// Adds the rules of `list` that still apply at `now`, at the connection level: an allow rule with `http`
    /// or `jwt` admits the connection (its requests are decided one by one at the receiver), a deny rule with
    /// `http` does not refuse it (it refuses only the requests it matches).
    @inline(__always)
    private func fold(_ list: [Int], into accumulator: inout DecisionAccumulator, now: Double) {
        let now = PolicyDecision.clamp(now)
        for rule in list where now < deadlines[rule] && decidesConnections[rule] {
            accumulator.add(rule, kinds[rule])
        }
    }

    public static func == (a: ServiceSlice, b: ServiceSlice) -> Bool {
        a.version == b.version && a.service == b.service && a.identity == b.identity && a.rules == b.rules
            && a.inbound == b.inbound && a.outbound == b.outbound && a.portProtocols == b.portProtocols
            && a.issuers == b.issuers
    }
}

/// What a slice needs of a rule.
public struct SliceRule: Sendable, Equatable {
    public let name: String
    public let action: PolicyAction
    public let mode: PolicyMode
    public let expires: PolicyTimestamp?
    /// The rule's `rateLimit` (allow rules only): enforced per caller identity by the receiving sidecar.
    public let rateLimit: RateLimit?
    /// The rule's `http` match (requests it is about), nil for every request.
    public let http: HTTPMatch?
    /// The rule's end-user requirement (allow rules only).
    public let jwt: JWTRequirement?

    public init(name: String, action: PolicyAction, mode: PolicyMode, expires: PolicyTimestamp?, rateLimit: RateLimit? = nil,
                http: HTTPMatch? = nil, jwt: JWTRequirement? = nil) {
        self.name = name
        self.action = action
        self.mode = mode
        self.expires = expires
        self.rateLimit = rateLimit
        self.http = http
        self.jwt = jwt
    }
}

/// Who the rules of one inbound port name. Rule numbers index `ServiceSlice.rules`, ascending.
public struct InboundPort: Sendable, Equatable {
    /// Exact identity → the rules (allow, deny, audit) naming it.
    public let identities: [SPIFFEID: [Int]]
    /// Wildcard patterns and their rules, in pattern order.
    public let prefixes: [SlicePrefix]
    /// The UTF-8 path prefix of each pattern, for a byte comparison.
    let prefixPaths: [[UInt8]]

    /// `prefixes` hold only wildcard patterns of the slice's trust domain (the compiler and `init(json:)`
    /// guarantee it); anything else would never match.
    init(identities: [SPIFFEID: [Int]], prefixes: [SlicePrefix]) {
        self.identities = identities
        self.prefixes = prefixes
        prefixPaths = prefixes.map { prefix in
            guard case .prefix(_, let path) = prefix.pattern else { return Array(repeating: 0, count: SPIFFEID.maxLength) }
            return Array(path.utf8)
        }
    }
}

public struct SlicePrefix: Sendable, Equatable {
    public let pattern: IdentityPattern
    public let rules: [Int]

    init(pattern: IdentityPattern, rules: [Int]) {
        self.pattern = pattern
        self.rules = rules
    }
}

/// A service this one may call: the identity it must present, its sidecar address when known, and per port the
/// enforced rules (allow and deny) that cover the call.
public struct SliceDestination: Sendable, Equatable {
    public let service: ServiceKey
    public let identity: SPIFFEID
    public let address: HostPort?
    public let ports: [Int: [Int]]
    /// Where the destination's sidecars are now (registered with the control plane, live), ascending; empty when
    /// none is known (then `address`, or a static upstream, is used).
    public var endpoints: [HostPort] = []
    /// Service port → the endpoints serving it (a sidecar registers one address per service port), ascending.
    public var endpointsByPort: [Int: [HostPort]] = [:]
    /// Destination port → its protocol, for the ports declared `http` (absent: `tcp`).
    public var protocols: [Int: PortProtocol] = [:]

    public init(service: ServiceKey, identity: SPIFFEID, address: HostPort?, ports: [Int: [Int]]) {
        self.service = service
        self.identity = identity
        self.address = address
        self.ports = ports
    }

    /// The ports with a rule, ascending (a deny rule may still refuse some of them).
    public var portNumbers: [Int] { ports.keys.sorted() }

    /// What `port` speaks (`tcp` unless declared `http`).
    public func `protocol`(port: Int) -> PortProtocol { protocols[port] ?? .tcp }
}
