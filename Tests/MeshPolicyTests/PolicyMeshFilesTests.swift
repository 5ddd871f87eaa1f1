import Foundation
import MeshCore
import MeshAlerts
import MeshPolicy
import Testing
import MeshTestSupport

/// The example mesh in `mesh-config/mesh/` must load and decide as documented; every bundle in
/// `mesh-config/mesh-invalid/` (a file, or a folder of files) must be refused with the code listed here.
@Suite struct PolicyMeshFilesTests {
    typealias D = PolicyDoc
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("mesh-config")
    static let now = 1_780_000_000.0  // 2026-05-28

    static let expectedCodes: [String: String] = [
        "alert-bad-window.json": "alert.bad-duration",
        "alert-duplicate-name.json": "policy.duplicate-name",
        "alert-missing-threshold.json": "alert.missing-parameter",
        "alert-parameter-not-for-kind.json": "alert.parameter-not-for-kind",
        "alert-quarantine-for-without-action.json": "alert.bad-action",
        "alert-unknown-severity.json": "config.bad-value",
        "bad-expires.json": "policy.bad-time",
        "duplicate-key.json": "json.duplicate-key",
        "duplicate-rule-name.json": "policy.duplicate-name",
        "duplicate-service.json": "policy.duplicate-name",
        "empty-from.json": "policy.empty-from",
        "foreign-trust-domain.json": "policy.foreign-trust-domain",
        "invalid-spiffe-pattern.json": "policy.bad-pattern",
        "http-bad-method.json": "policy.bad-http-match",
        "http-on-tcp-port.json": "policy.http-on-tcp-port",
        "http-path-not-normal.json": "policy.bad-path-pattern",
        "issuer-hmac-algorithm.json": "policy.bad-issuer",
        "issuer-private-key.json": "jwt.bad-key",  // keys are checked by MeshJWT at apply and in meshctl validate
        "jwt-on-deny.json": "policy.bad-jwt-requirement",
        "jwt-unknown-issuer.json": "policy.unknown-issuer",
        "port-protocol-unknown.json": "config.bad-value",
        "port-out-of-range.json": "config.out-of-range",
        "rate-limit-on-deny.json": "policy.bad-rate-limit",
        "rate-limit-zero.json": "policy.bad-rate-limit",
        "rate-limit-too-high.json": "policy.bad-rate-limit",
        "rate-limit-bad-burst.json": "policy.bad-rate-limit",
        "rate-limit-unknown-field.json": "config.unknown-field",
        "reserved-rule-name.json": "policy.reserved-name",
        "rule-port-not-on-destination.json": "policy.port-not-on-destination",
        "segment-selector-and-services.json": "policy.bad-segment",
        "two-trust-domains": "policy.duplicate-trust-domain",
        "unknown-field.json": "config.unknown-field",
        "unknown-segment.json": "policy.unknown-segment",
        "unknown-service.json": "policy.unknown-service",
        "uppercase-trust-domain-pattern.json": "spiffe.bad-trust-domain-char",
    ]

