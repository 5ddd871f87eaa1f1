import MeshCore

/// Least-privilege rules from observed traffic (`meshctl suggest`): one enforced allow rule per (caller service,
/// destination service) that some observed flow needs, with exactly the observed ports, no wildcards. A flow is
/// needed when its enforced verdict was allow or an audit rule's shadow verdict was allow ("audit first, enforce
/// later"). Pure: the flows come from the control plane's graph (`GraphEdge`, mapped by the caller, so MeshPolicy
/// stays free of the wire types), the mesh says which identity is which service.

/// One edge of the graph as suggest needs it.
public struct ObservedFlow: Sendable, Equatable {
    /// `inbound` or `outbound`: which sidecar saw it (evidence only).
    public var observer: String
    /// The caller's SPIFFE ID text, `unauthenticated` or `(overflow)`.
    public var caller: String
    /// `ns/name`, or `unknown`.
    public var destination: String
    public var port: Int
    public var allowed: Bool
    /// The enforced verdict's rule.
    public var rule: String
    public var shadowAllowed: Bool?
    public var shadowRule: String?
    public var connections: Int
    /// Seconds since the epoch.
    public var firstSeen: Int
    public var lastSeen: Int

    public init(observer: String, caller: String, destination: String, port: Int, allowed: Bool, rule: String,
                shadowAllowed: Bool? = nil, shadowRule: String? = nil, connections: Int, firstSeen: Int, lastSeen: Int) {
        self.observer = observer
        self.caller = caller
        self.destination = destination
        self.port = port
        self.allowed = allowed
        self.rule = rule
        self.shadowAllowed = shadowAllowed
        self.shadowRule = shadowRule
        self.connections = connections
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }

    /// Allowed, or allowed by an audit rule's shadow verdict: traffic the suggested rules must keep allowing.
    public var isNeeded: Bool { allowed || shadowAllowed == true }
}

/// What suggest produced: the rules (destination, then caller order), the flows it could not turn into a rule,
/// and how many observed flows were refused with no audit rule allowing them (left refused).
public struct PolicySuggestion: Sendable, Equatable {
    /// A needed flow that no rule can express: the caller is not a declared service, or the destination or port
    /// is not in the mesh.
    public struct Skipped: Sendable, Equatable {
        public var caller: String
        public var destination: String
        public var port: Int
        public var why: String
        public var connections: Int
    }

    public var rules: [PolicyRule]
    /// Sorted by caller, destination, port; one entry per (caller, destination, port, why).
    public var skipped: [Skipped]
    /// Observed flows refused without a shadow allow (not suggested).
    public var refusedFlows: Int

    /// The complete `rules.json` document: one rule per line, stable order, ending in a newline.
    public var rulesDocument: String {
        if rules.isEmpty { return "{\n  \"rules\": []\n}\n" }
        let lines = rules.map { "    " + MeshPolicy.json($0).text }
        return "{\n  \"rules\": [\n" + lines.joined(separator: ",\n") + "\n  ]\n}\n"
    }
}

extension MeshPolicy {
    /// The least-privilege rules allowing every needed flow whose caller is a declared service of this mesh.
    /// `reservedNames`: rule names already used elsewhere (rules in files other than the one being replaced), so
    /// that the suggestion loads next to them.
    public func suggestRules(from flows: [ObservedFlow], reservedNames: Set<String> = []) -> PolicySuggestion {
        var byIdentity: [SPIFFEID: ServiceKey] = [:]
        for s in services { byIdentity[s.identity] = s.key }
        var groups: [SuggestPair: SuggestEvidence] = [:]
        var skipped: [SkipKey: Int] = [:]
        var refused = 0
        for flow in flows {
            guard flow.isNeeded else { refused += 1; continue }
            let why: String
            if flow.caller == "unauthenticated" {
                why = "unauthenticated caller"
            } else if flow.caller == "(overflow)" {
                why = "folded (overflow) edge"
            } else if let id = try? SPIFFEID(parsing: flow.caller), let caller = byIdentity[id] {
                if let destination = try? ServiceKey(parsing: flow.destination), let target = service(destination) {
                    if target.ports.contains(flow.port) {
                        groups[SuggestPair(caller: caller, destination: destination), default: SuggestEvidence()].add(flow)
                        continue
                    }
                    why = "port \(flow.port) is not a port of \(destination)"
                } else {
                    why = "destination is not a declared service"
                }
            } else {
                why = "caller is not a declared service"
            }
            skipped[SkipKey(caller: flow.caller, destination: flow.destination, port: flow.port, why: why), default: 0] += flow.connections
        }
        let pairs = groups.keys.sorted()
        let names = SuggestNaming.names(for: pairs, reserved: reservedNames.union(rules.map(\.name)))
        let suggested = pairs.map { pair in
            let evidence = groups[pair]!
            return PolicyRule(name: names[pair]!, action: .allow,
                              from: RuleSources(segments: [], services: [pair.caller], identities: []),
                              to: RuleTargets(segments: [], services: [pair.destination]),
                              ports: evidence.ports.keys.sorted(), mode: .enforce, expires: nil,
                              description: evidence.description)
        }
        let skippedList = skipped.sorted { $0.key < $1.key }.map {
            PolicySuggestion.Skipped(caller: $0.key.caller, destination: $0.key.destination, port: $0.key.port, why: $0.key.why,
                                     connections: $0.value)
        }
        return PolicySuggestion(rules: suggested, skipped: skippedList, refusedFlows: refused)
    }
}

/// A (caller, destination) pair: one suggested rule. Ordered by destination first ("grouped per destination").
struct SuggestPair: Hashable, Comparable {
    let caller: ServiceKey
    let destination: ServiceKey

    static func < (a: SuggestPair, b: SuggestPair) -> Bool {
        a.destination != b.destination ? a.destination < b.destination : a.caller < b.caller
    }
}

private struct SkipKey: Hashable, Comparable {
    let caller: String
    let destination: String
    let port: Int
    let why: String

    static func < (a: SkipKey, b: SkipKey) -> Bool {
        func bytes(_ s: String, _ t: String) -> Bool { s.utf8.lexicographicallyPrecedes(t.utf8) }
        if a.caller != b.caller { return bytes(a.caller, b.caller) }
        if a.destination != b.destination { return bytes(a.destination, b.destination) }
        if a.port != b.port { return a.port < b.port }
        return bytes(a.why, b.why)
    }
}
