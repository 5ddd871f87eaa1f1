import MeshAlerts
import MeshCore

/// What `meshctl apply` shows before replacing a policy: one line per added (`+`), removed (`-`) or changed (`~`)
/// service, segment or rule, changed fields one line each (`~ rule x: ports [8080] → [8080, 9090]`).
extension MeshPolicy {
    /// Lines describing how to get from `old` (nil: nothing yet) to this policy: the trust domain, then services,
    /// segments and rules; within each kind, removals (in old order) before additions and changes (in new order).
    public func diff(from old: MeshPolicy?) -> [String] {
        var lines: [String] = []
        if let old {
            if old.trustDomain != trustDomain { lines.append("~ trustDomain: \(old.trustDomain) → \(trustDomain)") }
        } else {
            lines.append("+ trustDomain \(trustDomain)")
        }
        lines += Self.diff("service", old?.services ?? [], services, name: \.key.description, fields: Self.fields)
        lines += Self.diff("segment", old?.segments ?? [], segments, name: \.name, fields: Self.fields)
        lines += Self.diff("rule", old?.rules ?? [], rules, name: \.name, fields: Self.fields)
        lines += Self.diff("alert", old?.alerts ?? [], alerts, name: \.name, fields: Self.fields)
        lines += Self.diff("issuer", old?.issuers ?? [], issuers, name: \.issuer) { [("definition", IssuerFields.json($0).text)] }
        return lines
    }

    private static func diff<T>(_ kind: String, _ old: [T], _ new: [T], name: (T) -> String,
                                fields: (T) -> [(String, String)]) -> [String] {
        var oldByName: [String: T] = [:]
        for item in old { oldByName[name(item)] = item }
        let newNames = Set(new.map(name))
        var lines = old.map(name).filter { !newNames.contains($0) }.map { "- \(kind) \($0)" }
        for item in new {
            let itemName = name(item)
            guard let before = oldByName[itemName] else {
                lines.append("+ \(kind) \(itemName)")
                continue
            }
            for ((field, was), (_, now)) in zip(fields(before), fields(item)) where was != now {
                lines.append("~ \(kind) \(itemName): \(field) \(was) → \(now)")
            }
        }
        return lines
    }

    private static func fields(_ s: PolicyService) -> [(String, String)] {
        [("labels", labels(s.labels)), ("ports", list(s.ports.sorted())), ("address", s.address?.description ?? "none"),
         ("protocols", s.protocols.keys.sorted().map { "\($0)=\(s.protocols[$0]!.rawValue)" }.joined(separator: ", "))]
    }

    private static func fields(_ s: PolicySegment) -> [(String, String)] {
        [("selector", s.selector.map(labels) ?? "none"), ("services", s.services.map(list) ?? "none"),
         ("members", list(s.members))]
    }

    private static func fields(_ r: PolicyRule) -> [(String, String)] {
        [("action", r.action.rawValue), ("mode", r.mode.rawValue),
         ("from.segments", list(r.from.segments)), ("from.services", list(r.from.services)),
         ("from.identities", list(r.from.identities)),
         ("to.segments", list(r.to.segments)), ("to.services", list(r.to.services)),
         ("ports", r.ports.map { list($0.sorted()) } ?? "all"), ("expires", r.expires?.description ?? "never"),
         ("description", r.description?.debugDescription ?? "none"),
         ("rateLimit", r.rateLimit.map { "\(ThrottleList.text($0.connectionsPerSecond))/s burst \(ThrottleList.text($0.burst))" } ?? "none"),
         ("http", r.http?.json.text ?? "none"), ("jwt", r.jwt?.json.text ?? "none")]
    }

    private static func list<T: CustomStringConvertible>(_ items: [T]) -> String {
        "[" + items.map(\.description).joined(separator: ", ") + "]"
    }

    private static func labels(_ labels: [String: String]) -> String {
        "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + "}"
    }

    /// An alert rule's fields as the file schema writes them (`~ alert x: threshold 10 → 20`).
    static func fields(_ alert: AlertRule) -> [(String, String)] {
        guard case .object(let members) = alert.json else { return [] }
        let keys = ["kind", "severity", "threshold", "distinct", "window", "learningPeriod", "within", "after", "for", "resolveAfter",
                    "action", "quarantineFor", "description"]
        return keys.map { key in (key, members.first { $0.0 == key }?.1.text ?? "-") }
    }
}
