import MeshCore
import MeshPolicy
import Testing
import MeshTestSupport

/// Builds policy bundles for tests from small, valid parts.
enum PolicyDoc {
    static let services = """
    [{"namespace": "shop", "name": "frontend", "labels": {"tier": "web"}, "ports": [8080], "address": "127.0.0.1:15443"},
     {"namespace": "shop", "name": "orders", "labels": {"tier": "backend"}, "ports": [8080]},
     {"namespace": "shop", "name": "payments", "labels": {"tier": "backend", "pci": "true"}, "ports": [8080, 9090], "address": "127.0.0.1:15444"},
     {"namespace": "shop", "name": "ledger", "labels": {"pci": "true"}, "ports": [8080, 9090]}]
    """
    static let segments = #"[{"name": "pci", "selector": {"pci": "true"}}, {"name": "web", "services": ["shop/frontend"]}]"#

    /// A rule object; `extra` is spliced in as further members (`"ports": [8080]`).
    static func rule(_ name: String, _ action: String = "allow", from: String = #"{"services": ["shop/frontend"]}"#,
                     to: String = #"{"services": ["shop/payments"]}"#, _ extra: String = "") -> String {
        #"{"name": "\#(name)", "action": "\#(action)", "from": \#(from), "to": \#(to)\#(extra.isEmpty ? "" : ", " + extra)}"#
    }

    /// One file `mesh.json` with the trust domain, the services and segments above, and `rules`.
    static func single(rules: [String], services: String = services, segments: String = segments) -> String {
        #"{"trustDomain": "mesh.local", "services": \#(services), "segments": \#(segments), "rules": [\#(rules.joined(separator: ", "))]}"#
    }

    static func files(_ files: [(String, String)]) -> [(name: String, bytes: [UInt8])] {
        files.map { (name: $0.0, bytes: Array($0.1.utf8)) }
    }

    static func load(rules: [String], limits: PolicyLimits = PolicyLimits()) throws -> MeshPolicy {
        try MeshPolicy.load(files: files([("mesh.json", single(rules: rules))]), limits: limits)
    }

    static func id(_ text: String) -> SPIFFEID { try! SPIFFEID(parsing: text) }
    static func sa(_ name: String, ns: String = "shop") -> SPIFFEID { id("spiffe://mesh.local/ns/\(ns)/sa/\(name)") }
    static func key(_ name: String) -> ServiceKey { ServiceKey(namespace: "shop", name: name) }
}

/// A bundle that must be refused with `code`, the reason starting with `prefix` (`file: path: `).
struct BadBundle: Sendable, CustomTestStringConvertible {
    let name: String
    let files: [(String, String)]
    let code: String
    let prefix: String
    var testDescription: String { name }

    init(_ name: String, rules: [String], _ code: String, _ prefix: String) {
        self.init(name, [("mesh.json", PolicyDoc.single(rules: rules))], code, prefix)
    }

    init(_ name: String, _ files: [(String, String)], _ code: String, _ prefix: String) {
        self.name = name
        self.files = files
        self.code = code
        self.prefix = prefix
    }
}

@Suite struct PolicyParsingTests {
    typealias D = PolicyDoc

