import MeshAlerts
import MeshCore

/// Reading policy files (schema: `mesh-config/mesh/README.md`). A bundle is several files, each holding any of
/// `trustDomain`, `services`, `segments`, `rules`, `alerts` (alert rules, `MeshAlerts`); they are merged (files in name order) and validated all or
/// nothing. Every error's reason starts with `<file>: <json path>: ` (`rules.json: rules[3].to.services[0]: …`),
/// except strict-JSON errors, which start with `<file>: <line>:<column>[ at <path>]: `.
///
/// Codes: the `json.*` ones of `StrictJSON`, the reader's `config.wrong-type`, `config.missing-field`,
/// `config.unknown-field`, `config.out-of-range` (a port outside 1...65535), `config.bad-value` (an unknown
/// `action`/`mode`), `config.bad-address`, `config.bad-port`, the `spiffe.*` codes, and:
///
/// | code | meaning |
/// | --- | --- |
/// | `policy.no-files` / `policy.too-many-files` / `policy.duplicate-file` | the bundle itself |
/// | `policy.missing-trust-domain` / `policy.duplicate-trust-domain` | `trustDomain` must be set exactly once |
/// | `policy.bad-name` | a namespace, service, segment or rule name that is not a DNS label |
/// | `policy.bad-service-key` | a service reference that is not `namespace/name` |
/// | `policy.reserved-name` | a rule named `default-deny` |
/// | `policy.duplicate-name` | two services, segments or rules with the same name (also across files) |
/// | `policy.duplicate-entry` | the same port, service, segment or identity twice in one list |
/// | `policy.bad-label` | a label key or value outside the allowed characters or length |
/// | `policy.no-ports` | a service without ports, or a rule with `"ports": []` |
/// | `policy.bad-segment` | a segment without exactly one of a non-empty `selector` or `services` |
/// | `policy.empty-from` / `policy.empty-to` | a rule whose `from` or `to` has no entry at all |
/// | `policy.bad-pattern` | a `*` anywhere but as the whole last path segment of an identity pattern |
/// | `policy.foreign-trust-domain` | an identity pattern outside the bundle's trust domain |
/// | `policy.unknown-service` / `policy.unknown-segment` | a reference to something not defined |
/// | `policy.port-not-on-destination` | a rule port that none of the rule's destinations has |
/// | `policy.bad-time` | `expires` is not RFC 3339 UTC `YYYY-MM-DDTHH:MM:SSZ` |
/// | `policy.too-long` | a description over 1,024 bytes |
/// | `policy.too-many-rules` / `-services` / `-segments` / `-entries` / `-grants` | a `PolicyLimits` bound |
extension MeshPolicy {
    /// Longest rule description, in bytes.
    public static let maxDescriptionBytes = 1024

    /// Parses, merges and validates a bundle. Files are taken in byte order of their names, whatever order they
    /// are passed in; rules keep that order.
    public static func load(files: [(name: String, bytes: [UInt8])],
                            limits: PolicyLimits = PolicyLimits()) throws(MeshError) -> MeshPolicy {
        guard let firstName = files.map(\.name).min(by: PolicyDrafts.byBytes) else {
            throw MeshError(.policyNoFiles, "-: $: the bundle holds no files")
        }
        if files.count > limits.maxFiles {
            throw MeshError(.policyTooManyFiles, "\(firstName): $: \(files.count) files; the limit is \(limits.maxFiles)")
        }
        let sorted = files.sorted { PolicyDrafts.byBytes($0.name, $1.name) }
        var drafts = PolicyDrafts(limits: limits, firstFile: firstName)
        for (index, file) in sorted.enumerated() {
            if index > 0, sorted[index - 1].name.utf8.elementsEqual(file.name.utf8) {
                throw MeshError(.policyDuplicateFile, "\(file.name): $: the bundle holds two files of this name")
            }
            do {
                try drafts.read(file: file.name, bytes: file.bytes)
            } catch {
                throw MeshError(error.errorCode, "\(file.name): \(error.reason)")
            }
        }
        return try drafts.validate()
    }
}

/// A value's place: the file and the path inside it.
struct PolicyLocation: Sendable {
    let file: String
    let path: JSONPath

