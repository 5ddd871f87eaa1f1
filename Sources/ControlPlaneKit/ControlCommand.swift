/// ControlPlaneKit is mesh-control's logic: the certificate authority and its rotation, join tokens,
/// issuance, the audit log, the durable store, and the HTTPS API. The `mesh-control` main only calls
/// `ControlCommand.main`.
#if canImport(Glibc)
import Glibc
#endif
import MeshAlerts
import MeshCore
import MeshNet
import MeshObservability
import MeshTLS

/// `mesh-control` as a function from arguments to an exit code.
public enum ControlCommand {
    public static let usage = """
    Usage: mesh-control init --data-dir DIR --trust-domain TD
                             [--import-ca-cert F --import-ca-key F --import-anchors F [--import-chain F]]
           mesh-control serve --data-dir DIR [--listen 0.0.0.0:8443] [--cert-ttl 24h]
                             [--rotation-overlap DURATION] [--issue-rate 30]
                             [--max-connections 16384] [--max-long-polls 12288]
                             [--telemetry-max-edges 100000] [--telemetry-max-entries 2000000]
                             [--telemetry-max-instances 50000] [--alert-webhook http://IP:PORT/PATH]
                             [--max-automatic-quarantines 3] [--loops CORES] [--listen-backlog 4096]
                             [--max-handshakes 256]
           mesh-control --help

    init   Create the CA (a self-signed ECDSA P-256 root, or an imported intermediate with its anchors), the
           admin credential (DIR/admin.token, 0600: give it to meshctl) and the audit log.
    serve  Run the HTTPS API. Certificates it issues live --cert-ttl (default 24h, at least 10s); a CA
           rotation overlaps for --rotation-overlap (default: the cert TTL). At most --issue-rate
           certificates per identity per minute. At most --max-connections open connections (the fd
           limit is raised to fit when allowed), of which --max-long-polls parked policy polls.
           Telemetry keeps at most --telemetry-max-edges distinct edges (more are folded into overflow
           edges), --telemetry-max-entries edge entries over its time buckets (the oldest are evicted) and
           --telemetry-max-instances sidecar instances (DIR/telemetry: snapshot and journal). Alert
           transitions (the applied mesh's `alerts`) are logged (alert-firing, alert-resolved) and, with
           --alert-webhook, POSTed there as JSON (retried 5 times with back-off, then given up). Alert rules
           may quarantine at most --max-automatic-quarantines identities per 60 s, mesh-wide.
           Connections are served by --loops event loops (default: one per core), each with its own
           listening socket (SO_REUSEPORT) of --listen-backlog (default 4096, capped by the kernel's
           net.core.somaxconn) and at most --max-handshakes TLS handshakes in progress per loop.

    The CA key is encrypted at rest with the passphrase in $MESH_CA_PASSPHRASE or the file named by
    --ca-passphrase-file (both commands). Durations: 30s, 5m, 24h or plain seconds.
    Exit codes: 0 ok, 64 bad usage, 66 cannot read a file, 70 failure.
    """

    public static func main(_ args: [String]) -> Int32 {
        guard let verb = args.first else { err(usage); return 64 }
        if verb == "--help" || verb == "-h" || verb == "help" { out(usage + "\n" + etcdUsage); return 0 }
        var opts: [String: String] = [:]
        var i = 1
        while i < args.count {
            guard args[i].hasPrefix("--"), i + 1 < args.count else { err("mesh-control: expected --option VALUE at '\(args[i])'\n\n\(usage)"); return 64 }
            opts[String(args[i].dropFirst(2))] = args[i + 1]
            i += 2
        }
        guard let dataDir = opts["data-dir"] ?? (verb == "migrate" ? "" : nil) else { err("mesh-control: --data-dir is required\n\n\(usage)"); return 64 }
        let passphrase: [UInt8]
        if let file = opts["ca-passphrase-file"] {
            guard let p = try? DurableFile.read(file, limit: 4096) else { err("mesh-control: cannot read --ca-passphrase-file \(file)"); return 66 }
            passphrase = Array(String(decoding: p, as: UTF8.self).trimming("\n").utf8)
        } else if let env = getenv("MESH_CA_PASSPHRASE") {
            passphrase = Array(String(cString: env).utf8)
        } else {
            err("mesh-control: set MESH_CA_PASSPHRASE or --ca-passphrase-file (the CA key is encrypted at rest)")
            return 64
        }
        // New CA material needs 12 bytes; an existing store keeps starting with its (at least 8-byte) passphrase.
        let minimum = verb == "init" ? 12 : 8
        guard passphrase.count >= minimum else { err("mesh-control: the CA passphrase must be at least \(minimum) bytes"); return 64 }
        if passphrase.count < 12 { err("mesh-control: warning: the CA passphrase is shorter than 12 bytes; choose a longer one") }
        switch verb {
        case "init": return initialize(dataDir: dataDir, opts: opts, passphrase: passphrase)
        case "serve": return serve(dataDir: dataDir, opts: opts, passphrase: passphrase)
        case "migrate": return migrate(opts: opts, passphrase: passphrase)
        default: err("mesh-control: unknown command '\(verb)'\n\n\(usage)"); return 64
        }
    }

