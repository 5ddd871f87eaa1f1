import MeshCore

/// Compiling a validated policy into one slice per service. Each slice holds only the rules in which its
/// service is a destination (inbound) or a caller (outbound; audit rules only feed the shadow verdict), renumbered
/// in rule order.

/// A compiled policy: the source, its version, and every service's slice.
public struct CompiledPolicy: Sendable, Equatable {
    public let version: Int
    public let policy: MeshPolicy
    public let slices: [ServiceKey: ServiceSlice]

    public func slice(for service: ServiceKey) -> ServiceSlice? { slices[service] }

    /// The decision the sidecar of `facts.destination` makes (default deny for an unknown service).
    public func decide<Facts: PolicyFacts>(_ facts: Facts) -> PolicyDecision {
        if let slice = slices[facts.connection.destination] { return slice.decision(on: facts) }
        return PolicyDecision.screen(facts.connection.peer, in: policy.trustDomain) ?? .defaultDeny
    }
}

extension MeshPolicy {
    /// Compiles every service's slice, stamped with `version`.
    public func compile(version: Int) -> CompiledPolicy {
        var builders: [ServiceKey: SliceBuilder] = [:]
        for service in services { builders[service.key] = SliceBuilder() }
        for (index, rule) in rules.enumerated() {
            let resolved = self.resolved[index]
            var portsByDestination: [(ServiceKey, [Int])] = []
            for destination in resolved.toServices {
                let ports = PolicyDrafts.ports(of: rule, at: services[serviceIndex[destination]!])
                if ports.isEmpty { continue }
                portsByDestination.append((destination, ports))
                builders[destination]!.addInbound(rule: index, ports: ports, resolved: resolved)
            }
            // Audit rules too: the caller's sidecar computes their shadow verdict (never enforced).
            for source in resolved.fromServices {
                for (destination, ports) in portsByDestination {
                    builders[source]!.addOutbound(rule: index, allow: rule.action == .allow, to: destination, ports: ports)
                }
            }
        }
        var slices: [ServiceKey: ServiceSlice] = [:]
        for service in services {
            slices[service.key] = builders[service.key]!.slice(version: version, service: service, policy: self)
        }
        return CompiledPolicy(version: version, policy: self, slices: slices)
    }
}

/// Collects one service's entries with global rule numbers (appended in rule order, so lists stay ascending).
struct SliceBuilder {
    private var identities: [Int: [SPIFFEID: [Int]]] = [:]
    private var prefixes: [Int: [IdentityPattern: [Int]]] = [:]
    private var outbound: [ServiceKey: [Int: (rules: [Int], allowed: Bool)]] = [:]

    mutating func addInbound(rule: Int, ports: [Int], resolved: ResolvedRule) {
        for port in ports {
            for id in resolved.fromIdentities { identities[port, default: [:]][id, default: []].append(rule) }
            for pattern in resolved.fromPrefixes { prefixes[port, default: [:]][pattern, default: []].append(rule) }
        }
    }

    mutating func addOutbound(rule: Int, allow: Bool, to destination: ServiceKey, ports: [Int]) {
        for port in ports {
            outbound[destination, default: [:]][port, default: ([], false)].rules.append(rule)
            if allow { outbound[destination]![port]!.allowed = true }
        }
    }

    /// Renumbers the rules used into the slice's own table and builds the slice.
    func slice(version: Int, service: PolicyService, policy: MeshPolicy) -> ServiceSlice {
        // A destination port only matters when some allow rule (enforced or audit) reaches it; deny rules alone
        // are default deny.
        let reachable = outbound.compactMapValues { ports in
            let kept = ports.filter(\.value.allowed).mapValues(\.rules)
            return kept.isEmpty ? nil : kept
        }
        var used = Set<Int>()
        for table in identities.values { for list in table.values { used.formUnion(list) } }
        for table in prefixes.values { for list in table.values { used.formUnion(list) } }
        for ports in reachable.values { for list in ports.values { used.formUnion(list) } }
        let order = used.sorted()
        var local: [Int: Int] = [:]
        for (position, global) in order.enumerated() { local[global] = position }
        let renumber = { (list: [Int]) in list.map { local[$0]! } }

        var inbound: [Int: InboundPort] = [:]
        for port in Set(identities.keys).union(prefixes.keys) {
            let exact = (identities[port] ?? [:]).mapValues(renumber)
            let wild = (prefixes[port] ?? [:]).sorted { $0.key.description.utf8.lexicographicallyPrecedes($1.key.description.utf8) }
                .map { SlicePrefix(pattern: $0.key, rules: renumber($0.value)) }
            inbound[port] = InboundPort(identities: exact, prefixes: wild)
        }
        var destinations: [ServiceKey: SliceDestination] = [:]
        for (key, ports) in reachable {
            let target = policy.services[policy.serviceIndex[key]!]
            destinations[key] = SliceDestination(service: key, identity: target.identity, address: target.address,
                                                 ports: ports.mapValues(renumber))
            destinations[key]!.protocols = target.protocols.filter { ports[$0.key] != nil }
        }
        let rules = order.map { index in
            let rule = policy.rules[index]
            return SliceRule(name: rule.name, action: rule.action, mode: rule.mode, expires: rule.expires, rateLimit: rule.rateLimit,
                             http: rule.http, jwt: rule.jwt)
        }
        var slice = ServiceSlice(version: version, service: service.key, identity: service.identity, rules: rules,
                                 inbound: inbound, outbound: destinations)
        slice.portProtocols = service.protocols
        slice.issuers = L7Compiler.issuers(for: rules, inbound: inbound, policy: policy)
        return slice
    }
}
