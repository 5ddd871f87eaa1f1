/// Parsing and validating the sidecar's JSON configuration (schema: `mesh-config/README.md`). All or nothing:
/// the first problem throws a `MeshError` whose reason starts with the path of the offending value.
///
/// Codes beyond the `json.*` ones of `StrictJSON` and the reader's `config.wrong-type`, `config.missing-field`,
/// `config.unknown-field`, `config.out-of-range`: `config.no-listeners`, `config.bad-name`,
/// `config.duplicate-name`, `config.bad-address`, `config.bad-port`, `config.listen-conflict`,
/// `config.foreign-trust-domain`, `config.duplicate-allow`, `config.bad-value`, `config.bad-path`, and the
/// `spiffe.*` codes of `SPIFFEID`/`TrustDomain` (re-thrown with the path in front of the reason).
extension SidecarConfig {
    /// Allowed ranges (SECURITY.md §6 defaults live in `Limits`, `TLSSettings` and `SidecarConfig.init`).
    public enum Ranges {
        public static let timeoutMs = 1...86_400_000
        public static let maxConnections = 1...1_000_000
        public static let maxConcurrentHandshakesPerLoop = 1...100_000
        public static let bufferBytes = 4096...1_048_576
        public static let sessionCacheSize = 1...1_000_000
        public static let sessionLifetimeSeconds = 1...86_400
        public static let loops = 0...256
        public static let logFileBytes = 4096...(1 << 40)
        public static let logKeepFiles = 1...100
        public static let logLinesPerSecond = 1...1_000_000
        public static let logLinesBurst = 1...1_000_000
    }

    /// Parses and validates a sidecar configuration document. Relative paths (`identity.*`, `log.file`) are
    /// joined to `baseDirectory` (normally the folder of the config file) as text; the filesystem is not touched.
    public static func parse(json: [UInt8], baseDirectory: String) throws -> SidecarConfig {
        let root = try JSONNode(StrictJSON.parse(json))
            .object(fields: ["identity", "inbound", "outbound", "limits", "tls", "log", "loops", "admin", "policy", "telemetry",
                            "transparent", "dns", "pool", "http"])
        let identity = try parseIdentity(root.required("identity"), baseDirectory: baseDirectory)
        let domain = identity.trustDomain
        var inbound: [InboundListener] = []
        for node in try root.optional("inbound")?.elements() ?? [] {
            inbound.append(try parseInbound(node, trustDomain: domain))
        }
        var outbound: [OutboundListener] = []
        for node in try root.optional("outbound")?.elements() ?? [] {
            outbound.append(try parseOutbound(node, trustDomain: domain))
        }
        let transparent = try root.optional("transparent").map { n throws(MeshError) in try parseTransparent(n) }
        if inbound.isEmpty && outbound.isEmpty && transparent?.enabled != true {
            throw MeshError(.configNoListeners, "$: no listeners; add at least one to inbound or outbound")
        }
        try checkListeners(inbound: inbound, outbound: outbound)
        try checkOutbound(outbound, trustDomain: domain)

        var config = SidecarConfig(identity: identity, inbound: inbound, outbound: outbound)
        if let node = root.optional("limits") { config.limits = try parseLimits(node) }
        if let node = root.optional("tls") { config.tls = try parseTLS(node) }
        if let node = root.optional("pool") { config.pool = try parsePool(node) }
        if let node = root.optional("http") { config.http = try parseHTTP(node) }
        if let node = root.optional("log") { config.log = try parseLog(node, baseDirectory: baseDirectory) }
        if let node = root.optional("loops") { config.loops = try node.int(in: Ranges.loops) }
        if let node = root.optional("admin") { config.admin = try parseAdmin(node) }
        if let node = root.optional("policy") {
            config.policy = try parsePolicy(node, baseDirectory: baseDirectory)
            try checkManaged(config, node: node)
        }
        // Without a static upstream, endpoints come from the control plane's slice: policy must come from it.
        for (i, l) in outbound.enumerated() where l.upstream == nil && config.policy == nil {
            throw MeshError(.configMissingField, "outbound[\(i)].upstream: required unless policy comes from the control plane (its slice carries the endpoints of \"to\")")
        }
        if let node = root.optional("telemetry") {
            config.telemetry = try parseTelemetry(node, bootstrap: identity.bootstrap)
        }
        config.transparent = transparent
        if let node = root.optional("dns") { config.dns = try parseDNS(node) }
        if transparent?.enabled == true && config.policy == nil {
            throw MeshError(.configBadValue, "$.transparent: needs policy from the control plane (the slice maps destinations to services)")
        }
        if config.admin.enabled {
            let all = inbound.map { ($0.listen, "inbound") } + outbound.map { ($0.listen, "outbound") }
            if let clash = all.first(where: { $0.0.port == config.admin.listen.port && ($0.0.host == config.admin.listen.host
                || $0.0.host == "0.0.0.0" || config.admin.listen.host == "0.0.0.0") }) {
                throw MeshError(.configListenConflict, "admin.listen: \(config.admin.listen) collides with \(clash.1) listener \(clash.0)")
            }
        }
        return config
    }

