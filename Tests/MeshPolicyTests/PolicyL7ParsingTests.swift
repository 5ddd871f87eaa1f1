import Foundation
import MeshCore
import MeshPolicy
import MeshTestSupport
import Testing

/// L7 mesh files: port protocols, `http` matches, `jwt` requirements, issuers, and path patterns.
@Suite struct PolicyL7ParsingTests {
    typealias D = PolicyDoc
    static let httpServices = """
    [{"namespace": "shop", "name": "frontend", "labels": {"tier": "web"}, "ports": [8080]},
     {"namespace": "shop", "name": "orders", "ports": [8080]},
     {"namespace": "shop", "name": "payments", "labels": {"pci": "true"}, "ports": [{"port": 8080, "protocol": "http"}, 9090]},
     {"namespace": "shop", "name": "ledger", "labels": {"pci": "true"}, "ports": [{"port": 8080, "protocol": "http"}, {"port": 9090, "protocol": "tcp"}]}]
    """
    static let jwks = #"{"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "x": "x3ABbBT_xO8gxEiLgOII4efSRS7p532haHgso2mz-rQ", "y": "LZaxLU8AJCjDD-5eJeKloMyhdCqX8UZmKUkcSsSyoP0"}]}"#
    static let issuers = #"[{"issuer": "https://id.example.com", "audiences": ["payments"], "algorithms": ["ES256"], "jwks": \#(jwks)}]"#

