import MeshCore
import MeshPolicy
import MeshTestSupport
import Testing

/// Per-request decisions (`ServiceSlice.decideRequest`, `MeshPolicy.evaluateRequest`) and what L7 rules do at
/// the connection level (`decideInbound`, `egressDecision`).
@Suite struct PolicyL7DecisionTests {
    typealias D = PolicyDoc
    static let now = 1_780_000_000.0
    static let issuer = "https://id.example.com"

    /// orders: POST /v1/payments, GET /v1/payments/*/status; frontend: POST /v1/payments with a token whose scope
    /// holds payments:write; nobody: x-debug; batch (audit): GET /v1/reports/**; ledger: nothing on 8080.
    static func policy() throws -> MeshPolicy {
        try MeshPolicy.load(files: PolicyL7ParsingTests.bundle([
            D.rule("no-debug", "deny", from: #"{"identities": ["spiffe://mesh.local/*"]}"#, #""ports": [8080], "http": {"headers": [{"name": "x-debug", "present": true}]}"#),
            D.rule("orders-create", from: #"{"services": ["shop/orders"]}"#, #""ports": [8080], "http": {"methods": ["POST"], "paths": ["/v1/payments"]}"#),
            D.rule("orders-status", from: #"{"services": ["shop/orders"]}"#, #""ports": [8080], "http": {"methods": ["GET"], "paths": ["/v1/payments/*/status"]}"#),
            D.rule("frontend-pay", from: #"{"services": ["shop/frontend"]}"#, #""ports": [8080], "http": {"methods": ["POST"], "paths": ["/v1/payments"], "headers": [{"name": "x-tenant", "equals": "acme"}]}, "jwt": {"issuers": ["https://id.example.com"], "claims": [{"name": "scope", "contains": "payments:write"}]}"#),
            D.rule("batch-reports", from: #"{"identities": ["spiffe://mesh.local/ns/batch/sa/*"]}"#, #""ports": [8080], "mode": "audit", "http": {"methods": ["GET"], "paths": ["/v1/reports/**"]}"#),
            D.rule("orders-admin", from: #"{"services": ["shop/orders"]}"#, #""ports": [9090]"#),
        ]))
    }

    static func request(_ peer: SPIFFEID, _ method: String, _ path: String, headers: [(String, String)] = [],
                        token: TokenEvidence = .absent, port: Int = 8080) -> RequestFacts {
        RequestFacts(connection: facts(peer, to: D.key("payments"), port: port, now: now), method: method, path: path,
                     headers: headers.map { RequestFacts.Header(name: $0.0, value: $0.1) }, token: token)
    }

    static func token(scope: String, issuer: String = issuer) -> TokenEvidence {
        .valid(issuer: issuer, subject: "alice", claims: .object([("sub", .string("alice")), ("scope", .string(scope))]))
    }

    static let tenant = [("x-tenant", "acme")]

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let facts: RequestFacts
        let status: Int
        let rule: String
        var route: String? = nil
        var shadow: String? = nil
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "orders POST /v1/payments", facts: request(D.sa("orders"), "POST", "/v1/payments"), status: 0, rule: "orders-create", route: "/v1/payments"),
        Case(name: "orders GET status", facts: request(D.sa("orders"), "GET", "/v1/payments/42/status"), status: 0, rule: "orders-status", route: "/v1/payments/*/status"),
        // The attack: a caller allowed on the port tries what no rule grants. Before L7 rules every one of these
        // was allowed by the connection's rule (the placeholder decided the request as the connection).
        Case(name: "orders DELETE", facts: request(D.sa("orders"), "DELETE", "/v1/payments"), status: 403, rule: "default-deny"),
        Case(name: "orders GET /v1/payments", facts: request(D.sa("orders"), "GET", "/v1/payments"), status: 403, rule: "default-deny"),
        Case(name: "orders path with ;", facts: request(D.sa("orders"), "POST", "/v1/payments;x"), status: 403, rule: "default-deny"),
        Case(name: "orders status, two segments", facts: request(D.sa("orders"), "GET", "/v1/payments/1/2/status"), status: 403, rule: "default-deny"),
        Case(name: "deny wins over an allow", facts: request(D.sa("orders"), "POST", "/v1/payments", headers: [("x-debug", "1")]), status: 403, rule: "no-debug"),
        Case(name: "frontend without token", facts: request(D.sa("frontend"), "POST", "/v1/payments", headers: tenant), status: 401, rule: "default-deny", route: "/v1/payments"),
        Case(name: "frontend invalid token", facts: request(D.sa("frontend"), "POST", "/v1/payments", headers: tenant, token: .invalid(code: "jwt.expired", reason: "expired")), status: 401, rule: "default-deny", route: "/v1/payments"),
        Case(name: "frontend with scope", facts: request(D.sa("frontend"), "POST", "/v1/payments", headers: tenant, token: token(scope: "openid payments:write")), status: 0, rule: "frontend-pay", route: "/v1/payments"),
        Case(name: "frontend scope is a prefix only", facts: request(D.sa("frontend"), "POST", "/v1/payments", headers: tenant, token: token(scope: "payments:writer")), status: 403, rule: "default-deny"),
        Case(name: "frontend wrong issuer", facts: request(D.sa("frontend"), "POST", "/v1/payments", headers: tenant, token: token(scope: "payments:write", issuer: "https://evil")), status: 403, rule: "default-deny"),
        Case(name: "frontend wrong method, no token", facts: request(D.sa("frontend"), "GET", "/v1/payments", headers: tenant), status: 403, rule: "default-deny"),
        Case(name: "frontend tenant twice", facts: request(D.sa("frontend"), "POST", "/v1/payments", headers: tenant + [("x-tenant", "evil")], token: token(scope: "payments:write")), status: 403, rule: "default-deny"),
        Case(name: "batch audit only", facts: request(D.sa("nightly", ns: "batch"), "GET", "/v1/reports/2026/q1"), status: 403, rule: "default-deny", shadow: "batch-reports"),
        Case(name: "batch audit, not a report", facts: request(D.sa("nightly", ns: "batch"), "GET", "/v1/reportsX"), status: 403, rule: "default-deny"),
        Case(name: "ledger has no rule", facts: request(D.sa("ledger"), "POST", "/v1/payments"), status: 403, rule: "default-deny"),
        Case(name: "tcp port rule applies to any request", facts: request(D.sa("orders"), "PUT", "/x", port: 9090), status: 0, rule: "orders-admin"),
    ]

    @Test(arguments: cases)
    func decidesRequests(c: Case) throws {
        let policy = try Self.policy()
        let slice = try #require(policy.compile(version: 1).slice(for: D.key("payments")))
        let decision = slice.decideRequest(c.facts)
        #expect(decision.status == c.status)
        #expect(decision.decision.enforced.rule == c.rule)
        #expect(decision.route == c.route)
        #expect(decision.decision.shadow?.rule == c.shadow)
        if c.status == 401 { #expect(decision.refusal == .unauthenticated(issuers: [Self.issuer])) }
        // The reference evaluation, the compiled policy and a slice read back from JSON agree.
        #expect(policy.evaluateRequest(c.facts) == decision)
        #expect(policy.evaluate(c.facts) == decision.decision)
        #expect(policy.compile(version: 1).decideRequest(c.facts) == decision)
        #expect(try ServiceSlice(bytes: Array(slice.json().text.utf8)).decideRequest(c.facts) == decision)
        #expect(slice.decideInbound(c.facts) == decision.decision)
    }

    /// At the handshake no request is known: a peer some allow rule admits on the port gets the connection
    /// (its requests are decided one by one), and an http-scoped deny never refuses the whole connection.
    @Test func connectionsOnHTTPPortsAreDecidedByIdentityAndPort() throws {
        let compiled = try Self.policy().compile(version: 1)
        let payments = try #require(compiled.slice(for: D.key("payments")))
        func inbound(_ peer: SPIFFEID, _ port: Int = 8080) -> PolicyDecision {
            let f = facts(peer, to: D.key("payments"), port: port, now: Self.now)
            let d = payments.decideInbound(f)
            #expect(compiled.policy.evaluate(f) == d)
            return d
        }
        #expect(inbound(D.sa("orders")).enforced == .allow(rule: "orders-create"))
        #expect(inbound(D.sa("frontend")).enforced == .allow(rule: "frontend-pay"))
        #expect(inbound(D.sa("ledger")).enforced == .deny(rule: "default-deny", reason: .notAllowed))
        #expect(inbound(D.sa("nightly", ns: "batch")) == PolicyDecision(enforced: .deny(rule: "default-deny", reason: .notAllowed),
                                                                       shadow: .allow(rule: "batch-reports")))
        // At the caller: egress follows the connection decision.
        for caller in ["orders", "frontend"] {
            let slice = try #require(compiled.slice(for: D.key(caller)))
            #expect(slice.egress(facts(slice.identity, to: D.key("payments"), port: 8080, now: Self.now)).isAllowed)
            #expect(slice.outbound[D.key("payments")]?.protocol(port: 8080) == .http)
        }
        let explanation = try compiled.explain(facts(D.sa("orders"), to: D.key("payments"), port: 8080, now: Self.now))
        #expect(explanation.rules.first { $0.rule == "no-debug" }?.reason == "http deny: decides requests, not the connection")
    }

    /// The slice's flattened matcher (prefix hashes, then bytes) agrees with `PathPattern.matches` on every path,
    /// long ones (more segments than the hash table holds) included.
    @Test func theCompiledPathMatcherAgreesWithThePatterns() throws {
        let patterns = ["/", "/a/**", "/x/*/y", "/a/b/c", "/**", "/" + (0..<40).map { "s\($0)" }.joined(separator: "/"),
                        "/" + (0..<35).map { "s\($0)" }.joined(separator: "/") + "/**"]
        let long = "/" + (0..<40).map { "s\($0)" }.joined(separator: "/")
        let paths = ["/", "/a", "/a/", "/a/b/c", "/a/b/c/d", "/ab", "/x/1/y", "/x/y", "/x/1/y/z", long, long + "/t", "/s0/s1"]
        for (i, pattern) in patterns.enumerated() {
            let policy = try MeshPolicy.load(files: PolicyL7ParsingTests.bundle([
                D.rule("p\(i)", from: #"{"services": ["shop/orders"]}"#, #""ports": [8080], "http": {"methods": ["GET"], "paths": ["\#(pattern)"]}"#)]))
            let slice = try #require(policy.compile(version: 1).slice(for: D.key("payments")))
            let compiled = try PathPattern(parsing: pattern)
            for path in paths {
                let allowed = slice.decideRequest(Self.request(D.sa("orders"), "GET", path)).status == 0
                #expect(allowed == compiled.matches(path), "\(pattern) on \(path)")
            }
        }
        #expect(try PathPattern(parsing: "/a/**").matches("/a/b") && !PathPattern(parsing: "/x/*/y").matches("/x/y"))
    }

    @Test func quarantineRefusesEveryRequest() throws {
        var slice = try #require(try Self.policy().compile(version: 1).slice(for: D.key("payments")))
        slice.revoked = RevocationList(revision: 1, quarantined: [D.sa("orders")])
        let d = slice.decideRequest(Self.request(D.sa("orders"), "POST", "/v1/payments"))
        #expect(d.status == 403 && d.decision == .quarantined)
    }

    @Test func explainsARequestRuleByRule() throws {
        let compiled = try Self.policy().compile(version: 1)
        let e = try compiled.explain(Self.request(D.sa("frontend"), "POST", "/v1/payments", headers: Self.tenant))
        #expect(e.request?.decision.status == 401)
        #expect(e.summary.contains("401 unauthenticated"))
        let why = Dictionary(uniqueKeysWithValues: e.rules.map { ($0.rule, $0.reason) })
        #expect(why["frontend-pay"] == "needs a valid token from https://id.example.com (no token)")
        #expect(why["orders-create"] == "from does not match")
        let wrongScope = try compiled.explain(Self.request(D.sa("frontend"), "POST", "/v1/payments", headers: Self.tenant,
                                                           token: Self.token(scope: "openid")))
        #expect(wrongScope.rules.first { $0.rule == "frontend-pay" }?.reason == #"claim scope contains "payments:write" not met"#)
        let method = try compiled.explain(Self.request(D.sa("orders"), "PUT", "/v1/payments"))
        #expect(method.rules.first { $0.rule == "orders-create" }?.reason == "method PUT not in [POST]")
        #expect(method.json()["request"]?["status"] == .int(403))
    }
}
