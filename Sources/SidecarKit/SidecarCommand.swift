#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshPolicy
import MeshNet
import MeshObservability
import MeshTLS
import MeshHTTP
import MeshControlClient

/// `mesh-sidecar` as a function from arguments to an exit code, so tests can call it and the main stays thin.
/// Exit codes: 0 done, 64 bad usage or configuration, 66 a configured file cannot be read, 70 runtime failure.
public enum SidecarCommand {
    public static let usage = """
    Usage: mesh-sidecar run --config FILE
           mesh-sidecar check-config --config FILE [--schema-only]
           mesh-sidecar wait-ready [--admin HOST:PORT] [--timeout SECONDS]
           mesh-sidecar init-iptables --proxy-uid UID [...] | cleanup-iptables (see init-iptables --help)
           mesh-sidecar --help

    run           Start the sidecar with the JSON configuration in FILE (schema: mesh-config/README.md).
                  SIGTERM or SIGINT stops it.
    check-config  Validate FILE and the identity files it names, print the result, and exit.
                  --schema-only checks the document alone (the identity files need not exist).

    wait-ready    Wait until the sidecar's stats endpoint (default 127.0.0.1:15000) answers GET /ready with 200,
                  for a container entrypoint that starts the app after its sidecar. Default timeout 60 s.

    Exit codes: 0 ok, 64 bad usage or configuration, 66 cannot read a file, 70 runtime failure,
                75 wait-ready timed out.
    """

    public static func main(_ args: [String]) -> Int32 {
        guard let verb = args.first else {
            err(usage)
            return 64
        }
        if verb == "--help" || verb == "-h" || verb == "help" {
            out(usage)
            return 0
        }
        if verb == "wait-ready" { return waitReady(Array(args.dropFirst())) }
        if verb == "init-iptables" || verb == "cleanup-iptables" { return InterceptionCommand.main(verb, Array(args.dropFirst())) }
        guard verb == "run" || verb == "check-config" else {
            err("mesh-sidecar: unknown command '\(verb)'\n\n\(usage)")
            return 64
        }
        var configPath: String?
        var schemaOnly = false
        var i = 1
        while i < args.count {
            switch args[i] {
            case "--config", "-c":
                guard i + 1 < args.count else { err("mesh-sidecar: --config needs a file"); return 64 }
                configPath = args[i + 1]
                i += 2
            case "--help", "-h":
                out(usage)
                return 0
            case "--schema-only" where verb == "check-config":
                schemaOnly = true
                i += 1
            default:
                err("mesh-sidecar: unknown argument '\(args[i])'\n\n\(usage)")
                return 64
            }
        }
        guard let configPath else { err("mesh-sidecar: --config FILE is required\n\n\(usage)"); return 64 }

        let config: SidecarConfig
        let identity: TLSIdentity
        switch loadConfig(configPath) {
        case .failure(let e): return e.code
        case .success(let c): config = c
        }
        if config.identity.bootstrap != nil && verb == "check-config" {
            schemaOnly = true  // the identity files are the sidecar's to fetch
        }
        if schemaOnly {
            out("ok: \(configPath): \(config.inbound.count) inbound, \(config.outbound.count) outbound listener(s)")
            return 0
        }
        let log: EventLog
        do {
            let clock = SystemClock()
            let l = config.log
            log = try EventLog(path: l.file, rotation: LogRotation(maxBytes: l.maxFileBytes, keep: l.keepFiles),
                               limiter: LogRateLimiter(perSecond: l.refusalLinesPerSecond, burst: l.refusalLinesBurst, clock: clock),
                               clock: clock)
        } catch {
            err("mesh-sidecar: log file: \(error)")
            return 66
        }
        var agent: IdentityAgent?
        if verb == "run", config.identity.bootstrap != nil {
            // Not ready, and nothing listening, until the control plane has given us an identity.
            let a = IdentityAgent(files: config.identity, log: { log.event($0, fields: $1) })
            guard a.ensureIdentity() != nil else {
                err("mesh-sidecar: no identity from the control plane (see the log)")
                return 70
            }
            agent = a
        }
        switch loadIdentity(config, configPath: configPath) {
        case .failure(let e): return e.code
        case .success(let id): identity = id
        }
        let channel = verb == "run" ? controlChannel(config, identity: identity) : nil
        var policyAgent: PolicyAgent?
        var slice: ServiceSlice?
        if verb == "run", let p = config.policy, let b = config.identity.bootstrap {
            // Last-known-good first (a restart keeps enforcing without the control plane); else wait for the
            // first slice: until then nothing listens and the sidecar is not ready.
            // A poll parks no longer than a telemetry interval: reports share the poll's connection.
            let wait = config.reportsTelemetry ? config.telemetry.intervalSeconds : PolicyAgent.defaultChannelPollWaitSeconds
            let a = PolicyAgent(settings: p, bootstrap: b, log: { log.event($0, fields: $1) }, channel: channel,
                                channelPollWaitSeconds: wait)
            slice = a.lastKnownGood(for: identity)
            if let slice { log.event("policy-last-known-good", ["version": .int(slice.version)]) }
            if slice == nil { slice = a.firstSlice(identity: identity) }
            guard slice != nil else { return 70 }
            policyAgent = a
        }
        if verb == "check-config" {
            out("ok: \(configPath): identity \(identity.spiffeID), \(config.inbound.count) inbound, \(config.outbound.count) outbound listener(s)")
            return 0
        }
        return run(config: config, identity: identity, configPath: configPath, log: log, agent: agent,
                   policyAgent: policyAgent, channel: channel, slice: slice)
    }