    @Test func readsEveryField() throws {
        let rule = D.rule("r", "deny", from: #"{"segments": ["web"], "services": ["shop/orders"], "identities": ["spiffe://mesh.local/ns/batch/sa/*", "spiffe://mesh.local/ns/ops/sa/probe"]}"#,
                          to: #"{"segments": ["pci"], "services": ["shop/orders"]}"#,
                          #""ports": [9090], "mode": "audit", "expires": "2026-12-31T00:00:00Z", "description": "why""#)
        let policy = try D.load(rules: [rule])
        #expect(policy.trustDomain.name == "mesh.local")
        #expect(policy.services.map(\.key.description) == ["shop/frontend", "shop/orders", "shop/payments", "shop/ledger"])
        let payments = try #require(policy.service(D.key("payments")))
        #expect(payments.identity == D.sa("payments"))
        #expect(payments.labels == ["tier": "backend", "pci": "true"])
        #expect(payments.ports == [8080, 9090])
        #expect(payments.address == HostPort(host: "127.0.0.1", port: 15444))
        #expect(policy.service(D.key("orders"))?.address == nil)
        #expect(policy.segment(named: "pci")?.members == [D.key("ledger"), D.key("payments")])
        #expect(policy.segment(named: "web")?.members == [D.key("frontend")])
        let r = try #require(policy.rule(named: "r"))
        #expect(r.action == .deny && r.mode == .audit && r.ports == [9090] && r.description == "why")
        #expect(r.expires?.secondsSinceEpoch == 1_798_675_200)
        #expect(r.from.segments == ["web"] && r.from.services == [D.key("orders")])
        #expect(r.from.identities.map(\.description) == ["spiffe://mesh.local/ns/batch/sa/*", "spiffe://mesh.local/ns/ops/sa/probe"])
        #expect(r.to.segments == ["pci"] && r.to.services == [D.key("orders")])
        let plain = try #require(try D.load(rules: [D.rule("p")]).rules.first)
        #expect(plain.mode == .enforce && plain.ports == nil && plain.expires == nil && plain.description == nil)
    }

    @Test func mergesFilesInNameOrder() throws {
        let files = D.files([
            ("b-rules.json", #"{"rules": [\#(D.rule("second"))]}"#),
            ("a-rules.json", #"{"rules": [\#(D.rule("first"))]}"#),
            ("services.json", #"{"trustDomain": "mesh.local", "services": \#(D.services)}"#),
            ("segments.json", #"{"segments": \#(D.segments)}"#),
        ])
        let policy = try MeshPolicy.load(files: files)
        #expect(policy.rules.map(\.name) == ["first", "second"])
        #expect(try MeshPolicy.load(files: files.reversed()) == policy)
        #expect(policy.segments.count == 2 && policy.services.count == 4)
    }

    @Test func writesADocumentThatLoadsBack() throws {
        let policy = try D.load(rules: [
            D.rule("a", from: #"{"segments": ["web"], "identities": ["spiffe://mesh.local/ns/batch/sa/*"]}"#,
                   to: #"{"segments": ["pci"]}"#, #""ports": [8080], "expires": "2027-01-01T00:00:00Z", "description": "d \"q\"""#),
            D.rule("b", "deny", #""mode": "audit""#),
        ])
        let text = policy.json().text
        #expect(try MeshPolicy.load(files: D.files([("bundle.json", text)])) == policy)
    }

    static let badBundles: [BadBundle] = [
        BadBundle("unknown service in to", rules: [D.rule("r", to: #"{"services": ["shop/ledgr"]}"#)],
                  "policy.unknown-service", #"mesh.json: rules[0].to.services[0]: unknown service "shop/ledgr""#),
        BadBundle("unknown service in from", rules: [D.rule("ok"), D.rule("r", from: #"{"services": ["shop/frontend", "x/y"]}"#)],
                  "policy.unknown-service", "mesh.json: rules[1].from.services[1]: "),
        BadBundle("unknown segment", rules: [D.rule("r", from: #"{"segments": ["webb"]}"#)],
                  "policy.unknown-segment", "mesh.json: rules[0].from.segments[0]: "),
        BadBundle("unknown segment in to", rules: [D.rule("r", to: #"{"segments": ["pcii"]}"#)],
                  "policy.unknown-segment", "mesh.json: rules[0].to.segments[0]: "),
        BadBundle("bad service key", rules: [D.rule("r", to: #"{"services": ["payments"]}"#)],
                  "policy.bad-service-key", "mesh.json: rules[0].to.services[0]: "),
        BadBundle("duplicate rule name", rules: [D.rule("r"), D.rule("r", "deny")], "policy.duplicate-name", "mesh.json: rules[1]: "),
        BadBundle("duplicate rule across files", [("a.json", PolicyDoc.single(rules: [D.rule("r")])),
                                                   ("b.json", #"{"rules": [\#(D.rule("r"))]}"#)],
                  "policy.duplicate-name", "b.json: rules[0]: rule r is already defined at a.json: rules[0]"),
        BadBundle("duplicate service", [("s.json", #"{"trustDomain": "mesh.local", "services": [{"namespace": "a", "name": "b", "ports": [1]}, {"namespace": "a", "name": "b", "ports": [2]}]}"#)],
                  "policy.duplicate-name", "s.json: services[1]: "),
        BadBundle("duplicate entry", rules: [D.rule("r", from: #"{"services": ["shop/frontend", "shop/frontend"]}"#)],
                  "policy.duplicate-entry", "mesh.json: rules[0].from.services[1]: "),
        BadBundle("duplicate key", rules: [#"{"name": "r", "name": "s"}"#], "json.duplicate-key", "mesh.json: 4:"),
        BadBundle("malformed JSON", [("m.json", #"{"rules": [}"#)], "json.syntax", "m.json: 1:"),
        BadBundle("unknown field", rules: [D.rule("r", "allow", #""expire": "2027-01-01T00:00:00Z""#)],
                  "config.unknown-field", "mesh.json: rules[0].expire: "),
        BadBundle("unknown top-level field", [("m.json", #"{"trustDomain": "mesh.local", "rule": []}"#)],
                  "config.unknown-field", "m.json: rule: "),
        BadBundle("wildcard in the middle", rules: [D.rule("r", from: #"{"identities": ["spiffe://mesh.local/ns/*/sa/x"]}"#)],
                  "policy.bad-pattern", "mesh.json: rules[0].from.identities[0]: "),
        BadBundle("partial wildcard", rules: [D.rule("r", from: #"{"identities": ["spiffe://mesh.local/ns/batch/sa/job-*"]}"#)],
                  "policy.bad-pattern", "mesh.json: rules[0].from.identities[0]: "),
        BadBundle("uppercase trust domain in pattern", rules: [D.rule("r", from: #"{"identities": ["spiffe://Mesh.local/ns/batch/sa/*"]}"#)],
                  "spiffe.bad-trust-domain-char", "mesh.json: rules[0].from.identities[0]: "),
        BadBundle("empty segment before wildcard", rules: [D.rule("r", from: #"{"identities": ["spiffe://mesh.local/ns//*"]}"#)],
                  "spiffe.trailing-slash", "mesh.json: rules[0].from.identities[0]: "),
        BadBundle("empty segment in wildcard", rules: [D.rule("r", from: #"{"identities": ["spiffe://mesh.local/ns//sa/*"]}"#)],
                  "spiffe.empty-segment", "mesh.json: rules[0].from.identities[0]: "),
        BadBundle("dot segment in wildcard", rules: [D.rule("r", from: #"{"identities": ["spiffe://mesh.local/ns/../*"]}"#)],
                  "spiffe.dot-segment", "mesh.json: rules[0].from.identities[0]: "),
        BadBundle("trust-domain ID as identity", rules: [D.rule("r", from: #"{"identities": ["spiffe://mesh.local"]}"#)],
                  "spiffe.no-path", "mesh.json: rules[0].from.identities[0]: "),
        BadBundle("foreign trust domain", rules: [D.rule("r", from: #"{"identities": ["spiffe://other.example/ns/a/sa/b"]}"#)],
                  "policy.foreign-trust-domain", "mesh.json: rules[0].from.identities[0]: "),
        BadBundle("port out of range", rules: [D.rule("r", "allow", #""ports": [0]"#)], "config.out-of-range", "mesh.json: rules[0].ports[0]: "),
        BadBundle("service port out of range", [("s.json", #"{"trustDomain": "mesh.local", "services": [{"namespace": "a", "name": "b", "ports": [65536]}]}"#)],
                  "config.out-of-range", "s.json: services[0].ports[0]: "),
        BadBundle("rule port not on destination", rules: [D.rule("r", to: #"{"segments": ["pci"], "services": ["shop/orders"]}"#, #""ports": [8080, 7070]"#)],
                  "policy.port-not-on-destination", "mesh.json: rules[0].ports[1]: port 7070"),
        BadBundle("empty ports", rules: [D.rule("r", "allow", #""ports": []"#)], "policy.no-ports", "mesh.json: rules[0].ports: "),
        BadBundle("service without ports", [("s.json", #"{"trustDomain": "mesh.local", "services": [{"namespace": "a", "name": "b", "ports": []}]}"#)],
                  "policy.no-ports", "s.json: services[0].ports: "),
        BadBundle("bad expires", rules: [D.rule("r", "allow", #""expires": "2027-02-29T00:00:00Z""#)], "policy.bad-time", "mesh.json: rules[0].expires: "),
        BadBundle("expires with offset", rules: [D.rule("r", "allow", #""expires": "2027-01-01T00:00:00+01:00""#)], "policy.bad-time", "mesh.json: rules[0].expires: "),
        BadBundle("bad action", rules: [D.rule("r", "permit")], "config.bad-value", "mesh.json: rules[0].action: "),
        BadBundle("bad mode", rules: [D.rule("r", "allow", #""mode": "Audit""#)], "config.bad-value", "mesh.json: rules[0].mode: "),
        BadBundle("empty from", rules: [D.rule("r", from: #"{"services": []}"#)], "policy.empty-from", "mesh.json: rules[0].from: "),
        BadBundle("empty to", rules: [D.rule("r", to: "{}")], "policy.empty-to", "mesh.json: rules[0].to: "),
        BadBundle("identities in to", rules: [D.rule("r", to: #"{"identities": []}"#)], "config.unknown-field", "mesh.json: rules[0].to.identities: "),
        BadBundle("reserved rule name", rules: [D.rule("default-deny")], "policy.reserved-name", "mesh.json: rules[0].name: "),
        BadBundle("uppercase rule name", rules: [D.rule("Frontend")], "policy.bad-name", "mesh.json: rules[0].name: "),
        BadBundle("wrong type", rules: [D.rule("r", "allow", #""ports": "8080""#)], "config.wrong-type", "mesh.json: rules[0].ports: "),
        BadBundle("missing action", rules: [#"{"name": "r", "from": {"services": ["shop/frontend"]}, "to": {"services": ["shop/orders"]}}"#],
                  "config.missing-field", "mesh.json: rules[0].action: "),
        BadBundle("description too long", rules: [D.rule("r", "allow", #""description": "\#(String(repeating: "x", count: 1025))""#)],
                  "policy.too-long", "mesh.json: rules[0].description: "),
        BadBundle("segment with selector and services", [("m.json", PolicyDoc.single(rules: [], segments: #"[{"name": "s", "selector": {"a": "b"}, "services": ["shop/orders"]}]"#))],
                  "policy.bad-segment", "m.json: segments[0]: "),
        BadBundle("segment with empty selector", [("m.json", PolicyDoc.single(rules: [], segments: #"[{"name": "s", "selector": {}}]"#))],
                  "policy.bad-segment", "m.json: segments[0]: "),
        BadBundle("segment listing unknown service", [("m.json", PolicyDoc.single(rules: [], segments: #"[{"name": "s", "services": ["shop/orders", "shop/nope"]}]"#))],
                  "policy.unknown-service", "m.json: segments[0].services[1]: "),
        BadBundle("bad label", [("m.json", #"{"trustDomain": "mesh.local", "services": [{"namespace": "a", "name": "b", "ports": [1], "labels": {"x": "a b"}}]}"#)],
                  "policy.bad-label", "m.json: services[0].labels.x: "),
        BadBundle("bad address", [("m.json", #"{"trustDomain": "mesh.local", "services": [{"namespace": "a", "name": "b", "ports": [1], "address": "localhost:1"}]}"#)],
                  "config.bad-address", "m.json: services[0].address: "),
        BadBundle("bad namespace", [("m.json", #"{"trustDomain": "mesh.local", "services": [{"namespace": "A", "name": "b", "ports": [1]}]}"#)],
                  "policy.bad-name", "m.json: services[0].namespace: "),
        BadBundle("uppercase trust domain", [("m.json", #"{"trustDomain": "Mesh.local"}"#)], "spiffe.bad-trust-domain-char", "m.json: trustDomain: "),
        BadBundle("two trust domains", [("a.json", #"{"trustDomain": "mesh.local"}"#), ("b.json", #"{"trustDomain": "mesh.local"}"#)],
                  "policy.duplicate-trust-domain", "b.json: trustDomain: trustDomain is already set at a.json: trustDomain"),
        BadBundle("no trust domain", [("b.json", #"{"rules": []}"#), ("a.json", #"{"services": []}"#)], "policy.missing-trust-domain", "a.json: $: "),
        BadBundle("two files of one name", [("a.json", "{}"), ("a.json", "{}")], "policy.duplicate-file", "a.json: $: "),
        BadBundle("no files", [], "policy.no-files", "-: $: "),
    ]

    @Test(arguments: badBundles)
    func refuses(bundle: BadBundle) {
        expectMeshError(bundle.code, reasonPrefix: bundle.prefix) {
            _ = try MeshPolicy.load(files: PolicyDoc.files(bundle.files))
        }
    }

    @Test func enforcesLimits() {
        func rules(_ n: Int) -> [String] { (0..<n).map { D.rule("r\($0)") } }
        expectMeshError("policy.too-many-rules", reasonPrefix: "mesh.json: rules[3]: ") {
            _ = try D.load(rules: rules(4), limits: PolicyLimits(maxRules: 3))
        }
        #expect((try? D.load(rules: rules(3), limits: PolicyLimits(maxRules: 3))) != nil)
        expectMeshError("policy.too-many-services", reasonPrefix: "mesh.json: services[2]: ") {
            _ = try D.load(rules: [], limits: PolicyLimits(maxServices: 2))
        }
        expectMeshError("policy.too-many-segments", reasonPrefix: "mesh.json: segments[1]: ") {
            _ = try D.load(rules: [], limits: PolicyLimits(maxSegments: 1))
        }
        expectMeshError("policy.too-many-entries", reasonPrefix: "mesh.json: rules[0].from.services: ") {
            _ = try D.load(rules: [D.rule("r", from: #"{"services": ["shop/frontend", "shop/orders", "shop/ledger"]}"#)],
                           limits: PolicyLimits(maxEntriesPerList: 2))
        }
        expectMeshError("json.too-large", reasonPrefix: "mesh.json: 1:1: ") {
            _ = try D.load(rules: [], limits: PolicyLimits(maxDocumentBytes: 100))
        }
        expectMeshError("policy.too-many-files", reasonPrefix: "a: $: ") {
            _ = try MeshPolicy.load(files: D.files([("a", "{}"), ("b", "{}")]), limits: PolicyLimits(maxFiles: 1))
        }
        // broad: 4 destination ports (pci: 2 services × 2) × (1 identity inbound + 1 caller outbound) = 8; one: 2.
        let broad = D.rule("broad", from: #"{"segments": ["web"]}"#, to: #"{"segments": ["pci"]}"#)
        expectMeshError("policy.too-many-grants", reasonPrefix: "mesh.json: rules[1]: ") {
            _ = try D.load(rules: [broad, D.rule("one", "allow", #""ports": [8080]"#)], limits: PolicyLimits(maxGrants: 9))
        }
        #expect((try? D.load(rules: [broad, D.rule("one", "allow", #""ports": [8080]"#)], limits: PolicyLimits(maxGrants: 10))) != nil)
    }

    @Test(arguments: [
        ("spiffe://mesh.local/ns/batch/sa/*", "spiffe://mesh.local/ns/batch/sa/cron", true),
        ("spiffe://mesh.local/ns/batch/sa/*", "spiffe://mesh.local/ns/batch/sa/cron/x", true),
        ("spiffe://mesh.local/ns/batch/sa/*", "spiffe://mesh.local/ns/batch/sax/cron", false),
        ("spiffe://mesh.local/ns/batch/sa/*", "spiffe://mesh.local/ns/batchx/sa/cron", false),
        ("spiffe://mesh.local/ns/batch/sa/*", "spiffe://other.local/ns/batch/sa/cron", false),
        ("spiffe://mesh.local/*", "spiffe://mesh.local/anything", true),
        ("spiffe://mesh.local/ns/batch/sa/cron", "spiffe://mesh.local/ns/batch/sa/cron", true),
        ("spiffe://mesh.local/ns/batch/sa/cron", "spiffe://mesh.local/ns/batch/sa/cron2", false),
    ])
    func matchesIdentityPatterns(pattern: String, id: String, expected: Bool) throws {
        #expect(try IdentityPattern(parsing: pattern).matches(PolicyDoc.id(id)) == expected)
        #expect(try IdentityPattern(parsing: pattern).description == pattern)
    }

    @Test(arguments: ["spiffe://mesh.local/ns/*/sa/x", "spiffe://mesh.local/ns/batch/sa/**", "spiffe://*/ns/a",
                      "spiffe://mesh.local/ns/a/sa/x*", "*", "spiffe://mesh.local/ns/a*/sa/*"])
    func refusesStarsOutsideTheLastSegment(pattern: String) {
        expectMeshError("policy.bad-pattern") { _ = try IdentityPattern(parsing: pattern) }
    }

    @Test(arguments: [("2026-12-31T00:00:00Z", Int64(1_798_675_200)), ("1970-01-01T00:00:00Z", 0),
                      ("2000-02-29T23:59:59Z", 951_868_799), ("0001-01-01T00:00:00Z", -62_135_596_800),
                      ("9999-12-31T23:59:59Z", 253_402_300_799)])
    func parsesAndPrintsTimestamps(text: String, seconds: Int64) throws {
        let time = try PolicyTimestamp(parsing: text)
        #expect(time.secondsSinceEpoch == seconds)
        #expect(time.description == text)
        #expect(PolicyTimestamp(secondsSinceEpoch: seconds).description == text)
    }

    @Test(arguments: ["2027-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2027-13-01T00:00:00Z", "2027-00-01T00:00:00Z",
                      "2027-01-32T00:00:00Z", "2027-04-31T00:00:00Z", "2027-01-01T24:00:00Z", "2027-01-01T00:60:00Z",
                      "2027-01-01T00:00:60Z", "2027-01-01t00:00:00Z", "2027-01-01T00:00:00z", "2027-01-01T00:00:00.5Z",
                      "2027-01-01 00:00:00Z", "27-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "+027-01-01T00:00:00Z", ""])
    func refusesMalformedTimestamps(text: String) {
        expectMeshError("policy.bad-time") { _ = try PolicyTimestamp(parsing: text) }
    }

    @Test func printsTimesBeforeTheEpoch() {
        #expect(PolicyTimestamp(secondsSinceEpoch: -1).description == "1969-12-31T23:59:59Z")
    }

    @Test func resolvesShortServiceNames() throws {
        let policy = try D.load(rules: [])
        #expect(try policy.resolveService("payments") == D.key("payments"))
        #expect(try policy.resolveService("shop/ledger") == D.key("ledger"))
        expectMeshError("policy.unknown-service") { _ = try policy.resolveService("nope") }
        expectMeshError("policy.unknown-service") { _ = try policy.resolveService("shop/nope") }
    }
}
