import MeshCore
import Testing
import MeshTestSupport

/// A config document that must be refused with `code`, with `path` at the start of the reason.
struct BadConfig: Sendable, CustomTestStringConvertible {
    let name: String
    let json: String
    let code: String
    let path: String

    init(_ name: String, _ json: String, _ code: String, _ path: String) {
        self.name = name
        self.json = json
        self.code = code
        self.path = path
    }

    var testDescription: String { name }
}

@Suite struct SidecarConfigParsingTests {
    static func parse(_ text: String, base: String = "/etc/mesh") throws -> SidecarConfig {
        try SidecarConfig.parse(json: Array(text.utf8), baseDirectory: base)
    }

    static let full = """
    {
      "identity": {"trustDomain": "mesh.local", "certificate": "certs/frontend.crt", "key": "/abs/frontend.key", "trustBundle": "certs/ca.crt"},
      "inbound": [ {"name": "http", "listen": "0.0.0.0:15443", "forwardTo": "127.0.0.1:8080", "allow": ["spiffe://mesh.local/ns/shop/sa/frontend", "spiffe://mesh.local/ns/ops/sa/probe"]} ],
      "outbound": [ {"name": "payments", "listen": "127.0.0.1:10001", "upstream": "[::1]:15444", "expectIdentity": "spiffe://mesh.local/ns/shop/sa/payments"} ],
      "limits": {"handshakeTimeoutMs": 9000, "connectTimeoutMs": 4000, "idleTimeoutMs": 60000, "maxConnections": 500, "maxConcurrentHandshakesPerLoop": 64, "bufferBytes": 32768},
      "tls": {"resumption": "tickets", "sessionCacheSize": 100, "sessionLifetimeSeconds": 60},
      "log": {"file": "logs/sidecar.jsonl", "logAllowed": true},
      "loops": 4
    }
    """

