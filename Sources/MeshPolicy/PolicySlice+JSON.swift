import MeshCore

/// The wire format of a slice (control plane → sidecar). Example:
/// ```json
/// {"version": 7, "service": "shop/payments", "identity": "spiffe://mesh.local/ns/shop/sa/payments",
///  "rules": [{"name": "frontend-to-payments", "action": "allow", "mode": "enforce", "expires": null}],
///  "inbound": [{"port": 8080, "identities": [{"identity": "spiffe://mesh.local/ns/shop/sa/frontend", "rules": [0]}],
///               "prefixes": [{"pattern": "spiffe://mesh.local/ns/batch/sa/*", "rules": [0]}]}],
///  "outbound": [{"service": "shop/ledger", "identity": "spiffe://mesh.local/ns/shop/sa/ledger",
///                "address": "127.0.0.1:15445", "ports": [{"port": 8080, "rules": [0]}]}]}
/// ```
/// Rule numbers index `rules`, strictly ascending. Reading is strict (unknown fields, duplicates, numbers out of
/// range, identities of another trust domain are refused; audit rules on outbound feed only the shadow verdict); codes as for the policy
/// files plus `policy.bad-slice`; reasons start with the JSON path.
extension ServiceSlice {
    public func json() -> JSONValue {
        let rulesJSON = rules.map { rule -> JSONValue in
            var members: [(String, JSONValue)] = [("name", .string(rule.name)), ("action", .string(rule.action.rawValue)),
                                                  ("mode", .string(rule.mode.rawValue)), ("expires", .optional(rule.expires?.description))]
            if let l = rule.rateLimit {
                members.append(("rateLimit", .object([("connectionsPerSecond", .number(ThrottleList.text(l.connectionsPerSecond))),
                                                      ("burst", .number(ThrottleList.text(l.burst)))])))
            }
            if let http = rule.http { members.append(("http", http.json)) }
            if let jwt = rule.jwt { members.append(("jwt", jwt.json)) }
            return .object(members)
        }
        let inboundJSON = inboundPorts.map { port -> JSONValue in
            let table = inbound[port]!
            let ids = table.identities.keys.sorted { $0.description.utf8.lexicographicallyPrecedes($1.description.utf8) }
            return .object([
                ("port", .int(port)),
                ("identities", .array(ids.map { .object([("identity", .string($0.description)), ("rules", Self.numbers(table.identities[$0]!))]) })),
                ("prefixes", .array(table.prefixes.map { .object([("pattern", .string($0.pattern.description)), ("rules", Self.numbers($0.rules))]) })),
            ])
        }
        let outboundJSON = destinations.map { d -> JSONValue in
            var members: [(String, JSONValue)] = [
                ("service", .string(d.service.description)), ("identity", .string(d.identity.description)),
                ("address", .optional(d.address?.description)),
                ("ports", .array(d.portNumbers.map { .object([("port", .int($0)), ("rules", Self.numbers(d.ports[$0]!))]) }))]
            // Optional members: absent means none (older slices stay readable, and equal slices encode equally).
            if !d.endpoints.isEmpty { members.append(("endpoints", .array(d.endpoints.map { .string($0.description) }))) }
            if !d.endpointsByPort.isEmpty { members.append(("endpointsByPort", Self.endpointsByPortJSON(d.endpointsByPort))) }
            if !d.protocols.isEmpty { members.append(("protocols", Self.protocolsJSON(d.protocols))) }
            return .object(members)
        }
        var members: [(String, JSONValue)] = [("version", .int(version)), ("service", .string(service.description)),
                                              ("identity", .string(identity.description)), ("rules", .array(rulesJSON)),
                                              ("inbound", .array(inboundJSON)), ("outbound", .array(outboundJSON))]
        if revoked != .empty { members.append(("revoked", revoked.json())) }  // optional: absent means nothing revoked
        if endpointsRevision != 0 { members.append(("endpointsRevision", .int(endpointsRevision))) }
        if !portProtocols.isEmpty { members.append(("protocols", Self.protocolsJSON(portProtocols))) }
        if !issuers.isEmpty { members.append(("issuers", .array(issuers.map(\.json)))) }
        return .object(members)
    }

