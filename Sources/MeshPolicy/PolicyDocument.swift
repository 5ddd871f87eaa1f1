import MeshAlerts
import MeshCore

/// Writing a policy back as one document of the file schema (for `meshctl get … -o json` and for storing a
/// bundle): `MeshPolicy.load(files: [("bundle.json", Array(policy.json().text.utf8))])` gives the policy back.
extension MeshPolicy {
    public func json() -> JSONValue {
        var members: [(String, JSONValue)] = [("trustDomain", .string(trustDomain.name)),
                                              ("services", .array(services.map(Self.json))),
                                              ("segments", .array(segments.map(Self.json))),
                                              ("rules", .array(rules.map(Self.json)))]
        if !alerts.isEmpty { members.append(("alerts", .array(alerts.map(\.json)))) }
        if !issuers.isEmpty { members.append(("issuers", .array(issuers.map(IssuerFields.json)))) }
        return .object(members)
    }

    static func json(_ service: PolicyService) -> JSONValue {
        var members: [(String, JSONValue)] = [("namespace", .string(service.key.namespace)), ("name", .string(service.key.name))]
        if !service.labels.isEmpty { members.append(("labels", labels(service.labels))) }
        members.append(("ports", PortProtocols.portsJSON(service)))
        if let address = service.address { members.append(("address", .string(address.description))) }
        return .object(members)
    }

    static func json(_ segment: PolicySegment) -> JSONValue {
        var members: [(String, JSONValue)] = [("name", .string(segment.name))]
        if let selector = segment.selector { members.append(("selector", labels(selector))) }
        if let services = segment.services { members.append(("services", strings(services))) }
        return .object(members)
    }

    static func json(_ rule: PolicyRule) -> JSONValue {
        var from: [(String, JSONValue)] = []
        if !rule.from.segments.isEmpty { from.append(("segments", strings(rule.from.segments))) }
        if !rule.from.services.isEmpty { from.append(("services", strings(rule.from.services))) }
        if !rule.from.identities.isEmpty { from.append(("identities", strings(rule.from.identities))) }
        var to: [(String, JSONValue)] = []
        if !rule.to.segments.isEmpty { to.append(("segments", strings(rule.to.segments))) }
        if !rule.to.services.isEmpty { to.append(("services", strings(rule.to.services))) }
        var members: [(String, JSONValue)] = [("name", .string(rule.name)), ("action", .string(rule.action.rawValue)),
                                              ("from", .object(from)), ("to", .object(to))]
        if let ports = rule.ports { members.append(("ports", .array(ports.map { .int($0) }))) }
        members.append(("mode", .string(rule.mode.rawValue)))
        if let expires = rule.expires { members.append(("expires", .string(expires.description))) }
        if let description = rule.description { members.append(("description", .string(description))) }
        if let l = rule.rateLimit {
            members.append(("rateLimit", .object([("connectionsPerSecond", .number(ThrottleList.text(l.connectionsPerSecond))),
                                                  ("burst", .number(ThrottleList.text(l.burst)))])))
        }
        if let http = rule.http { members.append(("http", http.json)) }
        if let jwt = rule.jwt { members.append(("jwt", jwt.json)) }
        return .object(members)
    }

    private static func labels(_ labels: [String: String]) -> JSONValue {
        .object(labels.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { ($0.key, .string($0.value)) })
    }

    private static func strings<T: CustomStringConvertible>(_ items: [T]) -> JSONValue {
        .array(items.map { .string($0.description) })
    }
}