    @Test func parsesEveryField() throws {
        let config = try Self.parse(Self.full)
        #expect(config.identity.trustDomain.name == "mesh.local")
        #expect(config.identity.certificate == "/etc/mesh/certs/frontend.crt")
        #expect(config.identity.key == "/abs/frontend.key")
        #expect(config.identity.trustBundle == "/etc/mesh/certs/ca.crt")
        #expect(config.inbound == [InboundListener(
            name: "http", listen: HostPort(host: "0.0.0.0", port: 15443), forwardTo: HostPort(host: "127.0.0.1", port: 8080),
            allow: [try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/frontend"),
                    try SPIFFEID.workload("spiffe://mesh.local/ns/ops/sa/probe")])])
        #expect(config.outbound == [OutboundListener(
            name: "payments", listen: HostPort(host: "127.0.0.1", port: 10001), upstream: HostPort(host: "::1", port: 15444),
            expectIdentity: try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/payments"))])
        #expect(config.outbound[0].upstream?.description == "[::1]:15444")
        var limits = Limits()
        limits.handshakeTimeoutMs = 9000
        limits.connectTimeoutMs = 4000
        limits.idleTimeoutMs = 60000
        limits.maxConnections = 500
        limits.maxConcurrentHandshakesPerLoop = 64
        limits.bufferBytes = 32768
        #expect(config.limits == limits)
        #expect(config.tls.resumption == .tickets)
        #expect(config.tls.sessionCacheSize == 100)
        #expect(config.tls.sessionLifetimeSeconds == 60)
        #expect(config.log.file == "/etc/mesh/logs/sidecar.jsonl")
        #expect(config.log.logAllowed)
        #expect(config.loops == 4)
    }

    @Test func appliesDefaultsToOptionalSections() throws {
        let config = try Self.parse(ConfigDoc.object([ConfigDoc.identity, #""outbound": [\#(ConfigDoc.outbound())]"#]))
        #expect(config.inbound.isEmpty)
        #expect(config.outbound.count == 1)
        #expect(config.limits == Limits())
        #expect(config.tls == TLSSettings())
        #expect(config.log == LogSettings())
        #expect(config.loops == 0)
        let nulls = try Self.parse(ConfigDoc.withInbound(#""limits": null, "tls": {}, "log": {"file": null}, "loops": null"#))
        #expect(nulls.limits == Limits() && nulls.tls == TLSSettings() && nulls.log == LogSettings() && nulls.loops == 0)
    }

    @Test func emptyAllowListIsValidAndDeniesAll() throws {
        let config = try Self.parse(ConfigDoc.object([ConfigDoc.identity, #""inbound": [\#(ConfigDoc.inbound(allow: "[]"))]"#]))
        #expect(config.inbound[0].allow.isEmpty)
    }

    @Test(arguments: [
        ("certs/a.crt", "/etc/mesh", "/etc/mesh/certs/a.crt"),
        ("certs/a.crt", "/etc/mesh/", "/etc/mesh/certs/a.crt"),
        ("/abs/a.crt", "/etc/mesh", "/abs/a.crt"),
        ("a.crt", "", "a.crt"),
        ("../a.crt", "conf", "conf/../a.crt"),
    ])
    func resolvesRelativePathsAgainstBaseDirectory(path: String, base: String, expected: String) {
        #expect(SidecarConfig.resolve(path: path, baseDirectory: base) == expected)
    }

    @Test(arguments: [
        ("limits", "handshakeTimeoutMs", 1), ("limits", "handshakeTimeoutMs", 86_400_000),
        ("limits", "connectTimeoutMs", 1), ("limits", "idleTimeoutMs", 86_400_000),
        ("limits", "maxConnections", 1), ("limits", "maxConnections", 1_000_000),
        ("limits", "maxConcurrentHandshakesPerLoop", 1), ("limits", "maxConcurrentHandshakesPerLoop", 100_000),
        ("limits", "bufferBytes", 4096), ("limits", "bufferBytes", 1_048_576),
        ("tls", "sessionCacheSize", 1), ("tls", "sessionCacheSize", 1_000_000),
        ("tls", "sessionLifetimeSeconds", 1), ("tls", "sessionLifetimeSeconds", 86_400),
    ])
    func acceptsRangeBoundaries(section: String, key: String, value: Int) throws {
        _ = try Self.parse(ConfigDoc.withInbound(#""\#(section)": {"\#(key)": \#(value)}"#))
    }

    @Test(arguments: [0, 256])
    func acceptsLoopBoundaries(loops: Int) throws {
        #expect(try Self.parse(ConfigDoc.withInbound(#""loops": \#(loops)"#)).loops == loops)
    }

    @Test(arguments: ResumptionMode.allCases)
    func acceptsEveryResumptionMode(mode: ResumptionMode) throws {
        #expect(try Self.parse(ConfigDoc.withInbound(#""tls": {"resumption": "\#(mode.rawValue)"}"#)).tls.resumption == mode)
    }

    static let id = ConfigDoc.identity
    static func doc(inbound: [String] = [], outbound: [String] = [], _ extra: String...) -> String {
        var members = [id]
        if !inbound.isEmpty { members.append(#""inbound": [\#(inbound.joined(separator: ", "))]"#) }
        if !outbound.isEmpty { members.append(#""outbound": [\#(outbound.joined(separator: ", "))]"#) }
        return ConfigDoc.object(members + extra)
    }
    static func identity(_ body: String) -> String {
        ConfigDoc.object([#""identity": \#(body)"#, #""inbound": [\#(ConfigDoc.inbound())]"#])
    }
    static func inb(_ name: String = "http", _ listen: String = "0.0.0.0:15443", _ forwardTo: String = "127.0.0.1:8080",
                    allow: String = #"["spiffe://mesh.local/ns/shop/sa/frontend"]"#) -> String {
        ConfigDoc.inbound(name: name, listen: listen, forwardTo: forwardTo, allow: allow)
    }
    static func out(_ name: String = "payments", _ listen: String = "127.0.0.1:10001",
                    _ upstream: String = "127.0.0.1:15444",
                    expect: String = "spiffe://mesh.local/ns/shop/sa/payments") -> String {
        ConfigDoc.outbound(name: name, listen: listen, upstream: upstream, expect: expect)
    }

    static let rejections: [BadConfig] = [
        // JSON level
        BadConfig("malformed JSON", "{", "json.syntax", "1:2"),
        BadConfig("duplicate key", doc(inbound: [inb()], #""loops": 1, "loops": 2"#), "json.duplicate-key", "1:"),
        // document shape
        BadConfig("root is an array", "[]", "config.wrong-type", "$: "),
        BadConfig("unknown top-level field", doc(inbound: [inb()], #""listeners": []"#), "config.unknown-field", "listeners: "),
        BadConfig("missing identity", #"{"inbound": [\#(inb())]}"#, "config.missing-field", "identity: "),
        BadConfig("no listeners", doc(), "config.no-listeners", "$: "),
        BadConfig("empty listener arrays", doc(#""inbound": []"#, #""outbound": []"#), "config.no-listeners", "$: "),
        BadConfig("inbound not an array", doc(#""inbound": {}"#), "config.wrong-type", "inbound: "),
        BadConfig("listener not an object", doc(inbound: ["1"]), "config.wrong-type", "inbound[0]: "),
        // identity
        BadConfig("identity missing key", identity(#"{"trustDomain": "mesh.local", "certificate": "c", "trustBundle": "b"}"#),
                  "config.missing-field", "identity.key: "),
        BadConfig("identity unknown field", identity(#"{"trustDomain": "mesh.local", "certificate": "c", "key": "k", "trustBundle": "b", "keyFile": "x"}"#),
                  "config.unknown-field", "identity.keyFile: "),
        BadConfig("uppercase trust domain", identity(#"{"trustDomain": "Mesh.local", "certificate": "c", "key": "k", "trustBundle": "b"}"#),
                  "spiffe.bad-trust-domain-char", "identity.trustDomain: "),
        BadConfig("certificate not a string", identity(#"{"trustDomain": "mesh.local", "certificate": 5, "key": "k", "trustBundle": "b"}"#),
                  "config.wrong-type", "identity.certificate: "),
        BadConfig("empty key path", identity(#"{"trustDomain": "mesh.local", "certificate": "c", "key": "", "trustBundle": "b"}"#),
                  "config.bad-path", "identity.key: "),
        BadConfig("NUL in bundle path", identity(#"{"trustDomain": "mesh.local", "certificate": "c", "key": "k", "trustBundle": "b\u0000x"}"#),
                  "config.bad-path", "identity.trustBundle: "),
        // listener names
        BadConfig("uppercase name", doc(inbound: [inb("HTTP")]), "config.bad-name", "inbound[0].name: "),
        BadConfig("name starts with dash", doc(inbound: [inb("-x")]), "config.bad-name", "inbound[0].name: "),
        BadConfig("name ends with dash", doc(outbound: [out("x-")]), "config.bad-name", "outbound[0].name: "),
        BadConfig("empty name", doc(inbound: [inb("")]), "config.bad-name", "inbound[0].name: "),
        BadConfig("underscore in name", doc(inbound: [inb("a_b")]), "config.bad-name", "inbound[0].name: "),
        BadConfig("64-character name", doc(inbound: [inb(String(repeating: "a", count: 64))]), "config.bad-name", "inbound[0].name: "),
        BadConfig("duplicate name across directions", doc(inbound: [inb("api")], outbound: [out("api")]),
                  "config.duplicate-name", "outbound[0].name: "),
        BadConfig("duplicate inbound name", doc(inbound: [inb("a"), inb("a", "0.0.0.0:1")]),
                  "config.duplicate-name", "inbound[1].name: "),
        // addresses
        BadConfig("port 0", doc(inbound: [inb("a", "0.0.0.0:0")]), "config.bad-port", "inbound[0].listen: "),
        BadConfig("port 65536", doc(inbound: [inb("a", "0.0.0.0:65536")]), "config.bad-port", "inbound[0].listen: "),
        BadConfig("signed port", doc(inbound: [inb("a", "0.0.0.0:+80")]), "config.bad-port", "inbound[0].listen: "),
        BadConfig("port with leading zero", doc(inbound: [inb("a", "0.0.0.0:080")]), "config.bad-port", "inbound[0].listen: "),
        BadConfig("empty port", doc(outbound: [out("a", "127.0.0.1:")]), "config.bad-port", "outbound[0].listen: "),
        BadConfig("host name", doc(inbound: [inb("a", "0.0.0.0:1", "backend.local:80")]), "config.bad-address", "inbound[0].forwardTo: "),
        BadConfig("unbracketed IPv6", doc(inbound: [inb("a", "::1:80")]), "config.bad-address", "inbound[0].listen: "),
        BadConfig("no port", doc(inbound: [inb("a", "localhost")]), "config.bad-address", "inbound[0].listen: "),
        BadConfig("forward to wildcard", doc(inbound: [inb("a", "127.0.0.1:1", "0.0.0.0:8080")]), "config.bad-address", "inbound[0].forwardTo: "),
        BadConfig("upstream to wildcard", doc(outbound: [out("a", "127.0.0.1:1", "[::]:15444")]), "config.bad-address", "outbound[0].upstream: "),
        BadConfig("wildcard conflicts with any address", doc(inbound: [inb("a", "0.0.0.0:15443")], outbound: [out("b", "127.0.0.1:15443")]),
                  "config.listen-conflict", "outbound[0].listen: "),
        BadConfig("specific then wildcard", doc(inbound: [inb("a", "10.0.0.1:80"), inb("b", "0.0.0.0:80")]),
                  "config.listen-conflict", "inbound[1].listen: "),
        BadConfig("same address twice", doc(outbound: [out("a", "127.0.0.1:9"), out("b", "127.0.0.1:9")]),
                  "config.listen-conflict", "outbound[1].listen: "),
        BadConfig("localhost is loopback", doc(outbound: [out("a", "localhost:9"), out("b", "[::1]:9")]),
                  "config.listen-conflict", "outbound[1].listen: "),
        BadConfig("IPv6 wildcard", doc(outbound: [out("a", "[::]:9"), out("b", "127.0.0.1:9")]),
                  "config.listen-conflict", "outbound[1].listen: "),
        BadConfig("IPv4-mapped IPv6", doc(outbound: [out("a", "[::ffff:127.0.0.1]:9"), out("b", "127.0.0.1:9")]),
                  "config.listen-conflict", "outbound[1].listen: "),
        BadConfig("two spellings of ::1", doc(outbound: [out("a", "[0:0:0:0:0:0:0:1]:9"), out("b", "[::1]:9")]),
                  "config.listen-conflict", "outbound[1].listen: "),
        // identities
        BadConfig("allow entry in foreign trust domain", doc(inbound: [inb(allow: #"["spiffe://other.local/ns/a/sa/b"]"#)]),
                  "config.foreign-trust-domain", "inbound[0].allow[0]: "),
        BadConfig("uppercase trust domain in allow entry", doc(inbound: [inb(allow: #"["spiffe://mesh.local/x", "spiffe://MESH.local/x"]"#)]),
                  "spiffe.bad-trust-domain-char", "inbound[0].allow[1]: "),
        BadConfig("trust-domain ID in allow list", doc(inbound: [inb(allow: #"["spiffe://mesh.local"]"#)]),
                  "spiffe.no-path", "inbound[0].allow[0]: "),
        BadConfig("malformed allow entry", doc(inbound: [inb(allow: #"["spiffe://mesh.local/a/"]"#)]),
                  "spiffe.trailing-slash", "inbound[0].allow[0]: "),
        BadConfig("duplicate allow entry", doc(inbound: [inb(allow: #"["spiffe://mesh.local/a", "spiffe://mesh.local/a"]"#)]),
                  "config.duplicate-allow", "inbound[0].allow[1]: "),
        BadConfig("allow entry not a string", doc(inbound: [inb(allow: "[1]")]), "config.wrong-type", "inbound[0].allow[0]: "),
        BadConfig("allow not an array", doc(inbound: [inb(allow: #""spiffe://mesh.local/a""#)]), "config.wrong-type", "inbound[0].allow: "),
        BadConfig("allow missing", doc(#""inbound": [{"name": "a", "listen": "0.0.0.0:1", "forwardTo": "127.0.0.1:2"}]"#),
                  "config.missing-field", "inbound[0].allow: "),
        BadConfig("expectIdentity in foreign trust domain", doc(outbound: [out(expect: "spiffe://evil.example/ns/shop/sa/payments")]),
                  "config.foreign-trust-domain", "outbound[0].expectIdentity: "),
        BadConfig("expectIdentity malformed", doc(outbound: [out(expect: "spiffe://mesh.local/ns/../x")]),
                  "spiffe.dot-segment", "outbound[0].expectIdentity: "),
        // limits, tls, log, loops
        BadConfig("handshake timeout 0", doc(inbound: [inb()], #""limits": {"handshakeTimeoutMs": 0}"#),
                  "config.out-of-range", "limits.handshakeTimeoutMs: "),
        BadConfig("connect timeout too long", doc(inbound: [inb()], #""limits": {"connectTimeoutMs": 86400001}"#),
                  "config.out-of-range", "limits.connectTimeoutMs: "),
        BadConfig("idle timeout negative", doc(inbound: [inb()], #""limits": {"idleTimeoutMs": -1}"#),
                  "config.out-of-range", "limits.idleTimeoutMs: "),
        BadConfig("maxConnections too many", doc(inbound: [inb()], #""limits": {"maxConnections": 1000001}"#),
                  "config.out-of-range", "limits.maxConnections: "),
        BadConfig("handshakes per loop 0", doc(inbound: [inb()], #""limits": {"maxConcurrentHandshakesPerLoop": 0}"#),
                  "config.out-of-range", "limits.maxConcurrentHandshakesPerLoop: "),
        BadConfig("buffer too small", doc(inbound: [inb()], #""limits": {"bufferBytes": 4095}"#),
                  "config.out-of-range", "limits.bufferBytes: "),
        BadConfig("buffer too large", doc(inbound: [inb()], #""limits": {"bufferBytes": 1048577}"#),
                  "config.out-of-range", "limits.bufferBytes: "),
        BadConfig("fractional limit", doc(inbound: [inb()], #""limits": {"bufferBytes": 1.5}"#),
                  "config.wrong-type", "limits.bufferBytes: "),
        BadConfig("exponent limit", doc(inbound: [inb()], #""limits": {"maxConnections": 1e3}"#),
                  "config.wrong-type", "limits.maxConnections: "),
        BadConfig("string limit", doc(inbound: [inb()], #""limits": {"maxConnections": "10"}"#),
                  "config.wrong-type", "limits.maxConnections: "),
        BadConfig("unknown limit", doc(inbound: [inb()], #""limits": {"maxConns": 10}"#),
                  "config.unknown-field", "limits.maxConns: "),
        BadConfig("unknown resumption", doc(inbound: [inb()], #""tls": {"resumption": "Tickets"}"#),
                  "config.bad-value", "tls.resumption: "),
        BadConfig("session cache 0", doc(inbound: [inb()], #""tls": {"sessionCacheSize": 0}"#),
                  "config.out-of-range", "tls.sessionCacheSize: "),
        BadConfig("session lifetime too long", doc(inbound: [inb()], #""tls": {"sessionLifetimeSeconds": 86401}"#),
                  "config.out-of-range", "tls.sessionLifetimeSeconds: "),
        BadConfig("logAllowed not a boolean", doc(inbound: [inb()], #""log": {"logAllowed": "yes"}"#),
                  "config.wrong-type", "log.logAllowed: "),
        BadConfig("log file not a string", doc(inbound: [inb()], #""log": {"file": 3}"#), "config.wrong-type", "log.file: "),
        BadConfig("loops too many", doc(inbound: [inb()], #""loops": 257"#), "config.out-of-range", "loops: "),
        BadConfig("loops negative", doc(inbound: [inb()], #""loops": -1"#), "config.out-of-range", "loops: "),
        BadConfig("loops boolean", doc(inbound: [inb()], #""loops": true"#), "config.wrong-type", "loops: "),
    ]

    @Test(arguments: rejections)
    func rejectsInvalidConfig(_ bad: BadConfig) {
        expectMeshError(bad.code, reasonPrefix: bad.path) { _ = try Self.parse(bad.json) }
    }

    @Test func acceptsTheSameListenPortOnDistinctAddresses() throws {
        let config = try Self.parse(Self.doc(outbound: [Self.out("a", "127.0.0.1:9"), Self.out("b", "127.0.0.2:9"),
                                                        Self.out("c", "[::1]:9"), Self.out("d", "127.0.0.1:10")]))
        #expect(config.outbound.map(\.name) == ["a", "b", "c", "d"])
    }

    @Test func listenerNamesMayBe63Characters() throws {
        let name = "a" + String(repeating: "-", count: 61) + "0"
        #expect(try Self.parse(Self.doc(inbound: [Self.inb(name)])).inbound[0].name == name)
    }
}