    /// Every `*.json` in `folder` (or `folder` itself when it is a file), as `MeshPolicy.load` takes them.
    static func bundle(_ url: URL) throws -> [(name: String, bytes: [UInt8])] {
        var isFolder: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder)
        let urls = isFolder.boolValue
            ? try FileManager.default.contentsOfDirectory(atPath: url.path).filter { $0.hasSuffix(".json") }
                .map { url.appendingPathComponent($0) }
            : [url]
        let files = try urls.map { (name: $0.lastPathComponent, content: String(decoding: try Data(contentsOf: $0), as: UTF8.self)) }
        // `jwksFile` is inlined as meshctl does it (relative to the folder).
        let base = isFolder.boolValue ? url : url.deletingLastPathComponent()
        return try MeshPolicy.inlineJWKSFiles(files) { [UInt8](try Data(contentsOf: base.appendingPathComponent($0))) }
            .map { (name: $0.name, bytes: Array($0.content.utf8)) }
    }

    static func example() throws -> MeshPolicy {
        try MeshPolicy.load(files: bundle(folder.appendingPathComponent("mesh")))
    }

    static let invalidBundles = ((try? FileManager.default.contentsOfDirectory(
        atPath: folder.appendingPathComponent("mesh-invalid").path)) ?? []).filter { !$0.hasPrefix(".") && !$0.hasSuffix(".md") }.sorted()

    @Test func loadsTheExampleMesh() throws {
        let policy = try Self.example()
        #expect(policy.services.map(\.key.name).sorted() == ["frontend", "ledger", "orders", "payments"])
        #expect(policy.segment(named: "pci")?.members == [D.key("ledger"), D.key("payments")])
        #expect(policy.rules.contains { $0.mode == .audit })
        #expect(policy.rules.contains { $0.expires?.description.hasPrefix("2027-") == true })
        #expect(policy.rules.contains { $0.action == .deny })
        #expect(policy.alerts.map(\.name) == ["lateral-movement", "deny-storm"])
        #expect(policy.alerts.first?.action == .quarantine && policy.alerts.first?.quarantineFor == 3600)
        #expect(try MeshPolicy.load(files: [("bundle.json", Array(policy.json().text.utf8))]) == policy)
    }

    @Test func theDiffShowsAlertRuleChanges() throws {
        let policy = try Self.example()
        var files = try Self.bundle(Self.folder.appendingPathComponent("mesh"))
        let i = try #require(files.firstIndex { $0.name == "alerts.json" })
        files[i].bytes = Array(String(decoding: files[i].bytes, as: UTF8.self)
            .replacingOccurrences(of: "\"threshold\": 100", with: "\"threshold\": 200")
            .replacingOccurrences(of: "\"name\": \"lateral-movement\"", with: "\"name\": \"lateral\"").utf8)
        let changed = try MeshPolicy.load(files: files)
        #expect(changed.diff(from: policy) == ["- alert lateral-movement", "+ alert lateral", "~ alert deny-storm: threshold 100 → 200"])
    }

    @Test(arguments: [
        ("frontend", "payments", 8080, Verdict.allow(rule: "frontend-to-payments")),
        ("frontend", "payments", 9090, .deny(rule: "web-no-pci-admin", reason: .notAllowed)),
        ("frontend", "orders", 8080, .allow(rule: "frontend-to-orders")),
        ("orders", "payments", 8080, .allow(rule: "orders-create-payment")),  // an http port: requests are decided one by one
        ("orders", "payments", 9090, .deny(rule: "default-deny", reason: .notAllowed)),
        ("payments", "ledger", 8080, .allow(rule: "payments-to-ledger")),
        ("payments", "ledger", 9090, .deny(rule: "default-deny", reason: .notAllowed)),
        ("ledger", "payments", 8080, .deny(rule: "default-deny", reason: .notAllowed)),
        ("frontend", "ledger", 8080, .deny(rule: "default-deny", reason: .notAllowed)),
    ])
    func decidesTheExampleMesh(from: String, to: String, port: Int, expected: Verdict) throws {
        let compiled = try Self.example().compile(version: 1)
        let explanation = try compiled.explain(facts(try compiled.policy.identity(of: D.key(from)), to: D.key(to), port: port,
                                                     now: Self.now))
        #expect(explanation.decision.enforced == expected)
        let caller = compiled.slice(for: D.key(from))!
        let egress = caller.egress(facts(caller.identity, to: D.key(to), port: port, now: Self.now))
        #expect(egress.isAllowed == expected.isAllowed)
        if expected.isAllowed { #expect(egress == expected) }
    }

    @Test func theExampleHasAnAuditRuleAndAnExpiringGrant() throws {
        let compiled = try Self.example().compile(version: 1)
        let ordersToLedger = compiled.decide(facts(D.sa("orders"), to: D.key("ledger"), port: 8080, now: Self.now))
        #expect(ordersToLedger == PolicyDecision(enforced: .deny(rule: "default-deny", reason: .notAllowed),
                                                 shadow: .allow(rule: "orders-to-ledger")))
        // The calling end sees the same shadow verdict (issue 9 scope 4), enforcing nothing.
        let orders = try #require(compiled.slice(for: D.key("orders")))
        #expect(orders.egressDecision(facts(orders.identity, to: D.key("ledger"), port: 8080, now: Self.now)) == ordersToLedger)
        #expect(orders.egress(facts(orders.identity, to: D.key("ledger"), port: 8080, now: Self.now)) == ordersToLedger.enforced)
        let back = try ServiceSlice(bytes: Array(orders.json().text.utf8))
        #expect(back.egressDecision(facts(back.identity, to: D.key("ledger"), port: 8080, now: Self.now)) == ordersToLedger)
        let cron = D.sa("reconcile", ns: "batch")
        let grant = try #require(compiled.policy.rule(named: "batch-reconcile-ledger")?.expires?.seconds)
        #expect(compiled.decide(facts(cron, to: D.key("ledger"), port: 8080, now: grant - 1)).enforced
            == .allow(rule: "batch-reconcile-ledger"))
        #expect(compiled.decide(facts(cron, to: D.key("ledger"), port: 8080, now: grant)).enforced.rule == "default-deny")
        #expect(compiled.slice(for: D.key("ledger"))?.nextExpiry(after: Self.now) == grant)
    }

    @Test(arguments: [
        ("orders", "POST", "/v1/payments", [(String, String)](), 0, "orders-create-payment"),
        ("orders", "GET", "/v1/payments/p-42/status", [], 0, "orders-read-payment-status"),
        ("orders", "DELETE", "/v1/payments", [], 403, "default-deny"),
        ("orders", "POST", "/v1/payments", [("x-debug", "1")], 403, "payments-no-debug-header"),
        ("frontend", "POST", "/v1/payments", [], 401, "default-deny"),
        ("frontend", "GET", "/v1/payments/p-42/status", [], 403, "default-deny"),
    ])
    func decidesRequestsOfTheExampleMesh(from: String, method: String, path: String, headers: [(String, String)],
                                         status: Int, rule: String) throws {
        let compiled = try Self.example().compile(version: 1)
        let payments = try #require(compiled.slice(for: D.key("payments")))
        #expect(payments.inboundProtocol(port: 8080) == .http && payments.inboundProtocol(port: 9090) == .tcp)
        #expect(payments.issuers.map(\.issuer) == ["https://id.example.com"])
        let request = RequestFacts(connection: facts(D.sa(from), to: D.key("payments"), port: 8080, now: Self.now), method: method,
                                   path: path, headers: headers.map { .init(name: $0.0, value: $0.1) })
        let decision = payments.decideRequest(request)
        #expect(decision.status == status && decision.decision.enforced.rule == rule)
        #expect(compiled.policy.evaluateRequest(request) == decision)
    }

    @Test func listsEveryInvalidBundle() {
        #expect(Set(Self.invalidBundles) == Set(Self.expectedCodes.keys))
    }

    @Test(arguments: invalidBundles)
    func refusesInvalidBundle(name: String) throws {
        let files = try Self.bundle(Self.folder.appendingPathComponent("mesh-invalid/\(name)"))
        if Self.expectedCodes[name]?.hasPrefix("jwt.") == true {
            // The shape is valid; the key is refused by MeshJWT (MeshctlL7Tests, IssuerKeyValidationTests).
            #expect(try MeshPolicy.load(files: files).issuers.count == 1)
            return
        }
        let error = expectMeshError(Self.expectedCodes[name] ?? "(listed in expectedCodes)") {
            _ = try MeshPolicy.load(files: files)
        }
        #expect(files.contains { error?.reason.hasPrefix($0.name + ": ") == true }, "reason: \(error?.reason ?? "")")
    }
}
