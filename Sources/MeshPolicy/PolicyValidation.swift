import MeshCore

/// The second pass over a bundle, once every file is read: the trust domain, service identities, segment
/// members, and every reference made by a rule. Errors name the file and path of the offending reference.
extension PolicyDrafts {
    func validate() throws(MeshError) -> MeshPolicy {
        guard let (domain, domainAt) = trustDomains.first else {
            throw MeshError(.policyMissingTrustDomain, "\(firstFile): $: no file of the bundle sets trustDomain")
        }
        if trustDomains.count > 1 {
            throw trustDomains[1].1.error(.policyDuplicateTrustDomain, "trustDomain is already set at \(domainAt.description)")
        }
        var services: [PolicyService] = []
        var serviceIndex: [ServiceKey: Int] = [:]
        for draft in self.services {
            let identity: SPIFFEID
            do {
                identity = try SPIFFEID.service(trustDomain: domain, namespace: draft.key.namespace, name: draft.key.name)
            } catch {
                throw draft.at.error((error as? MeshError)?.errorCode ?? .policyInvalid, "no valid identity: \(error)")
            }
            serviceIndex[draft.key] = services.count
            services.append(PolicyService(key: draft.key, identity: identity, labels: draft.labels, ports: draft.ports,
                                          address: draft.address, protocols: draft.protocols))
        }
        let catalog = ServiceCatalog(services: services, index: serviceIndex)

        var segments: [PolicySegment] = []
        var segmentIndex: [String: Int] = [:]
        for (segment, at) in self.segments {
            var resolved = segment
            if let selector = segment.selector {
                resolved.members = services.filter { s in selector.allSatisfy { s.labels[$0.key] == $0.value } }
                    .map(\.key).sorted()
            } else {
                for (j, key) in (segment.services ?? []).enumerated() {
                    try catalog.require(key, at: at.appending("services").appending(index: j))
                }
                resolved.members = (segment.services ?? []).sorted()
            }
            segmentIndex[segment.name] = segments.count
            segments.append(resolved)
        }

        var resolvedRules: [ResolvedRule] = []
        var grants = 0
        for (rule, at) in rules {
            let resolved = try resolve(rule, at: at, domain: domain, catalog: catalog,
                                       segments: segments, segmentIndex: segmentIndex)
            let portCount = resolved.toServices.reduce(0) { $0 + Self.ports(of: rule, at: services[serviceIndex[$1]!]).count }
            try PortProtocols.validate(rule, at: at, destinations: resolved.toServices.map { services[serviceIndex[$0]!] },
                                       issuers: Set(issuers.map(\.0.issuer)))
            grants += (resolved.fromIdentities.count + resolved.fromPrefixes.count + resolved.fromServices.count) * portCount
            if grants > limits.maxGrants {
                throw at.error(.policyTooManyGrants,
                               "with this rule the compiled slices would hold more than \(limits.maxGrants) grants; narrow from/to or raise maxGrants")
            }
            resolvedRules.append(resolved)
        }
        var policy = MeshPolicy(trustDomain: domain, services: services, segments: segments, rules: rules.map(\.0),
                                serviceIndex: serviceIndex, resolved: resolvedRules)
        policy.alerts = alerts
        policy.issuers = issuers.map(\.0)
        return policy
    }

    private func resolve(_ rule: PolicyRule, at: PolicyLocation, domain: TrustDomain, catalog: ServiceCatalog,
                         segments: [PolicySegment], segmentIndex: [String: Int]) throws(MeshError) -> ResolvedRule {
        let fromAt = at.appending("from")
        var fromServices = Set<ServiceKey>()
        for (j, name) in rule.from.segments.enumerated() {
            guard let index = segmentIndex[name] else {
                throw fromAt.appending("segments").appending(index: j).error(.policyUnknownSegment, "unknown segment \(name.debugDescription)")
            }
            fromServices.formUnion(segments[index].members)
        }
        for (j, key) in rule.from.services.enumerated() {
            try catalog.require(key, at: fromAt.appending("services").appending(index: j))
            fromServices.insert(key)
        }
        var fromIdentities = Set(fromServices.map { catalog.services[catalog.index[$0]!].identity })
        var prefixes: [IdentityPattern] = []
        for (j, pattern) in rule.from.identities.enumerated() {
            guard pattern.trustDomain == domain else {
                throw fromAt.appending("identities").appending(index: j).error(
                    .policyForeignTrustDomain, "\(pattern) is not in the trust domain \(domain)")
            }
            switch pattern {
            case .exact(let id): fromIdentities.insert(id)
            case .prefix: prefixes.append(pattern)
            }
            fromServices.formUnion(catalog.matching(pattern))
        }
        let toAt = at.appending("to")
        var toServices = Set<ServiceKey>()
        for (j, name) in rule.to.segments.enumerated() {
            guard let index = segmentIndex[name] else {
                throw toAt.appending("segments").appending(index: j).error(.policyUnknownSegment, "unknown segment \(name.debugDescription)")
            }
            toServices.formUnion(segments[index].members)
        }
        for (j, key) in rule.to.services.enumerated() {
            try catalog.require(key, at: toAt.appending("services").appending(index: j))
            toServices.insert(key)
        }
        let destinations = toServices.sorted()
        for (j, port) in (rule.ports ?? []).enumerated()
        where !destinations.contains(where: { catalog.services[catalog.index[$0]!].ports.contains(port) }) {
            let names = destinations.map(\.description).joined(separator: ", ")
            throw at.appending("ports").appending(index: j).error(
                .policyPortNotOnDestination,
                "port \(port) is not a port of any destination (\(destinations.isEmpty ? "none" : names))")
        }
        return ResolvedRule(fromIdentities: fromIdentities, fromPrefixes: prefixes, fromServices: fromServices.sorted(),
                            toServices: destinations, toSet: toServices)
    }

    /// The ports a rule covers on `service`: the rule's ports it has, or all of them when the rule lists none.
    static func ports(of rule: PolicyRule, at service: PolicyService) -> [Int] {
        guard let ports = rule.ports else { return service.ports.sorted() }
        return service.ports.filter { ports.contains($0) }.sorted()
    }
}

/// Services by key, by identity, and by every `/`-ended prefix of their identity path (for wildcard patterns).
struct ServiceCatalog {
    let services: [PolicyService]
    let index: [ServiceKey: Int]
    private let byIdentity: [SPIFFEID: ServiceKey]
    private let byPrefix: [String: [ServiceKey]]

    init(services: [PolicyService], index: [ServiceKey: Int]) {
        self.services = services
        self.index = index
        var byIdentity: [SPIFFEID: ServiceKey] = [:]
        var byPrefix: [String: [ServiceKey]] = [:]
        for service in services {
            byIdentity[service.identity] = service.key
            let path = Array(service.identity.path.utf8)
            for (i, byte) in path.enumerated() where byte == UInt8(ascii: "/") {
                byPrefix[String(decoding: path[...i], as: UTF8.self), default: []].append(service.key)
            }
        }
        self.byIdentity = byIdentity
        self.byPrefix = byPrefix
    }

    func require(_ key: ServiceKey, at: PolicyLocation) throws(MeshError) {
        guard index[key] != nil else { throw at.error(.policyUnknownService, "unknown service \(key.description.debugDescription)") }
    }

    /// The services whose identity `pattern` matches.
    func matching(_ pattern: IdentityPattern) -> [ServiceKey] {
        switch pattern {
        case .exact(let id): byIdentity[id].map { [$0] } ?? []
        case .prefix(_, let path): byPrefix[path] ?? []
        }
    }
}