    static func loadConfig(_ path: String) -> Result<SidecarConfig, ExitCode> {
        switch SidecarConfig.load(path: path) {
        case .success(let c): return .success(c)
        case .failure(let e) where e.errorCode == .fileUnreadable || e.errorCode == .fileUnwritable:
            err("mesh-sidecar: config \(path): \(e.reason)")
            return .failure(ExitCode(66))
        case .failure(let e):
            err("mesh-sidecar: config \(path): \(e.code): \(e.reason)")
            return .failure(ExitCode(64))
        }
    }

    static func loadIdentity(_ config: SidecarConfig, configPath: String) -> Result<TLSIdentity, ExitCode> {
        do {
            return .success(try TLSIdentity.load(config.identity))
        } catch let e as MeshError where [.fileUnreadable, .fileTooLarge, .fileUnwritable].contains(e.errorCode) {
            err("mesh-sidecar: config \(configPath): \(e.reason)")
            return .failure(ExitCode(66))
        } catch {
            err("mesh-sidecar: config \(configPath): identity: \(error)")
            return .failure(ExitCode(64))
        }
    }

    /// Runs until SIGTERM/SIGINT. The main thread only waits for signals: SIGHUP reloads, and once a second
    /// it looks whether the config or identity files changed (and reloads if so).
    static func run(config: SidecarConfig, identity: TLSIdentity, configPath: String, log: EventLog, agent: IdentityAgent?,
                    policyAgent: PolicyAgent?, channel: ControlChannel?, slice: ServiceSlice?) -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for sig in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&set, sig) }
        pthread_sigmask(SIG_BLOCK, &set, nil)  // before any thread starts, so every thread inherits it

        let sidecar: Sidecar
        do {
            let clock = SystemClock()
            let state = try SidecarState(config: config, identity: identity, generation: 1, loadedAt: clock.wallSeconds(), slice: slice)
            sidecar = Sidecar(runtime: SidecarRuntime(config: config, state: state, log: log, clock: clock), configPath: configPath)
            sidecar.agent = agent
            sidecar.policyAgent = policyAgent
            sidecar.use(channel: channel)
            sidecar.telemetry = makeTelemetryReporter(sidecar.runtime, channel: channel)
            try sidecar.start()
        } catch {
            err("mesh-sidecar: cannot start: \(error)")
            log.event("start-failed", ["error": .string("\(error)")])
            return 70
        }
        let runtime = sidecar.runtime
        let renewal = agent?.startRenewal(current: { runtime.state.identity },
                                          renewed: { sidecar.reloader.reload(trigger: "renewal") })
        // Endpoint changes of our destinations wake our poll only if some outbound listener names one.
        let endpointsRevision: (@Sendable () -> Int)?
        if config.outbound.contains(where: { $0.destination != nil }) {
            endpointsRevision = { runtime.state.slice?.endpointsRevision ?? 0 }
        } else {
            endpointsRevision = nil
        }
        let policyThread = policyAgent?.start(
            identity: { runtime.state.identity }, version: { runtime.state.slice?.version ?? -1 },
            revoked: { runtime.state.slice?.revoked.revision ?? 0 },
            endpoints: endpointsRevision,
            apply: { slice in
                let state = runtime.update { $0.with(slice: slice, generation: $0.generation + 1) }
                sidecar.recheckConnections(with: state)
            })
        let telemetryThread = sidecar.startTelemetry()
        let registrar = EndpointRegistrar(config: config, log: log) { try sidecar.makeControlClient(timeoutMs: $0) }
        let registrarThread = registrar?.start()
        var timeout = timespec(tv_sec: 1, tv_nsec: 0)
        while true {
            let sig = sigtimedwait(&set, nil, &timeout)
            if sig == SIGHUP {
                sidecar.reloader.reload(trigger: "SIGHUP")
            } else if sig == SIGTERM || sig == SIGINT {
                log.event("signal", ["signal": .int(Int(sig))])
                break
            } else {
                sidecar.reloader.reloadIfFilesChanged()
                log.flushSuppressed()  // a flood that is over: its last held-back count
            }
        }
        registrar?.deregister()
        _ = registrarThread  // may sit in a registration: the process exit ends it
        agent?.stop()
        policyAgent?.stop()
        renewal?.join()
        _ = policyThread  // may sit in a long poll: the process exit ends it
        sidecar.telemetry?.stop()
        _ = telemetryThread  // may sit in a report: the process exit ends it
        sidecar.stop()
        sidecar.finalTelemetryFlush()
        return 0
    }

    /// Polls `GET /ready` every 200 ms until it answers 200 or the timeout passes.
    static func waitReady(_ args: [String]) -> Int32 {
        var admin = "127.0.0.1:15000"
        var timeout = 60.0
        var i = 0
        while i < args.count {
            guard i + 1 < args.count else { err("mesh-sidecar wait-ready: \(args[i]) needs a value"); return 64 }
            switch args[i] {
            case "--admin": admin = args[i + 1]
            case "--timeout":
                guard let t = Double(args[i + 1]), t > 0 else { err("mesh-sidecar wait-ready: --timeout must be seconds > 0"); return 64 }
                timeout = t
            default: err("mesh-sidecar wait-ready: unknown argument '\(args[i])'\n\n\(usage)"); return 64
            }
            i += 2
        }
        let address: SocketAddress
        do {
            address = try SocketAddress(HostPort(parsing: admin))
        } catch {
            err("mesh-sidecar wait-ready: --admin: \(error)")
            return 64
        }
        let clock = SystemClock()
        let deadline = clock.monotonicMs() + Int64(timeout * 1000)
        var last = "no answer"
        while clock.monotonicMs() < deadline {
            do {
                let r = try HTTPClient(address: address, timeoutMs: 2000).send(method: "GET", path: "/ready")
                if r.status == 200 { out("ready: \(r.text.trimmingTrailingNewlines)"); return 0 }
                last = "\(r.status) \(r.text.trimmingTrailingNewlines)"
            } catch {
                last = "\(error)"
            }
            usleep(200_000)
        }
        err("mesh-sidecar wait-ready: not ready after \(timeout) s: \(last)")
        return 75
    }

    static func out(_ s: String) { Syscall.writeAll(fd: 1, s + "\n") }
    static func err(_ s: String) { Syscall.writeAll(fd: 2, s + "\n") }
}

/// A process exit code carried as an error.
struct ExitCode: Error {
    let code: Int32
    init(_ code: Int32) { self.code = code }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = self
        while s.hasSuffix("\n") { s.removeLast() }
        return s
    }
}
