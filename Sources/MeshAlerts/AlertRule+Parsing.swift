import MeshCore

/// Reading one alert rule object (an element of a mesh file's `alerts`). Errors are `<path>: <problem>`; the
/// bundle loader puts the file name in front. Codes: the reader's `config.*`, `policy.bad-name`,
/// `policy.too-long` (description), `config.bad-value` (kind, severity, action) and the `alert.*` codes.
extension AlertRule {
    static let fields: Set<String> = ["name", "kind", "severity", "threshold", "distinct", "window", "learningPeriod", "within",
                                      "after", "for", "resolveAfter", "action", "quarantineFor", "throttlePerSecond",
                                      "throttleFor", "description"]
    static let kindParameters: Set<String> = ["threshold", "distinct", "window", "learningPeriod", "within", "after"]
    /// Longest description, in bytes (as for policy rules).
    public static let maxDescriptionBytes = 1024

    public init(_ node: JSONNode) throws(MeshError) {
        let r = try node.object(fields: Self.fields)
        let nameNode = try r.required("name")
        name = try nameNode.string()
        guard Self.isLabel(name) else {
            throw nameNode.error(.policyBadName, "\(name.debugDescription) is not a DNS label (1 to 63 of a-z, 0-9, -; no - at either end)")
        }
        kind = try Self.choice(r.required("kind"), AlertKind.self)
        severity = try Self.choice(r.required("severity"), AlertSeverity.self)
        for field in Self.kindParameters.subtracting(kind.parameters).sorted() {
            if let n = r.optional(field) {
                throw n.error(.alertParameterNotForKind, "\(kind.rawValue) takes no \(field); it takes: "
                              + (kind.parameters.isEmpty ? "nothing" : kind.parameters.sorted().joined(separator: ", ")))
            }
        }
        threshold = try r.optional("threshold")?.int(in: 1...1_000_000_000)
        distinct = try r.optional("distinct")?.int(in: 2...AlertLimits.maxDistinct)
        window = try Self.duration(r.optional("window"), max: AlertLimits.maxDuration)
        learningPeriod = try Self.duration(r.optional("learningPeriod"), max: 30 * 86_400, zero: true)
        within = try Self.duration(r.optional("within"), max: 30 * 86_400)
        after = try Self.duration(r.optional("after"), max: AlertLimits.maxDuration)
        forSeconds = try Self.duration(r.optional("for"), max: AlertLimits.maxDuration, zero: true) ?? 0
        resolveAfter = try Self.duration(r.optional("resolveAfter"), max: AlertLimits.maxDuration, zero: true)
        if kind == .denySpike, threshold == nil { throw MeshError(.alertMissingParameter, "\(node.path): deny-spike needs threshold") }
        if kind == .probing, distinct == nil { throw MeshError(.alertMissingParameter, "\(node.path): probing needs distinct") }
        action = try r.optional("action").map { n throws(MeshError) in try Self.choice(n, AlertAction.self) }
        if let action, [.certificateExpiring, .sidecarStale, .policyOutOfSync].contains(kind) {
            throw node.appendingPathError("action", .alertBadAction,
                                          "\(kind.rawValue) is about availability, not a threat: it cannot \(action.rawValue)")
        }
        let forNode = r.optional("quarantineFor")
        quarantineFor = try Self.duration(forNode, max: AlertLimits.maxQuarantine)
        if let forNode, action != .quarantine {
            throw forNode.error(.alertBadAction, "quarantineFor needs \"action\": \"quarantine\"")
        }
        let rateNode = r.optional("throttlePerSecond")
        throttlePerSecond = try rateNode?.double(in: 0.001...100_000)
        if let rateNode, action != .throttle {
            throw rateNode.error(.alertBadAction, "throttlePerSecond needs \"action\": \"throttle\"")
        }
        if action == .throttle, throttlePerSecond == nil {
            throw MeshError(.alertMissingParameter, "\(node.path): action throttle needs throttlePerSecond")
        }
        let throttleForNode = r.optional("throttleFor")
        throttleFor = try Self.duration(throttleForNode, max: AlertLimits.maxQuarantine)
        if let throttleForNode, action != .throttle {
            throw throttleForNode.error(.alertBadAction, "throttleFor needs \"action\": \"throttle\"")
        }
        description = try r.optional("description")?.string()
        if let description, description.utf8.count > Self.maxDescriptionBytes {
            throw node.appendingPathError("description", .policyTooLong,
                                          "\(description.utf8.count) bytes; the limit is \(Self.maxDescriptionBytes)")
        }
    }

    /// The rule in the file schema (durations as whole seconds: `"90s"`), so a stored bundle reads back equal.
    public var json: JSONValue {
        var m: [(String, JSONValue)] = [("name", .string(name)), ("kind", .string(kind.rawValue)), ("severity", .string(severity.rawValue))]
        if let threshold { m.append(("threshold", .int(threshold))) }
        if let distinct { m.append(("distinct", .int(distinct))) }
        for (key, value) in [("window", window), ("learningPeriod", learningPeriod), ("within", within), ("after", after)] {
            if let value { m.append((key, .string("\(value)s"))) }
        }
        if forSeconds > 0 { m.append(("for", .string("\(forSeconds)s"))) }
        if let resolveAfter { m.append(("resolveAfter", .string("\(resolveAfter)s"))) }
        if let action { m.append(("action", .string(action.rawValue))) }
        if let quarantineFor { m.append(("quarantineFor", .string("\(quarantineFor)s"))) }
        if let throttlePerSecond { m.append(("throttlePerSecond", .number(ThrottleList.text(throttlePerSecond)))) }
        if let throttleFor { m.append(("throttleFor", .string("\(throttleFor)s"))) }
        if let description { m.append(("description", .string(description))) }
        return .object(m)
    }

    /// `30s`, `5m`, `1h`, `2d` or plain seconds, whole, 1 … max (0 allowed where `zero`).
    static func duration(_ node: JSONNode?, max: Int, zero: Bool = false) throws(MeshError) -> Int? {
        guard let node else { return nil }
        let text = try node.string()
        if zero, text == "0" || text == "0s" { return 0 }
        let seconds: Double
        do { seconds = try DurationText.seconds(text, max: Double(max)) } catch {
            throw node.error(.alertBadDuration, "\(text.debugDescription): expected a duration like 30s, 5m, 1h or 2d, at most \(max) s")
        }
        guard seconds >= 1, seconds == seconds.rounded() else {
            throw node.error(.alertBadDuration, "\(text.debugDescription): expected whole seconds, at least 1")
        }
        return Int(seconds)
    }

    static func choice<T: RawRepresentable & CaseIterable>(_ node: JSONNode, _: T.Type) throws(MeshError) -> T where T.RawValue == String {
        let text = try node.string()
        guard let value = T.allCases.first(where: { $0.rawValue.utf8.elementsEqual(text.utf8) }) else {
            throw node.error(.configBadValue, "\(text.debugDescription): expected one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    static func isLabel(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard (1...63).contains(b.count), b.first != 0x2D, b.last != 0x2D else { return false }
        return b.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }
}

extension JSONNode {
    func appendingPathError(_ key: String, _ code: ErrorCode, _ message: String) -> MeshError {
        MeshError(code, "\(path.appending(key)): \(message)")
    }
}
