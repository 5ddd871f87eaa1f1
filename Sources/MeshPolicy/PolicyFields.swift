import MeshCore

/// Reading one service, segment or rule object. Errors are `<path>: <problem>`; `MeshPolicy.load` puts the
/// file name in front. References to other objects are checked later, when every file has been read.
enum PolicyFields {
    static func service(_ node: JSONNode, limits: PolicyLimits, at: PolicyLocation) throws(MeshError) -> ServiceDraft {
        let r = try node.object(fields: ["namespace", "name", "labels", "ports", "address"])
        let key = ServiceKey(namespace: try label(r.required("namespace")), name: try label(r.required("name")))
        let labels = try labelMap(r.optional("labels"), limits: limits) ?? [:]
        let portsNode = try r.required("ports")
        let (ports, protocols) = try PortProtocols.servicePorts(portsNode, limits: limits)
        var address: HostPort?
        if let node = r.optional("address") {
            let text = try node.string()
            let hostPort = try rethrow(at: node) { try HostPort(parsing: text) }
            guard hostPort.hostIsIPLiteral else {
                throw node.error(.configBadAddress, "\(text.debugDescription): the host must be an IP literal")
            }
            guard !hostPort.hostIsUnspecified else {
                throw node.error(.configBadAddress, "\(text.debugDescription): cannot connect to the unspecified address")
            }
            address = hostPort
        }
        return ServiceDraft(key: key, labels: labels, ports: ports, address: address, at: at, protocols: protocols)
    }

    static func segment(_ node: JSONNode, limits: PolicyLimits) throws(MeshError) -> PolicySegment {
        let r = try node.object(fields: ["name", "selector", "services"])
        let name = try label(r.required("name"))
        let selector = try labelMap(r.optional("selector"), limits: limits)
        let servicesNode = r.optional("services")
        let services = try servicesNode.map { n throws(MeshError) in try serviceKeys(n, limits: limits) }
        guard (selector == nil) != (services == nil) else {
            throw node.error(.policyBadSegment, "a segment needs exactly one of selector or services")
        }
        if selector?.isEmpty == true {
            throw node.error(.policyBadSegment, "selector is empty; it would select every service")
        }
        if services?.isEmpty == true { throw node.error(.policyBadSegment, "services is empty") }
        return PolicySegment(name: name, selector: selector, services: services, members: [])
    }

    static func rule(_ node: JSONNode, limits: PolicyLimits) throws(MeshError) -> PolicyRule {
        let r = try node.object(fields: ["name", "action", "from", "to", "ports", "mode", "expires", "description", "rateLimit",
                                         "http", "jwt"])
        let nameNode = try r.required("name")
        let name = try label(nameNode)
        if name == Verdict.defaultDenyRule {
            throw nameNode.error(.policyReservedName, "\(name.debugDescription) is reserved for the verdict when no rule matches")
        }
        let action = try choice(r.required("action"), PolicyAction.self)
        let fromNode = try r.required("from")
        let from = try fromNode.object(fields: ["segments", "services", "identities"])
        let sources = RuleSources(segments: try names(from.optional("segments"), limits: limits),
                                  services: try from.optional("services").map { n throws(MeshError) in try serviceKeys(n, limits: limits) } ?? [],
                                  identities: try patterns(from.optional("identities"), limits: limits))
        if sources.segments.isEmpty && sources.services.isEmpty && sources.identities.isEmpty {
            throw fromNode.error(.policyEmptyFrom, "from needs at least one segment, service or identity")
        }
        let toNode = try r.required("to")
        let to = try toNode.object(fields: ["segments", "services"])
        let targets = RuleTargets(segments: try names(to.optional("segments"), limits: limits),
                                  services: try to.optional("services").map { n throws(MeshError) in try serviceKeys(n, limits: limits) } ?? [])
        if targets.segments.isEmpty && targets.services.isEmpty {
            throw toNode.error(.policyEmptyTo, "to needs at least one segment or service")
        }
        let ports = try r.optional("ports").map { n throws(MeshError) in try portList(n, limits: limits) }
        let mode = try r.optional("mode").map { n throws(MeshError) in try choice(n, PolicyMode.self) } ?? .enforce
        var expires: PolicyTimestamp?
        if let n = r.optional("expires") {
            let text = try n.string()
            expires = try rethrow(at: n) { try PolicyTimestamp(parsing: text) }
        }
        let description = try r.optional("description")?.string()
        if let description, description.utf8.count > MeshPolicy.maxDescriptionBytes {
            throw node.appendingError("description", .policyTooLong,
                                      "\(description.utf8.count) bytes; the limit is \(MeshPolicy.maxDescriptionBytes)")
        }
        var rateLimit: RateLimit?
        if let n = r.optional("rateLimit") {
            guard action == .allow else {
                throw n.error(.policyBadRateLimit, "only allow rules may carry a rateLimit (a deny refuses every connection)")
            }
            rateLimit = try Self.rateLimit(n)
        }
        var rule = PolicyRule(name: name, action: action, from: sources, to: targets, ports: ports, mode: mode,
                              expires: expires, description: description, rateLimit: rateLimit)
        try PortProtocols.readL7(r, into: &rule, limits: limits)
        return rule
    }