    /// Parses strict JSON bytes and then the slice; `maxBytes` bounds the document (default 64 MiB).
    public init(bytes: [UInt8], maxBytes: Int = 64 * 1024 * 1024) throws(MeshError) {
        try self.init(json: StrictJSON.parse(bytes, limits: StrictJSON.Limits(maxBytes: maxBytes)))
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try JSONNode(json).object(fields: ["version", "service", "identity", "rules", "inbound", "outbound", "revoked", "endpointsRevision",
                                                           "protocols", "issuers"])
        let version = try r.required("version").int(in: 0...Int.max)
        let serviceNode = try r.required("service")
        let serviceText = try serviceNode.string()
        let service = try PolicyFields.rethrow(at: serviceNode) { try ServiceKey(parsing: serviceText) }
        let identityNode = try r.required("identity")
        let identity = try Self.workload(identityNode, domain: nil)
        let expected = try? SPIFFEID.service(trustDomain: identity.trustDomain, namespace: service.namespace, name: service.name)
        guard identity == expected else {
            throw identityNode.error(.policyBadSlice, "\(identity) is not the identity of \(service)")
        }
        let domain = identity.trustDomain
        var rules: [SliceRule] = []
        for node in try r.required("rules").elements() {
            let o = try node.object(fields: ["name", "action", "mode", "expires", "rateLimit", "http", "jwt"])
            var expires: PolicyTimestamp?
            if let n = o.optional("expires") {
                let text = try n.string()
                expires = try PolicyFields.rethrow(at: n) { try PolicyTimestamp(parsing: text) }
            }
            let action = try PolicyFields.choice(o.required("action"), PolicyAction.self)
            var rateLimit: RateLimit?
            if let n = o.optional("rateLimit") {
                guard action == .allow else { throw n.error(.policyBadSlice, "only allow rules carry a rateLimit") }
                rateLimit = try PolicyFields.rateLimit(n)
            }
            let http = try o.optional("http").map { n throws(MeshError) in try HTTPMatch.parse(n, limits: PolicyLimits()) }
            var jwt: JWTRequirement?
            if let n = o.optional("jwt") {
                guard action == .allow else { throw n.error(.policyBadSlice, "only allow rules carry a jwt requirement") }
                jwt = try JWTRequirement.parse(n, limits: PolicyLimits())
            }
            rules.append(SliceRule(name: try PolicyFields.label(o.required("name")), action: action,
                                   mode: try PolicyFields.choice(o.required("mode"), PolicyMode.self), expires: expires,
                                   rateLimit: rateLimit, http: http, jwt: jwt))
        }
        func ruleList(_ node: JSONNode) throws(MeshError) -> [Int] {
            let list = try node.elements()
            var out: [Int] = []
            for item in list {
                let n = try item.int(in: 0...max(0, rules.count - 1))
                guard n < rules.count, out.last.map({ $0 < n }) ?? true else {
                    throw item.error(.policyBadSlice, "rule numbers must be indexes of rules, strictly ascending")
                }
                out.append(n)
            }
            if out.isEmpty { throw node.error(.policyBadSlice, "at least one rule number is needed") }
            return out
        }
        var inbound: [Int: InboundPort] = [:]
        for node in try r.required("inbound").elements() {
            let o = try node.object(fields: ["port", "identities", "prefixes"])
            let portNode = try o.required("port")
            let port = try portNode.int(in: 1...65535)
            var identities: [SPIFFEID: [Int]] = [:]
            for item in try o.required("identities").elements() {
                let e = try item.object(fields: ["identity", "rules"])
                let idNode = try e.required("identity")
                let id = try Self.workload(idNode, domain: domain)
                guard identities.updateValue(try ruleList(e.required("rules")), forKey: id) == nil else {
                    throw idNode.error(.policyDuplicateEntry, "\(id) is listed twice")
                }
            }
            var prefixes: [SlicePrefix] = []
            for item in try o.required("prefixes").elements() {
                let e = try item.object(fields: ["pattern", "rules"])
                let patternNode = try e.required("pattern")
                let text = try patternNode.string()
                let pattern = try PolicyFields.rethrow(at: patternNode) { try IdentityPattern(parsing: text) }
                guard case .prefix = pattern, pattern.trustDomain == domain,
                      !prefixes.contains(where: { $0.pattern == pattern }) else {
                    throw patternNode.error(.policyBadSlice, "\(text.debugDescription) is not a new wildcard pattern of \(domain)")
                }
                prefixes.append(SlicePrefix(pattern: pattern, rules: try ruleList(e.required("rules"))))
            }
            guard inbound.updateValue(InboundPort(identities: identities, prefixes: prefixes), forKey: port) == nil else {
                throw portNode.error(.policyDuplicateEntry, "port \(port) is listed twice")
            }
        }
        var outbound: [ServiceKey: SliceDestination] = [:]
        for node in try r.required("outbound").elements() {
            let o = try node.object(fields: ["service", "identity", "address", "ports", "endpoints", "endpointsByPort", "protocols"])
            let keyNode = try o.required("service")
            let keyText = try keyNode.string()
            let key = try PolicyFields.rethrow(at: keyNode) { try ServiceKey(parsing: keyText) }
            let id = try Self.workload(o.required("identity"), domain: domain)
            var address: HostPort?
            if let n = o.optional("address") {
                let text = try n.string()
                address = try PolicyFields.rethrow(at: n) { try HostPort(parsing: text) }
            }
            var ports: [Int: [Int]] = [:]
            for item in try o.required("ports").elements() {
                let e = try item.object(fields: ["port", "rules"])
                let portNode = try e.required("port")
                let port = try portNode.int(in: 1...65535)
                guard ports.updateValue(try ruleList(e.required("rules")), forKey: port) == nil else {
                    throw portNode.error(.policyDuplicateEntry, "port \(port) is listed twice")
                }
            }
            var destination = SliceDestination(service: key, identity: id, address: address, ports: ports)
            if let n = o.optional("endpoints") {
                for item in try n.elements() {
                    let text = try item.string()
                    let endpoint = try PolicyFields.rethrow(at: item) { try HostPort(parsing: text) }
                    guard !destination.endpoints.contains(endpoint) else {
                        throw item.error(.policyDuplicateEntry, "endpoint \(endpoint) is listed twice")
                    }
                    destination.endpoints.append(endpoint)
                }
            }
            if let n = o.optional("endpointsByPort") { destination.endpointsByPort = try Self.endpointsByPort(n) }
            if let n = o.optional("protocols") { destination.protocols = try Self.protocols(n) }
            guard outbound.updateValue(destination, forKey: key) == nil else {
                throw keyNode.error(.policyDuplicateEntry, "\(key) is listed twice")
            }
        }
        self.init(version: version, service: service, identity: identity, rules: rules, inbound: inbound, outbound: outbound)
        if let node = r.optional("revoked") { revoked = try RevocationList(json: node) }
        if let node = r.optional("endpointsRevision") { endpointsRevision = try node.int(in: 0...Int.max) }
        if let node = r.optional("protocols") { portProtocols = try Self.protocols(node) }
        if let node = r.optional("issuers") {
            for item in try node.elements() { issuers.append(try SliceIssuer(node: item)) }
        }
    }

