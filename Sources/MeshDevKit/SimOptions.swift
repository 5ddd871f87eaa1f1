import MeshCore

/// `mesh-dev simulate` options, with their defaults.
struct SimOptions: Sendable {
    /// Simulated sidecars (`--sidecars`, required).
    var sidecars = 0
    /// Services they are replicas of (`--services`, default min(sidecars, 100)).
    var services = 0
    /// Certificates issued per service at most (`--certs-per-service`, default 25: below the control plane's
    /// default 30 issuances per identity per minute); replicas beyond share them round-robin.
    var certsPerService = 25
    /// Telemetry report interval (`--interval`, default 5 s) and synthetic edges per report (`--edges`, default 5).
    var intervalMs: Int64 = 5_000
    var edges = 5
    /// Send telemetry reports at all (`--no-report` turns them off).
    var report = true
    /// Renew the certificate every this often (`--renew-every`, default never); only one replica per identity.
    var renewEveryMs: Int64?
    /// `&wait=S` on every poll (`--wait`, default absent: the control plane's own wait).
    var wait: Int?
    /// How long the drive phase runs (`--duration`, default 30 s), and when in it the propagation phase applies
    /// a new policy version (`--propagate-at`, default half of it).
    var durationMs: Int64 = 30_000
    var propagateAtMs: Int64?
    /// A renewal storm (`--storm-at`, default none): at this time in the drive every renewing sidecar drops its
    /// connection, re-dials at once (as after an outage) and renews first thing.
    var stormAtMs: Int64?
    /// `--storm-reconnect`: the storm only drops and re-dials every sidecar's connection (no renewal): the
    /// handshake storm alone (time until all are back, errors, TLS resumption rate).
    var stormReconnect = false
    /// Event loops (threads) driving the connections (`--loops`, default 2).
    var loops = 2
    /// Dials in progress at once, all loops together (`--max-connecting`, default 128), so a big N does not hit
    /// the control plane with N handshakes at once and trip its 10 s handshake deadline.
    var maxConnecting = 128
    /// How long to wait for every sidecar to connect and get its first slice (`--connect-timeout`, default 180 s).
    var connectTimeoutMs: Int64 = 180_000
    /// Blocking clients issuing certificates during setup (`--issue-threads`, default 4).
    var issueThreads = 4
    var json = false
    var spawn = false
    var server: String?
    /// `--apply-server HOST:PORT`: the drive's policy change goes to this control plane (another replica over
    /// the same store) instead of `--server`, so propagation is timed across replicas.
    var applyServer: String?
    var dataDir: String?
    var bundleFile: String?
    var tokenFile: String?
    var trustDomain = "mesh.local"
    var controlPid: Int32?

    /// Flags without a value; everything else is `--option VALUE`.
    static let flags: Set<String> = ["--json", "--spawn", "--no-report", "--storm-reconnect"]

    static func parse(_ args: [String]) throws -> SimOptions {
        var o = SimOptions()
        var pairs: [String] = []
        for a in args {
            switch a {
            case "--json": o.json = true
            case "--spawn": o.spawn = true
            case "--no-report": o.report = false
            case "--storm-reconnect": o.stormReconnect = true
            default: pairs.append(a)
            }
        }
        let m = try DevCommand.parseOptions(pairs).get()
        func int(_ k: String, min: Int) throws -> Int? {
            guard let v = m[k] else { return nil }
            guard let n = Int(v), n >= min else { throw MeshError(.usage, "--\(k) must be a whole number ≥ \(min)") }
            return n
        }
        func ms(_ k: String) throws -> Int64? {
            guard let v = m[k] else { return nil }
            guard let d = duration(v), d > 0 else { throw MeshError(.usage, "--\(k): \(v.debugDescription) is not a duration (500ms, 5s, 2m)") }
            return d
        }
        guard let n = try int("sidecars", min: 1) else { throw MeshError(.usage, "--sidecars is required") }
        o.sidecars = n
        o.services = try int("services", min: 1) ?? Swift.min(n, 100)
        o.certsPerService = try int("certs-per-service", min: 1) ?? o.certsPerService
        o.intervalMs = try ms("interval") ?? o.intervalMs
        o.edges = try int("edges", min: 0) ?? o.edges
        o.renewEveryMs = try ms("renew-every")
        o.wait = try int("wait", min: 1)
        o.durationMs = try ms("duration") ?? o.durationMs
        o.propagateAtMs = try ms("propagate-at")
        o.stormAtMs = try ms("storm-at")
        o.loops = try int("loops", min: 1) ?? o.loops
        o.maxConnecting = try int("max-connecting", min: 1) ?? o.maxConnecting
        o.connectTimeoutMs = try ms("connect-timeout") ?? o.connectTimeoutMs
        o.issueThreads = try int("issue-threads", min: 1) ?? o.issueThreads
        o.server = m["server"]
        o.applyServer = m["apply-server"]
        o.dataDir = m["data-dir"]
        o.bundleFile = m["bundle"]
        o.tokenFile = m["token-file"]
        o.trustDomain = m["trust-domain"] ?? o.trustDomain
        o.controlPid = try int("control-pid", min: 1).map { Int32($0) }
        if !o.spawn && o.server == nil { throw MeshError(.usage, "give --spawn, or --server with --data-dir (or --bundle and --token-file)") }
        if !o.spawn && o.dataDir == nil && (o.bundleFile == nil || o.tokenFile == nil) {
            throw MeshError(.usage, "--server needs --data-dir, or --bundle and --token-file")
        }
        return o
    }

    /// `500ms`, `5s`, `2m`, `1h` or plain seconds → milliseconds.
    static func duration(_ text: String) -> Int64? {
        let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let v = Double(text.dropLast(suffix.count)) else { continue }
            return Int64(v * scale)
        }
        return Double(text).map { Int64($0 * 1000) }
    }

    /// Certificates to issue per service: service k has ⌈(N − k) / S⌉ replicas, capped by `certsPerService`.
    var plan: [Int] {
        (0..<services).map { k in Swift.min(certsPerService, (sidecars - k + services - 1) / services) }
    }
}