    /// `{"connectionsPerSecond": N, "burst": M}`: N in (0, 100000], M in [1, 1000000], default max(1, N).
    static func rateLimit(_ node: JSONNode) throws(MeshError) -> RateLimit {
        let o = try node.object(fields: ["connectionsPerSecond", "burst"])
        let rateNode = try o.required("connectionsPerSecond")
        let rate = try rateNode.double(in: -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude)
        guard rate > 0, rate <= RateLimit.maxPerSecond else {
            throw rateNode.error(.policyBadRateLimit, "\(ThrottleList.text(rate)) is not > 0 and at most 100000")
        }
        var burst: Double?
        if let b = o.optional("burst") {
            let value = try b.double(in: -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude)
            guard value >= 1, value <= RateLimit.maxBurst else {
                throw b.error(.policyBadRateLimit, "\(ThrottleList.text(value)) is not between 1 and 1000000")
            }
            burst = value
        }
        return RateLimit(connectionsPerSecond: rate, burst: burst)
    }

    // MARK: - Fields

    static func label(_ node: JSONNode) throws(MeshError) -> String {
        let text = try node.string()
        guard PolicyNames.isLabel(text) else {
            throw node.error(.policyBadName, "\(text.debugDescription) is not 1-63 of [a-z0-9-], starting and ending with [a-z0-9]")
        }
        return text
    }

    static func choice<T: RawRepresentable & CaseIterable>(_ node: JSONNode, _: T.Type) throws(MeshError) -> T
    where T.RawValue == String {
        let text = try node.string()
        guard let value = T.allCases.first(where: { $0.rawValue.utf8.elementsEqual(text.utf8) }) else {
            let all = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw node.error(.configBadValue, "\(text.debugDescription) is not one of: \(all)")
        }
        return value
    }

    /// The elements of an array of at most `maxEntriesPerList`, each read by `read`; duplicates are refused.
    static func list<T: Hashable>(_ node: JSONNode?, limits: PolicyLimits,
                                  _ read: (JSONNode) throws(MeshError) -> T) throws(MeshError) -> [T] {
        guard let node else { return [] }
        let items = try node.elements()
        if items.count > limits.maxEntriesPerList {
            throw node.error(.policyTooManyEntries, "\(items.count) entries; the limit is \(limits.maxEntriesPerList)")
        }
        var seen: [T: Int] = [:]
        var out: [T] = []
        for item in items {
            let value = try read(item)
            if let first = seen[value] {
                throw item.error(.policyDuplicateEntry, "the same entry as [\(first)]")
            }
            seen[value] = out.count
            out.append(value)
        }
        return out
    }

    static func portList(_ node: JSONNode, limits: PolicyLimits) throws(MeshError) -> [Int] {
        let ports = try list(node, limits: limits) { n throws(MeshError) in try n.int(in: 1...65535) }
        if ports.isEmpty { throw node.error(.policyNoPorts, "at least one port is needed") }
        return ports
    }

    static func names(_ node: JSONNode?, limits: PolicyLimits) throws(MeshError) -> [String] {
        try list(node, limits: limits) { n throws(MeshError) in try label(n) }
    }

    static func serviceKeys(_ node: JSONNode, limits: PolicyLimits) throws(MeshError) -> [ServiceKey] {
        try list(node, limits: limits) { n throws(MeshError) in
            let text = try n.string()
            return try rethrow(at: n) { try ServiceKey(parsing: text) }
        }
    }

    static func patterns(_ node: JSONNode?, limits: PolicyLimits) throws(MeshError) -> [IdentityPattern] {
        try list(node, limits: limits) { n throws(MeshError) in
            let text = try n.string()
            return try rethrow(at: n) { try IdentityPattern(parsing: text) }
        }
    }

    static func labelMap(_ node: JSONNode?, limits: PolicyLimits) throws(MeshError) -> [String: String]? {
        guard let node else { return nil }
        guard case .object(let members) = node.value else {
            throw node.error(.configWrongType, "expected an object, found \(node.value.kindDescription)")
        }
        if members.count > limits.maxEntriesPerList {
            throw node.error(.policyTooManyEntries, "\(members.count) labels; the limit is \(limits.maxEntriesPerList)")
        }
        var labels: [String: String] = [:]
        for (key, value) in members {
            let valueNode = JSONNode(value, path: node.path.appending(key))
            guard PolicyNames.isLabelKey(key) else {
                throw valueNode.error(.policyBadLabel, "label key \(key.debugDescription) is not 1-253 of [A-Za-z0-9._/-]")
            }
            let text = try valueNode.string()
            guard PolicyNames.isLabelValue(text) else {
                throw valueNode.error(.policyBadLabel, "label value \(text.debugDescription) is not 0-63 of [A-Za-z0-9._-]")
            }
            labels[key] = text
        }
        return labels
    }

    /// Runs `body`; its error comes back with `<path>: ` in front of the reason, code unchanged.
    static func rethrow<T>(at node: JSONNode, _ body: () throws -> T) throws(MeshError) -> T {
        do {
            return try body()
        } catch let error as MeshError {
            throw node.error(error.errorCode, error.reason)
        } catch {
            throw node.error(.policyInvalid, "\(error)")
        }
    }
}

extension JSONNode {
    /// An error about member `key` of this object.
    func appendingError(_ key: String, _ code: ErrorCode, _ message: String) -> MeshError {
        MeshError(code, "\(path.appending(key)): \(message)")
    }
}