    static func initialize(dataDir: String, opts: [String: String], passphrase: [UInt8]) -> Int32 {
        guard let tdText = opts["trust-domain"] else { err("mesh-control init: --trust-domain is required"); return 64 }
        let td: TrustDomain
        do { td = try TrustDomain(tdText) } catch { err("mesh-control init: --trust-domain: \(error)"); return 64 }
        var imported: (cert: Certificate, key: PrivateKey, chain: [Certificate], anchors: [Certificate])?
        if let certFile = opts["import-ca-cert"] {
            guard let keyFile = opts["import-ca-key"], let anchorsFile = opts["import-anchors"] else {
                err("mesh-control init: --import-ca-cert needs --import-ca-key and --import-anchors")
                return 64
            }
            do {
                let cert = try Certificate.parseChain(pem: DurableFile.read(certFile), maxCount: 1)[0]
                let key = try PrivateKey(pem: DurableFile.read(keyFile))
                let chain = try opts["import-chain"].map { try Certificate.parseChain(pem: DurableFile.read($0)) } ?? []
                let anchors = try Certificate.parseChain(pem: DurableFile.read(anchorsFile), maxCount: 16)
                imported = (cert, key, chain, anchors)
            } catch {
                err("mesh-control init: import: \(error)")
                return 66
            }
        }
        if opts["store"] == "etcd" { return initializeEtcd(dataDir: dataDir, opts: opts, passphrase: passphrase, trustDomain: td, imported: imported) }
        do {
            let secret = try ControlPlane.initialize(dataDir: dataDir, trustDomain: td, passphrase: passphrase,
                                                     now: SystemClock().wallSeconds(), imported: imported)
            out("initialized \(dataDir) for trust domain \(td)")
            out("admin credential written to \(dataDir)/admin.token (0600); meshctl reads it with --data-dir or --token-file")
            _ = secret
            return 0
        } catch let e as MeshError where e.errorCode == .caExists {
            err("mesh-control init: \(e.reason)")
            return 64
        } catch {
            err("mesh-control init: \(error)")
            return 70
        }
    }