    static func bundle(_ rules: [String], issuers: String? = issuers) -> [(name: String, bytes: [UInt8])] {
        var files = [("mesh.json", D.single(rules: rules, services: httpServices))]
        if let issuers { files.append(("issuers.json", #"{"issuers": \#(issuers)}"#)) }
        return D.files(files)
    }

    static func load(_ rules: [String]) throws -> MeshPolicy { try MeshPolicy.load(files: bundle(rules)) }

    @Test func readsPortProtocolsAndCompilesThem() throws {
        let policy = try Self.load([D.rule("a", from: #"{"services": ["shop/orders"]}"#, #""ports": [8080], "http": {"methods": ["GET"]}"#)])
        let payments = try #require(policy.service(D.key("payments")))
        #expect(payments.ports == [8080, 9090] && payments.protocols == [8080: .http])
        #expect(policy.service(D.key("ledger"))?.protocols == [8080: .http])
        let compiled = policy.compile(version: 3)
        #expect(compiled.slice(for: D.key("payments"))?.portProtocols == [8080: .http])
        #expect(compiled.slice(for: D.key("payments"))?.inboundProtocol(port: 9090) == .tcp)
        #expect(compiled.slice(for: D.key("orders"))?.outbound[D.key("payments")]?.protocol(port: 8080) == .http)
        // The file form round-trips, protocols and L7 members included.
        #expect(try MeshPolicy.load(files: [("bundle.json", Array(policy.json().text.utf8))]) == policy)
    }

    @Test(arguments: [
        ("/v1/payments", "/v1/payments", true), ("/v1/payments", "/v1/payments/", false), ("/v1/payments", "/v1/Payments", false),
        ("/v1/payments", "/v1/payments;x", false), ("/admin", "/admin;x", false), ("/v1/payments/*/status", "/v1/payments/42/status", true),
        ("/v1/payments/*/status", "/v1/payments/status", false), ("/v1/payments/*/status", "/v1/payments/1/2/status", false),
        ("/v1/reports/**", "/v1/reports", true), ("/v1/reports/**", "/v1/reports/", true), ("/v1/reports/**", "/v1/reports/a/b", true),
        ("/v1/reports/**", "/v1/reportsX", false), ("/v1/reports/**", "/v1/reportsX/a", false), ("/v1/reports/**", "/v1", false),
        ("/**", "/", true), ("/**", "/anything/at/all", true), ("/", "/", true), ("/", "/a", false),
        ("/*", "/a", true), ("/*", "/", false), ("/*", "/a/b", false), ("/a/*/**", "/a/b", true), ("/a/*/**", "/a", false),
    ])
    func matchesPathPatterns(pattern: String, path: String, expected: Bool) throws {
        #expect(try PathPattern(parsing: pattern).matches(path) == expected)
    }

    @Test(arguments: ["v1", "/v1/../admin", "//admin", "/v1/./x", "/%61dmin", "/a%2fb", "/v1?x=1", "/a#b", "/v1*", "/**/x", "/a/**b", "/a%00"])
    func refusesPatternsThatAreNotNormalPaths(pattern: String) {
        _ = expectMeshError("policy.bad-path-pattern") { _ = try PathPattern(parsing: pattern) }
    }

    @Test func readsHTTPAndJWTMembers() throws {
        let policy = try Self.load([D.rule("a", from: #"{"services": ["shop/frontend"]}"#, #""ports": [8080], "http": {"methods": ["GET", "POST"], "paths": ["/v1/payments", "/v1/reports/**"], "headers": [{"name": "x-tenant", "equals": "acme"}, {"name": "x-debug", "absent": true}]}, "jwt": {"issuers": ["https://id.example.com"], "claims": [{"name": "scope", "contains": "payments:write"}, {"name": "tier", "equals": 3}, {"name": "admin", "equals": false}]}"#)])
        let rule = try #require(policy.rule(named: "a"))
        #expect(rule.http?.methods == ["GET", "POST"])
        #expect(rule.http?.paths.map(\.text) == ["/v1/payments", "/v1/reports/**"])
        #expect(rule.http?.headers == [HeaderCondition(name: "x-tenant", test: .equals("acme")), HeaderCondition(name: "x-debug", test: .absent)])
        #expect(rule.jwt?.claims == [ClaimCondition(name: "scope", test: .contains("payments:write")),
                                     ClaimCondition(name: "tier", test: .equalsNumber(3)), ClaimCondition(name: "admin", test: .equalsBool(false))])
        // Least privilege: only the destination's slice carries the issuer its rules need.
        let compiled = policy.compile(version: 1)
        #expect(compiled.slice(for: D.key("payments"))?.issuers.map(\.issuer) == ["https://id.example.com"])
        #expect(compiled.slice(for: D.key("payments"))?.issuers.first?.header == "authorization")
        #expect(compiled.slice(for: D.key("payments"))?.issuers.first?.prefix == "Bearer ")
        #expect(compiled.slice(for: D.key("payments"))?.issuers.first?.forwardToken == false)
        #expect(compiled.slice(for: D.key("frontend"))?.issuers == [])
        #expect(compiled.slice(for: D.key("ledger"))?.issuers == [])
        // Slices round-trip with the rule's L7 members (strictly read).
        for slice in compiled.slices.values { #expect(try ServiceSlice(bytes: Array(slice.json().text.utf8)) == slice) }
    }

    /// `forwardToken: true` lets an issuer's verified tokens reach the app, `claimHeaders` hands it claims; both
    /// travel in the slice and back into the file form.
    @Test func readsForwardTokenIntoTheSliceAndTheFileForm() throws {
        let issuers = #"[{"issuer": "https://id.example.com", "audiences": ["payments"], "algorithms": ["ES256"], "jwks": \#(Self.jwks), "forwardToken": true, "claimHeaders": ["scope", "tenant_id"]}]"#
        let rule = D.rule("a", from: #"{"services": ["shop/frontend"]}"#, #""ports": [8080], "jwt": {"issuers": ["https://id.example.com"]}"#)
        let policy = try MeshPolicy.load(files: Self.bundle([rule], issuers: issuers))
        let slice = try #require(policy.compile(version: 1).slice(for: D.key("payments")))
        #expect(slice.issuers.map(\.forwardToken) == [true])
        #expect(slice.issuers.map(\.claimHeaders) == [["scope", "tenant_id"]])
        #expect(try ServiceSlice(bytes: Array(slice.json().text.utf8)) == slice)
        #expect(policy.json().text.contains(#""forwardToken":true,"claimHeaders":["scope","tenant_id"]"#))
    }

    static let bad: [(String, String, String)] = [
        (#""ports": [8080, 9090], "http": {"methods": ["GET"]}"#, "policy.http-on-tcp-port", "mesh.json: rules[0]: "),
        (#""http": {"methods": ["GET"]}"#, "policy.http-on-tcp-port", "mesh.json: rules[0]: "),
        (#""ports": [9090], "jwt": {"issuers": ["https://id.example.com"]}"#, "policy.http-on-tcp-port", "mesh.json: rules[0]: "),
        (#""ports": [8080], "http": {"methods": ["get"]}"#, "policy.bad-http-match", "mesh.json: rules[0].http.methods[0]: "),
        (#""ports": [8080], "http": {"methods": []}"#, "policy.bad-http-match", "mesh.json: rules[0].http.methods: "),
        (#""ports": [8080], "http": {}"#, "policy.bad-http-match", "mesh.json: rules[0].http: "),
        (#""ports": [8080], "http": {"paths": ["/v1/../admin"]}"#, "policy.bad-path-pattern", "mesh.json: rules[0].http.paths[0]: "),
        (#""ports": [8080], "http": {"paths": ["/a", "/a"]}"#, "policy.duplicate-entry", "mesh.json: rules[0].http.paths[1]: "),
        (#""ports": [8080], "http": {"headers": [{"name": "X-Tenant", "equals": "a"}]}"#, "policy.bad-http-match", "mesh.json: rules[0].http.headers[0].name: "),
        (#""ports": [8080], "http": {"headers": [{"name": "x-a", "equals": "a", "absent": true}]}"#, "policy.bad-http-match", "mesh.json: rules[0].http.headers[0]: "),
        (#""ports": [8080], "http": {"headers": [{"name": "x-a", "absent": false}]}"#, "policy.bad-http-match", "mesh.json: rules[0].http.headers[0].absent: "),
        (#""ports": [8080], "http": {"methods": ["GET"], "verbs": ["GET"]}"#, "config.unknown-field", "mesh.json: rules[0].http"),
        (#""ports": [8080], "jwt": {"issuers": ["https://other.example.com"]}"#, "policy.unknown-issuer", "mesh.json: rules[0].jwt.issuers[0]: "),
        (#""ports": [8080], "jwt": {"issuers": []}"#, "policy.bad-jwt-requirement", "mesh.json: rules[0].jwt.issuers: "),
        (#""ports": [8080], "jwt": {"issuers": ["https://id.example.com"], "claims": [{"name": "scope"}]}"#, "policy.bad-jwt-requirement", "mesh.json: rules[0].jwt.claims[0]: "),
        (#""ports": [8080], "jwt": {"issuers": ["https://id.example.com"], "claims": [{"name": "scope", "equals": ["a"]}]}"#, "policy.bad-jwt-requirement", "mesh.json: rules[0].jwt.claims[0].equals: "),
    ]

    @Test(arguments: 0..<bad.count)
    func refusesMalformedL7Rules(index: Int) {
        let (extra, code, prefix) = Self.bad[index]
        _ = expectMeshError(code, reasonPrefix: prefix) { _ = try Self.load([D.rule("a", "allow", extra)]) }
    }

    @Test func refusesAJWTRequirementOnADenyRule() {
        _ = expectMeshError("policy.bad-jwt-requirement", reasonPrefix: "mesh.json: rules[0].jwt: ") {
            _ = try Self.load([D.rule("a", "deny", #""ports": [8080], "jwt": {"issuers": ["https://id.example.com"]}"#)])
        }
    }

    @Test func denyRulesMayCarryHTTP() throws {
        let policy = try Self.load([D.rule("no-admin", "deny", #""ports": [8080], "http": {"methods": ["POST"], "paths": ["/admin/**"]}"#)])
        #expect(policy.rule(named: "no-admin")?.http?.paths.first?.text == "/admin/**")
    }

    @Test func boundsEveryL7List() {
        let methods = (0..<3).map { "\"M\($0)\"" }.joined(separator: ", ")
        _ = expectMeshError("policy.too-many-entries", reasonPrefix: "mesh.json: rules[0].http.methods: ") {
            _ = try MeshPolicy.load(files: Self.bundle([D.rule("a", "allow", #""ports": [8080], "http": {"methods": [\#(methods)]}"#)]),
                                    limits: PolicyLimits(maxEntriesPerList: 2))
        }
    }

    @Test(arguments: [
        (#"[{"issuer": "https://id.example.com", "audiences": ["p"], "algorithms": ["HS256"], "jwks": {"keys": []}}]"#, "policy.bad-issuer", "issuers.json: issuers[0].algorithms[0]: "),
        (#"[{"issuer": "https://id.example.com", "audiences": [], "algorithms": ["ES256"], "jwks": {"keys": []}}]"#, "policy.bad-issuer", "issuers.json: issuers[0].audiences: "),
        (#"[{"issuer": "https://id.example.com", "audiences": ["p"], "algorithms": ["ES256"], "jwksFile": "k.json"}]"#, "policy.bad-issuer", "issuers.json: issuers[0].jwksFile: "),
        (#"[{"issuer": "https://id.example.com", "audiences": ["p"], "algorithms": ["ES256"], "jwks": {"keys": []}, "clockSkewSeconds": 301}]"#, "config.out-of-range", "issuers.json: issuers[0].clockSkewSeconds: "),
        (#"[{"issuer": "https://id.example.com", "audiences": ["p"], "algorithms": ["ES256"], "jwks": {"keys": []}, "from": {"header": "Authorization"}}]"#, "policy.bad-issuer", "issuers.json: issuers[0].from.header: "),
        (#"[{"issuer": "https://id.example.com", "audiences": ["p"], "algorithms": ["ES256"], "jwks": {"keys": []}, "forwardToken": "yes"}]"#, "config.wrong-type", "issuers.json: issuers[0].forwardToken: "),
        (#"[{"issuer": "https://id.example.com", "audiences": ["p"], "algorithms": ["ES256"], "jwks": {"keys": []}, "claimHeaders": ["Scope"]}]"#, "policy.bad-issuer", "issuers.json: issuers[0].claimHeaders[0]: "),
        (#"[{"issuer": "https://id.example.com", "audiences": ["p"], "algorithms": ["ES256"], "jwks": {"keys": []}, "claimHeaders": ["a", "a"]}]"#, "policy.duplicate-entry", "issuers.json: issuers[0].claimHeaders[1]: "),
        (#"[{"issuer": "a", "audiences": ["p"], "algorithms": ["ES256"], "jwks": {"keys": []}}, {"issuer": "a", "audiences": ["p"], "algorithms": ["ES256"], "jwks": {"keys": []}}]"#, "policy.duplicate-name", "issuers.json: issuers[1]: "),
    ])
    func refusesMalformedIssuers(issuers: String, code: String, prefix: String) {
        _ = expectMeshError(code, reasonPrefix: prefix) { _ = try MeshPolicy.load(files: Self.bundle([], issuers: issuers)) }
    }

    @Test func inlinesJWKSFilesAndRefusesPathsOutsideTheFolder() throws {
        let file = (name: "issuers.json", content: #"{"issuers": [{"issuer": "i", "audiences": ["p"], "algorithms": ["ES256"], "jwksFile": "keys/i.json"}]}"#)
        var asked: [String] = []
        let out = try MeshPolicy.inlineJWKSFiles([file, (name: "other.json", content: #"{"rules": []}"#)]) { path in
            asked.append(path)
            return Array(Self.jwks.utf8)
        }
        #expect(asked == ["keys/i.json"])
        #expect(out[1].content == #"{"rules": []}"#)
        let policy = try MeshPolicy.load(files: D.files([("issuers.json", out[0].content), ("mesh.json", D.single(rules: []))]))
        #expect(policy.issuers.first?.jwks == (try StrictJSON.parse(Array(Self.jwks.utf8))))
        for path in ["/etc/passwd", "../secret.json", "keys/../../x.json"] {
            let bad = (name: "issuers.json", content: file.content.replacingOccurrences(of: "keys/i.json", with: path))
            _ = expectMeshError("policy.bad-issuer") { _ = try MeshPolicy.inlineJWKSFiles([bad]) { _ in [] } }
        }
    }
}