    /// `[{"port": 8080, "protocol": "http"}, …]`, ports ascending; only non-`tcp` ports are listed.
    static func protocolsJSON(_ map: [Int: PortProtocol]) -> JSONValue {
        .array(map.keys.sorted().map { .object([("port", .int($0)), ("protocol", .string(map[$0]!.rawValue))]) })
    }

    static func protocols(_ node: JSONNode) throws(MeshError) -> [Int: PortProtocol] {
        var out: [Int: PortProtocol] = [:]
        for item in try node.elements() {
            let e = try item.object(fields: ["port", "protocol"])
            let portNode = try e.required("port")
            let port = try portNode.int(in: 1...65535)
            let proto = try PolicyFields.choice(e.required("protocol"), PortProtocol.self)
            guard out.updateValue(proto, forKey: port) == nil else {
                throw portNode.error(.policyDuplicateEntry, "port \(port) is listed twice")
            }
        }
        return out
    }

    private static func numbers(_ list: [Int]) -> JSONValue { .array(list.map { .int($0) }) }

    /// A workload ID, in `domain` when given (`policy.foreign-trust-domain`).
    private static func workload(_ node: JSONNode, domain: TrustDomain?) throws(MeshError) -> SPIFFEID {
        let text = try node.string()
        let id = try PolicyFields.rethrow(at: node) { try SPIFFEID.workload(text) }
        if let domain, id.trustDomain != domain {
            throw node.error(.policyForeignTrustDomain, "\(id) is not in the trust domain \(domain)")
        }
        return id
    }
}
