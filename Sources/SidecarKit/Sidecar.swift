/// SidecarKit is the sidecar's application logic: listeners, the proxied connection, the runtime snapshot
/// of identity and policy, the sidecar's counters and what the stats endpoint shows. The thin `mesh-sidecar`
/// main only parses arguments and calls `SidecarCommand`.
#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet
import MeshObservability
import MeshTLS
import MeshHTTP
import Synchronization
import MeshControlClient

/// A running sidecar: one event loop per thread, each with its own listener per configured port
/// (SO_REUSEPORT spreads connections), sharing one `SidecarRuntime`.
public final class Sidecar: @unchecked Sendable {
    // @unchecked: `loops`, `threads` and `listeners` are written in `start` before threads run and read
    // again only in `stop`/`join` after the threads are told to stop.
    public let runtime: SidecarRuntime
    private(set) var loops: [EventLoop] = []
    private var threads: [LoopThread] = []
    private(set) var contexts: [LoopContext] = []
    private var listeners: [Listener] = []
    private var admin: HTTPServer?
    /// The DNS responder for the app, on the first loop (nil: not configured).
    private(set) var dns: DNSResponder?
    private let up = Atomic<Bool>(false)
    /// True once every listener is bound and the loops run.
    public var listening: Bool { up.load(ordering: .relaxed) }

    /// Keeps the identity renewed when it comes from the control plane (set before `start`).
    public var agent: IdentityAgent?

    /// Keeps the policy slice current when it comes from the control plane (set before `start`; its counters
    /// are on the stats endpoint).
    public var policyAgent: PolicyAgent?

    /// Reports edges to the control plane when the config says so (set before `start`; its counters are on the
    /// stats endpoint, `POST /telemetry/flush` asks it for a batch now).
    public var telemetry: TelemetryReporter?
    /// True while the loop threads run (edge tables are then taken through each loop's `execute`).
    let loopsRunning = Atomic<Bool>(false)
    /// Edge tables handed over by the loops, and how many handovers so far (see `takeEdgeTables`).
    let edgeInbox = Mutex<(tables: [EdgeTable], handed: Int)>(([], 0))
    /// Serialises `takeEdgeTables` callers.
    let edgeTaking = Mutex<Int>(0)
    /// The one keep-alive connection to the control plane the agents share (`use(channel:)`, before `start`).
    public internal(set) var controlChannel: ControlChannel?

    /// Reloads configuration and identity files (SIGHUP, `POST /reload`, file changes).
    public private(set) var reloader: Reloader!

    public init(runtime: SidecarRuntime, configPath: String) {
        self.runtime = runtime
        reloader = Reloader(runtime: runtime, configPath: configPath) { [unowned self] state in
            self.recheckConnections(with: state)
        }
    }

    /// Tells every loop to re-check its live connections against `state`.
    func recheckConnections(with state: SidecarState) {
        for (i, loop) in loops.enumerated() {
            nonisolated(unsafe) let ctx = contexts[i]
            loop.execute { ctx.recheck(with: state) }
        }
    }

    /// Binds every listener on every loop and starts the threads. Throws (nothing left running) when a
    /// port cannot be bound.
    public func start() throws {
        Syscall.ignoreSIGPIPE()
        let config = runtime.config
        SidecarFileLimit.raise(maxConnections: config.limits.maxConnections, log: runtime.log)
        let count = config.loops > 0 ? config.loops : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        do {
            for i in 0..<count {
                let loop = try EventLoop(index: i, clock: runtime.clock)
                let ctx = LoopContext(loop: loop, sidecar: runtime, bufferBytes: config.limits.bufferBytes)
                if config.policy != nil { ctx.scheduleExpiryChecks() }
                loops.append(loop)
                contexts.append(ctx)
                for l in config.inbound {
                    listeners.append(try Listener(kind: .inbound(l), address: SocketAddress(l.listen), context: ctx))
                }
                for l in config.outbound {
                    listeners.append(try Listener(kind: .outbound(l), address: SocketAddress(l.listen), context: ctx))
                }
                if let t = config.transparent, t.enabled {
                    listeners.append(try Listener(kind: .transparent(TransparentIntake(settings: t)), address: SocketAddress(t.listen), context: ctx))
                }
            }
            dns = try DNSResponder.start(runtime: runtime, loop: loops[0])
            if config.admin.enabled {
                let log = runtime.log
                admin = try HTTPServer(loop: loops[0], address: SocketAddress(config.admin.listen), log: { reason, total, peer in
                    log.refusal("admin-refused", reason: "admin-\(reason.rawValue)", fields: [
                        ("reason", .string(reason.rawValue)), ("total", .int(total)), ("peer", .string(peer))])
                }, handler: AdminServer.handler(sidecar: self))
            }
        } catch {
            for l in listeners { l.close() }
            listeners.removeAll()
            admin?.close()
            admin = nil
            dns?.close()
            dns = nil
            throw error
        }
        for loop in loops { threads.append(loop.startThread()) }
        loopsRunning.store(true, ordering: .relaxed)
        up.store(true, ordering: .relaxed)
        runtime.log.event("started", fields: [
            ("identity", .string(runtime.state.identity.spiffeID.description)),
            ("loops", .int(count)),
            ("inbound", .string(config.inbound.map { "\($0.name)=\($0.listen)->\($0.forwardTo)" }.joined(separator: ","))),
            ("outbound", .string(config.outbound.map { "\($0.name)=\($0.listen)->\($0.upstream.map { "\($0)" } ?? $0.destination.map { "\($0)" } ?? "?")" }.joined(separator: ","))),
            ("certNotAfter", .string(UTCTime.iso8601(runtime.state.identity.leaf.notAfter, milliseconds: true))),
            ("admin", .string(config.admin.enabled ? config.admin.listen.description : "off")),
        ])
    }

    /// Stops accepting, stops the loops and waits for their threads. Open connections are closed by the
    /// process exit.
    public func stop() {
        up.store(false, ordering: .relaxed)
        if let admin {
            loops[0].execute { admin.close() }
        }
        if let dns {
            nonisolated(unsafe) let d = dns
            loops[0].execute { d.close() }
        }
        for (i, loop) in loops.enumerated() {
            let mine = listeners.filter { $0.context === contexts[i] }
            nonisolated(unsafe) let owned = mine
            loop.execute { for l in owned { l.close() } }
            loop.stop()
        }
        for t in threads { t.join() }
        threads.removeAll()
        loopsRunning.store(false, ordering: .relaxed)
        runtime.log.flushSuppressed()
        runtime.log.event("stopped", [:])
    }
}