    /// `path` unchanged when absolute (or when `baseDirectory` is empty), otherwise `baseDirectory/path`.
    public static func resolve(path: String, baseDirectory: String) -> String {
        if path.hasPrefix("/") || baseDirectory.isEmpty { return path }
        return baseDirectory.hasSuffix("/") ? baseDirectory + path : baseDirectory + "/" + path
    }

    // MARK: - Sections

    private static func parseIdentity(_ node: JSONNode, baseDirectory: String) throws(MeshError) -> IdentityFiles {
        let r = try node.object(fields: ["trustDomain", "certificate", "key", "trustBundle", "bootstrap"])
        let domainNode = try r.required("trustDomain")
        let domainText = try domainNode.string()
        let domain = try rethrow(at: domainNode) { try TrustDomain(domainText) }
        func file(_ key: String) throws(MeshError) -> String {
            try resolve(path: filePath(r.required(key)), baseDirectory: baseDirectory)
        }
        var files = IdentityFiles(certificate: try file("certificate"), key: try file("key"),
                                  trustBundle: try file("trustBundle"), trustDomain: domain)
        if let b = r.optional("bootstrap") { files.bootstrap = try parseBootstrap(b, trustDomain: domain, baseDirectory: baseDirectory) }
        return files
    }

    /// `identity.bootstrap`: get the identity from the control plane with a join token, then keep it renewed.
    private static func parseBootstrap(_ node: JSONNode, trustDomain: TrustDomain, baseDirectory: String) throws(MeshError) -> BootstrapSettings {
        let r = try node.object(fields: ["controlPlane", "tokenFile", "trustAnchor", "trustAnchorSHA256", "controlPlaneIdentity"])
        let cp = try parseControlPlanes(r.required("controlPlane"))
        let token = resolve(path: try filePath(r.required("tokenFile")), baseDirectory: baseDirectory)
        var anchorFile: String?
        var anchorSHA: String?
        if let a = r.optional("trustAnchor") { anchorFile = resolve(path: try filePath(a), baseDirectory: baseDirectory) }
        if let a = r.optional("trustAnchorSHA256") {
            let hex = try a.string().lowercased()
            guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit }) else {
                throw a.error(.configBadValue, "trustAnchorSHA256 must be 64 hex digits (SHA-256 of the root certificate's DER)")
            }
            anchorSHA = hex
        }
        guard (anchorFile == nil) != (anchorSHA == nil) else {
            throw node.error(.configBadValue, "give exactly one of trustAnchor (a bundle file) or trustAnchorSHA256 (a fingerprint)")
        }
        var cpID = try rethrow(at: node) { try SPIFFEID.service(trustDomain: trustDomain, namespace: "mesh-system", name: "mesh-control") }
        if let n = r.optional("controlPlaneIdentity") {
            let text = try n.string()
            cpID = try rethrow(at: n) { try SPIFFEID.workload(text) }
        }
        return BootstrapSettings(controlPlanes: cp, tokenFile: token, trustAnchor: anchorFile, trustAnchorSHA256: anchorSHA,
                                 controlPlaneIdentity: cpID)
    }

    private static func parseInbound(_ node: JSONNode, trustDomain: TrustDomain) throws(MeshError) -> InboundListener {
        let r = try node.object(fields: ["name", "listen", "forwardTo", "allow", "port", "protocol"])
        let name = try listenerName(r.required("name"))
        let listen = try address(r.required("listen"), connecting: false)
        let forwardTo = try address(r.required("forwardTo"), connecting: true)
        var allow: [SPIFFEID] = []
        var firstIndex: [SPIFFEID: Int] = [:]
        for entry in try r.required("allow").elements() {
            let id = try workloadID(entry, trustDomain: trustDomain)
            if let first = firstIndex[id] {
                throw entry.error(.configDuplicateAllow, "\(id) is already allowed by entry \(first)")
            }
            firstIndex[id] = allow.count
            allow.append(id)
        }
        var l = InboundListener(name: name, listen: listen, forwardTo: forwardTo, allow: allow)
        if let p = r.optional("port") { l.servicePort = try p.int(in: 1...65_535) }
        if let p = r.optional("protocol") { l.protocol = try portProtocol(p) }
        return l
    }

    private static func parseOutbound(_ node: JSONNode, trustDomain: TrustDomain) throws(MeshError) -> OutboundListener {
        let r = try node.object(fields: ["name", "listen", "upstream", "expectIdentity", "to", "port", "allowNonLoopback", "protocol"])
        let name = try listenerName(r.required("name"))
        let listen = try address(r.required("listen"), connecting: false)
        let upstream = try r.optional("upstream").map { n throws(MeshError) in try address(n, connecting: true) }
        let to = try r.optional("to").map { t throws(MeshError) in try ServiceKey(parsing: try t.string()) }
        // Without `expectIdentity`, the identity of the service `to` names (the only one checkOutbound accepts).
        let expect: SPIFFEID
        if let n = r.optional("expectIdentity") {
            expect = try workloadID(n, trustDomain: trustDomain)
        } else if let to {
            expect = try rethrow(at: node) { try SPIFFEID.service(trustDomain: trustDomain, namespace: to.namespace, name: to.name) }
        } else {
            throw node.error(.configMissingField, "expectIdentity: required unless \"to\" names the destination service")
        }
        var l = OutboundListener(name: name, listen: listen, upstream: upstream, expectIdentity: expect)
        l.destination = to
        if let p = r.optional("port") { l.destinationPort = try p.int(in: 1...65_535) }
        if let a = r.optional("allowNonLoopback") { l.allowNonLoopback = try a.bool() }
        if let p = r.optional("protocol") { l.protocol = try portProtocol(p) }
        return l
    }

    /// `"tcp"` or `"http"` (`config.bad-value` otherwise).
    private static func portProtocol(_ node: JSONNode) throws(MeshError) -> PortProtocol {
        let text = try node.string()
        guard let p = PortProtocol(rawValue: text) else {
            throw node.error(.configBadValue, "\(text.debugDescription) is not one of: tcp, http")
        }
        return p
    }

    /// `policy`: the allow lists come from the control plane's mesh configuration instead of this file.
    private static func parsePolicy(_ node: JSONNode, baseDirectory: String) throws(MeshError) -> PolicySettings {
        let r = try node.object(fields: ["fromControlPlane", "lastKnownGood"])
        guard try r.required("fromControlPlane").bool() else {
            throw node.error(.configBadValue, "fromControlPlane must be true (leave policy out for static allow lists)")
        }
        return PolicySettings(lastKnownGood: resolve(path: try filePath(r.required("lastKnownGood")), baseDirectory: baseDirectory))
    }

    /// With policy from the control plane: the identity must come from it too, every inbound listener names the
    /// service port it serves (and has no allow list of its own), every outbound one its destination and port.
    private static func checkManaged(_ c: SidecarConfig, node: JSONNode) throws(MeshError) {
        guard c.identity.bootstrap != nil else {
            throw node.error(.configBadValue, "policy from the control plane needs identity.bootstrap (the control plane's address and trust)")
        }
        for (i, l) in c.inbound.enumerated() {
            if l.servicePort == nil { throw MeshError(.configMissingField, "inbound[\(i)].port: the service port this listener serves is required with policy from the control plane") }
            if !l.allow.isEmpty { throw MeshError(.configBadValue, "inbound[\(i)].allow: must be [] with policy from the control plane (the mesh's rules decide)") }
        }
        for (i, l) in c.outbound.enumerated() where l.destination == nil || l.destinationPort == nil {
            throw MeshError(.configMissingField, "outbound[\(i)]: \"to\" (namespace/name) and \"port\" are required with policy from the control plane")
        }

    }

    private static func parseLimits(_ node: JSONNode) throws(MeshError) -> Limits {
        let r = try node.object(fields: ["handshakeTimeoutMs", "connectTimeoutMs", "idleTimeoutMs", "maxConnections",
                                         "maxConcurrentHandshakesPerLoop", "bufferBytes"])
        var limits = Limits()
        func read(_ key: String, _ range: ClosedRange<Int>, _ field: WritableKeyPath<Limits, Int>) throws(MeshError) {
            if let node = r.optional(key) { limits[keyPath: field] = try node.int(in: range) }
        }
        try read("handshakeTimeoutMs", Ranges.timeoutMs, \.handshakeTimeoutMs)
        try read("connectTimeoutMs", Ranges.timeoutMs, \.connectTimeoutMs)
        try read("idleTimeoutMs", Ranges.timeoutMs, \.idleTimeoutMs)
        try read("maxConnections", Ranges.maxConnections, \.maxConnections)
        try read("maxConcurrentHandshakesPerLoop", Ranges.maxConcurrentHandshakesPerLoop,
                 \.maxConcurrentHandshakesPerLoop)
        try read("bufferBytes", Ranges.bufferBytes, \.bufferBytes)
        return limits
    }

    private static func parseTLS(_ node: JSONNode) throws(MeshError) -> TLSSettings {
        let r = try node.object(fields: ["resumption", "sessionCacheSize", "sessionLifetimeSeconds"])
        var tls = TLSSettings()
        if let node = r.optional("resumption") {
            let text = try node.string()
            guard let mode = ResumptionMode.allCases.first(where: { $0.rawValue.utf8.elementsEqual(text.utf8) }) else {
                let modes = ResumptionMode.allCases.map(\.rawValue).joined(separator: ", ")
                throw node.error(.configBadValue, "\(text.debugDescription) is not one of: \(modes)")
            }
            tls.resumption = mode
        }
        if let node = r.optional("sessionCacheSize") { tls.sessionCacheSize = try node.int(in: Ranges.sessionCacheSize) }
        if let node = r.optional("sessionLifetimeSeconds") {
            tls.sessionLifetimeSeconds = try node.int(in: Ranges.sessionLifetimeSeconds)
        }
        return tls
    }

    private static func parseAdmin(_ node: JSONNode) throws(MeshError) -> AdminSettings {
        let r = try node.object(fields: ["listen", "enabled"])
        var admin = AdminSettings()
        if let node = r.optional("listen") {
            do {
                admin.listen = try HostPort(parsing: try node.string())
            } catch {
                throw node.error(error.errorCode, error.reason)
            }
        }
        if let node = r.optional("enabled") { admin.enabled = try node.bool() }
        return admin
    }

    private static func parseLog(_ node: JSONNode, baseDirectory: String) throws(MeshError) -> LogSettings {
        let r = try node.object(fields: ["file", "logAllowed", "maxFileBytes", "keepFiles", "refusalLinesPerSecond",
                                         "refusalLinesBurst"])
        var log = LogSettings()
        if let node = r.optional("file") { log.file = resolve(path: try filePath(node), baseDirectory: baseDirectory) }
        if let node = r.optional("logAllowed") { log.logAllowed = try node.bool() }
        if let node = r.optional("maxFileBytes") { log.maxFileBytes = try node.int(in: Ranges.logFileBytes) }
        if let node = r.optional("keepFiles") { log.keepFiles = try node.int(in: Ranges.logKeepFiles) }
        if let node = r.optional("refusalLinesPerSecond") { log.refusalLinesPerSecond = try node.int(in: Ranges.logLinesPerSecond) }
        if let node = r.optional("refusalLinesBurst") { log.refusalLinesBurst = try node.int(in: Ranges.logLinesBurst) }
        return log
    }

    // MARK: - Fields

    /// `[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?`: a DNS label, usable in rule names, logs and metric labels.
    private static func listenerName(_ node: JSONNode) throws(MeshError) -> String {
        let name = try node.string()
        let bytes = Array(name.utf8)
        let isLabelByte = { (b: UInt8) in (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
        let valid = (1...63).contains(bytes.count) && isLabelByte(bytes[0]) && isLabelByte(bytes[bytes.count - 1])
            && bytes.allSatisfy { isLabelByte($0) || $0 == UInt8(ascii: "-") }
        guard valid else {
            throw node.error(.configBadName,
                             "\(name.debugDescription) is not 1-63 of [a-z0-9-], starting and ending with [a-z0-9]")
        }
        return name
    }

    /// A non-empty path without control characters (a NUL would silently cut it short in C).
    private static func filePath(_ node: JSONNode) throws(MeshError) -> String {
        let path = try node.string()
        guard !path.isEmpty else { throw node.error(.configBadPath, "the file path is empty") }
        guard !path.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw node.error(.configBadPath, "the file path \(path.debugDescription) contains a control character")
        }
        return path
    }

    private static func address(_ node: JSONNode, connecting: Bool) throws(MeshError) -> HostPort {
        let text = try node.string()
        let hostPort = try rethrow(at: node) { try HostPort(parsing: text) }
        if connecting && HostAddresses(hostPort.host).isWildcard {
            throw node.error(.configBadAddress, "cannot connect to the unspecified address \(hostPort.host)")
        }
        return hostPort
    }

    private static func workloadID(_ node: JSONNode, trustDomain: TrustDomain) throws(MeshError) -> SPIFFEID {
        let text = try node.string()
        let id = try rethrow(at: node) { try SPIFFEID.workload(text) }
        guard id.trustDomain == trustDomain else {
            throw node.error(.configForeignTrustDomain,
                             "\(id) is in trust domain \(id.trustDomain), not identity.trustDomain \(trustDomain)")
        }
        return id
    }

    /// Names unique across inbound and outbound; no two listeners that would bind the same address and port
    /// (a wildcard address, `0.0.0.0` or `::`, conflicts with every other address on its port).
    private static func checkListeners(inbound: [InboundListener], outbound: [OutboundListener]) throws(MeshError) {
        let inboundPath = JSONPath.root.appending("inbound")
        let outboundPath = JSONPath.root.appending("outbound")
        let all = inbound.enumerated().map { (inboundPath.appending(index: $0), $1.name, $1.listen) }
            + outbound.enumerated().map { (outboundPath.appending(index: $0), $1.name, $1.listen) }
        var pathByName: [String: JSONPath] = [:]
        var listenersByPort: [UInt16: [(JSONPath, HostPort, HostAddresses)]] = [:]
        for (path, name, listen) in all {
            if let other = pathByName[name] {
                throw MeshError(.configDuplicateName,
                                "\(path.appending("name")): listener name \(name.debugDescription) is already used by \(other)")
            }
            pathByName[name] = path
            let addresses = HostAddresses(listen.host)
            for (otherPath, otherListen, otherAddresses) in listenersByPort[listen.port, default: []]
            where addresses.overlaps(otherAddresses) {
                throw MeshError(.configListenConflict,
                                "\(path.appending("listen")): \(listen) conflicts with \(otherListen) of \(otherPath)")
            }
            listenersByPort[listen.port, default: []].append((path, listen, addresses))
        }
    }

    /// Runs `body`; a `MeshError` it throws comes back with `<path>: ` in front of its reason, code unchanged.
    private static func rethrow<T>(at node: JSONNode, _ body: () throws -> T) throws(MeshError) -> T {
        do {
            return try body()
        } catch let error as MeshError {
            throw node.error(error.errorCode, error.reason)
        } catch {
            throw node.error(.configInvalid, "\(error)")
        }
    }
}