    static func serve(dataDir: String, opts: [String: String], passphrase: [UInt8]) -> Int32 {
        var settings = ControlSettings()
        var loops = ControlServer.defaultLoops
        do {
            if let t = opts["cert-ttl"] { settings.certTTL = try duration(t, min: 10) }
            if let o = opts["rotation-overlap"] { settings.rotationOverlap = try duration(o, min: 1) }
            if let r = opts["issue-rate"] {
                guard let n = Int(r), n >= 1 else { throw MeshError(.usage, "--issue-rate must be a whole number ≥ 1") }
                settings.issuesPerMinute = n
            }
            if let m = opts["max-automatic-quarantines"] {
                guard let n = Int(m), n >= 0 else { throw MeshError(.usage, "--max-automatic-quarantines must be a whole number ≥ 0") }
                settings.maxAutomaticQuarantines = n
            }
            if let m = opts["max-connections"] {
                guard let n = Int(m), n >= 1 else { throw MeshError(.usage, "--max-connections must be a whole number ≥ 1") }
                settings.maxConnections = n
            }
            if let m = opts["max-long-polls"] {
                guard let n = Int(m), n >= 0 else { throw MeshError(.usage, "--max-long-polls must be a whole number ≥ 0") }
                settings.maxLongPolls = n
            }
            for (flag, path) in [("telemetry-max-edges", \TelemetryStore.Limits.maxEdges),
                                 ("telemetry-max-entries", \TelemetryStore.Limits.maxEntries),
                                 ("telemetry-max-instances", \TelemetryStore.Limits.maxInstances)] {
                guard let m = opts[flag] else { continue }
                guard let n = Int(m), n >= 1 else { throw MeshError(.usage, "--\(flag) must be a whole number ≥ 1") }
                settings.telemetry[keyPath: path] = n
            }
            for (flag, path) in [("listen-backlog", \ControlSettings.listenBacklogInt), ("max-handshakes", \.maxHandshakesPerLoop)] {
                guard let m = opts[flag] else { continue }
                guard let n = Int(m), (1...65_535).contains(n) else { throw MeshError(.usage, "--\(flag) must be a whole number in 1...65535") }
                settings[keyPath: path] = n
            }
            if let m = opts["loops"] {
                guard let n = Int(m), (1...256).contains(n) else { throw MeshError(.usage, "--loops must be a whole number in 1...256") }
                loops = n
            }
        } catch {
            err("mesh-control serve: \(error)")
            return 64
        }
        var webhook: AlertWebhook?
        if let url = opts["alert-webhook"] {
            do { webhook = try AlertWebhook(url: url) } catch { err("mesh-control serve: --alert-webhook: \(error.reason)"); return 64 }
        }
        let listen = opts["listen"] ?? "0.0.0.0:8443"
        let address: SocketAddress
        do { address = try SocketAddress(HostPort(parsing: listen)) } catch { err("mesh-control serve: --listen: \(error)"); return 64 }
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        Syscall.ignoreSIGPIPE()
        // Connections, plus files, the audit log and the loop's own descriptors.
        let fdLimit = FileLimit.raiseOpenFiles(to: settings.maxConnections + 256)
        if fdLimit < settings.maxConnections + 256 {
            logLine("fd-limit", ["limit": .int(fdLimit), "wanted": .int(settings.maxConnections + 256)])
        }
        let server: ControlServer
        do {
            let cp = try controlPlane(dataDir: dataDir, opts: opts, passphrase: passphrase, settings: settings, listen: listen)
            // Security events (clone-suspected, revoked-credential): one log line each, named after the event.
            _ = cp.security.observers.subscribe { e in log.event(e.name, fields: e.fields.map { ($0.0, .string($0.1)) }) }
            // Refused telemetry reports (wrong source, malformed): rate-limited in the service.
            _ = cp.telemetry.refusals.subscribe { e in log.event(e.name, fields: e.fields.map { ($0.0, .string($0.1)) }) }
            // Alert transitions: one JSON line each (alert-firing, alert-resolved), and the webhook when given.
            _ = cp.alerts.transitions.subscribe { t in
                let a = t.alert
                log.event(t.event, fields: [("rule", .string(a.rule)), ("kind", .string(a.kind.rawValue)), ("severity", .string(a.severity.rawValue)),
                                            ("subject", .string(a.subject)), ("since", .int(a.since)), ("count", .int(a.evidence.count)),
                                            ("destinations", .string(a.evidence.destinations.joined(separator: ","))),
                                            ("detail", .optional(a.evidence.detail)), ("action", .optional(a.action))])
            }
            if let webhook { cp.alerts.deliver(to: webhook) }
            if cp.telemetry.tornLines > 0 { logLine("telemetry-torn-lines", ["count": .int(cp.telemetry.tornLines)]) }
            server = try ControlServer(controlPlane: cp, log: { logLine("note", ["message": .string($0)]) },
                                       refusals: { logLine("refused", ["reason": .string($0), "total": .int($1), "peer": .string($2)]) },
                                       loops: loops)
            try server.start(address: address)
            logLine("started", ["listen": .string(server.boundAddress?.description ?? listen), "trustDomain": .string(cp.ca.trustDomain.name),
                                "identity": .string(cp.identity.description), "certTTLSeconds": .int(Int(settings.certTTL)),
                                "issuingRoot": .int(cp.ca.issuing.id), "loops": .int(loops),
                                "listenBacklog": .int(Int(ListenBacklog.effective(settings.listenBacklog)))])
        } catch {
            err("mesh-control serve: \(error)")
            return 70
        }
        var sig: Int32 = 0
        sigwait(&set, &sig)
        server.stop()
        server.controlPlane.stopReplica()
        logLine("stopped", [:])
        return 0
    }

    /// `30s`, `5m`, `24h`, `2d` or plain seconds.
    public static func duration(_ text: String, min: Double) throws -> Double {
        let v = try DurationText.seconds(text)
        guard v >= min else { throw MeshError(.usage, "duration \(text) is below the minimum of \(Int(min)) s") }
        return v
    }

    /// The process log on stderr, in the one JSON-lines shape every mesh process writes.
    static let log = EventLog()

    static func logLine(_ event: String, _ fields: KeyValuePairs<String, LogValue>) {
        log.event(event, fields)
    }

    static func out(_ s: String) { Syscall.writeAll(fd: 1, s + "\n") }
    static func err(_ s: String) { Syscall.writeAll(fd: 2, s + "\n") }
}