    func appending(_ key: String) -> PolicyLocation { PolicyLocation(file: file, path: path.appending(key)) }
    func appending(index: Int) -> PolicyLocation { PolicyLocation(file: file, path: path.appending(index: index)) }
    func error(_ code: ErrorCode, _ message: String) -> MeshError { MeshError(code, "\(file): \(path): \(message)") }
    var description: String { "\(file): \(path)" }
}

/// A service before the trust domain (possibly in another file) is known.
struct ServiceDraft {
    let key: ServiceKey
    let labels: [String: String]
    let ports: [Int]
    let address: HostPort?
    let at: PolicyLocation
    var protocols: [Int: PortProtocol] = [:]
}

/// Everything read so far, with locations; names are checked for duplicates as they arrive.
struct PolicyDrafts {
    let limits: PolicyLimits
    let firstFile: String
    var trustDomains: [(TrustDomain, PolicyLocation)] = []
    var services: [ServiceDraft] = []
    var segments: [(PolicySegment, PolicyLocation)] = []
    var rules: [(PolicyRule, PolicyLocation)] = []
    var alerts: [AlertRule] = []
    var issuers: [(SliceIssuer, PolicyLocation)] = []
    private var seen: [String: PolicyLocation] = [:]

    init(limits: PolicyLimits, firstFile: String) {
        self.limits = limits
        self.firstFile = firstFile
    }

    static func byBytes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    mutating func read(file: String, bytes: [UInt8]) throws(MeshError) {
        let value = try StrictJSON.parse(bytes, limits: StrictJSON.Limits(maxBytes: limits.maxDocumentBytes))
        let root = try JSONNode(value).object(fields: ["trustDomain", "services", "segments", "rules", "alerts", "issuers"])
        let here = { (node: JSONNode) in PolicyLocation(file: file, path: node.path) }
        if let node = root.optional("trustDomain") {
            let text = try node.string()
            trustDomains.append((try PolicyFields.rethrow(at: node) { try TrustDomain(text) }, here(node)))
        }
        for node in try root.optional("services")?.elements() ?? [] {
            try limit(services.count, limits.maxServices, .policyTooManyServices, "services", node)
            let service = try PolicyFields.service(node, limits: limits, at: here(node))
            try claim("service \(service.key)", node, file)
            services.append(service)
        }
        for node in try root.optional("segments")?.elements() ?? [] {
            try limit(segments.count, limits.maxSegments, .policyTooManySegments, "segments", node)
            let segment = try PolicyFields.segment(node, limits: limits)
            try claim("segment \(segment.name)", node, file)
            segments.append((segment, here(node)))
        }
        for node in try root.optional("rules")?.elements() ?? [] {
            try limit(rules.count, limits.maxRules, .policyTooManyRules, "rules", node)
            let rule = try PolicyFields.rule(node, limits: limits)
            try claim("rule \(rule.name)", node, file)
            rules.append((rule, here(node)))
        }
        for node in try root.optional("issuers")?.elements() ?? [] {
            try limit(issuers.count, limits.maxEntriesPerList, .policyTooManyEntries, "issuers", node)
            let issuer = try IssuerFields.issuer(node, limits: limits)
            try claim("issuer \(issuer.issuer)", node, file)
            issuers.append((issuer, here(node)))
        }
        // Alert rules ride the same versioned, audited store as the rest of the mesh (README "Alert rules").
        for node in try root.optional("alerts")?.elements() ?? [] {
            try limit(alerts.count, AlertLimits().maxRules, .alertTooManyRules, "alert rules", node)
            let alert = try AlertRule(node)
            try claim("alert \(alert.name)", node, file)
            alerts.append(alert)
        }
    }

    private func limit(_ count: Int, _ max: Int, _ code: ErrorCode, _ what: String, _ node: JSONNode) throws(MeshError) {
        if count >= max { throw node.error(code, "more than \(max) \(what) in the bundle") }
    }

    /// Records `what` ("rule x") as defined at `node`; a second definition is `policy.duplicate-name`.
    private mutating func claim(_ what: String, _ node: JSONNode, _ file: String) throws(MeshError) {
        let at = PolicyLocation(file: file, path: node.path)
        if let first = seen[what] {
            throw node.error(.policyDuplicateName, "\(what) is already defined at \(first.description)")
        }
        seen[what] = at
    }
}
