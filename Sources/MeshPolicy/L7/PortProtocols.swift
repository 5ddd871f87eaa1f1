import MeshCore

/// The L7 parts of the mesh files: `ports` entries with a protocol, a rule's `http` and `jwt` members, and the
/// checks that need the whole bundle (issuers exist; L7 conditions only on `http` ports).
enum PortProtocols {
    /// A service's `ports`: each an integer (`tcp`) or `{"port": 8080, "protocol": "http"}`. Returns the ports
    /// (as `PolicyFields.portList`) and the non-`tcp` protocols.
    static func servicePorts(_ node: JSONNode, limits: PolicyLimits) throws(MeshError) -> ([Int], [Int: PortProtocol]) {
        var protocols: [Int: PortProtocol] = [:]
        let ports = try PolicyFields.list(node, limits: limits) { n throws(MeshError) in
            guard case .object = n.value else { return try n.int(in: 1...65535) }
            let o = try n.object(fields: ["port", "protocol"])
            let port = try o.required("port").int(in: 1...65535)
            let proto = try PolicyFields.choice(o.required("protocol"), PortProtocol.self)
            if proto != .tcp { protocols[port] = proto }
            return port
        }
        if ports.isEmpty { throw node.error(.policyNoPorts, "at least one port is needed") }
        return (ports, protocols)
    }

    /// The file form of a service's ports: integers, and objects for the non-`tcp` ones.
    static func portsJSON(_ service: PolicyService) -> JSONValue {
        .array(service.ports.map { port in
            guard let p = service.protocols[port] else { return .int(port) }
            return .object([("port", .int(port)), ("protocol", .string(p.rawValue))])
        })
    }

    /// Reads a rule's optional `http` and `jwt` members.
    static func readL7(_ r: JSONObjectReader, into rule: inout PolicyRule, limits: PolicyLimits) throws(MeshError) {
        if let n = r.optional("http") { rule.http = try HTTPMatch.parse(n, limits: limits) }
        if let n = r.optional("jwt") {
            guard rule.action == .allow else {
                throw n.error(.policyBadJwtRequirement,
                              "only allow rules carry a jwt requirement (a deny that needs a token would be lifted by sending none)")
            }
            rule.jwt = try JWTRequirement.parse(n, limits: limits)
        }
    }

    /// Whole-bundle checks of one rule: its `jwt` issuers are defined, and a rule with `http` or `jwt` covers
    /// only `http` ports on every destination it reaches. Codes `policy.unknown-issuer`, `policy.http-on-tcp-port`.
    static func validate(_ rule: PolicyRule, at: PolicyLocation, destinations: [PolicyService],
                         issuers: Set<String>) throws(MeshError) {
        if let jwt = rule.jwt {
            for (j, name) in jwt.issuers.enumerated() where !issuers.contains(name) {
                throw at.appending("jwt").appending("issuers").appending(index: j).error(
                    .policyUnknownIssuer, "unknown issuer \(name.debugDescription) (define it in issuers)")
            }
        }
        guard rule.http != nil || rule.jwt != nil else { return }
        for service in destinations {
            for port in PolicyDrafts.ports(of: rule, at: service) where service.protocol(port: port) != .http {
                let what = rule.http != nil ? "an http match" : "a jwt requirement"
                throw at.error(.policyHttpOnTcpPort,
                               "the rule has \(what) but reaches \(service.key) port \(port), which is tcp; declare it {\"port\": \(port), \"protocol\": \"http\"} or narrow the rule's ports")
            }
        }
    }
}
