#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshAPI
import MeshControlClient
import MeshCore
import MeshNet
import MeshObservability

/// Tells the control plane where this sidecar's inbound listeners are (one endpoint per service port: the
/// listener's mTLS `listen` address), so callers of our service find us. Registers once the sidecar runs,
/// then again every `heartbeatSeconds` (15 s): that keeps the endpoint alive on the control plane (it drops one
/// unheard for 90 s) and re-registers within 15 s after a control-plane restart (registrations live in its
/// memory only). On SIGTERM, `deregister` removes them at once, over a one-shot connection (the shared channel
/// may be held by a parked poll).
public final class EndpointRegistrar: Sendable {
    public static let heartbeatSeconds = 15.0
    /// After a failed registration: 1 s, doubling, at most the heartbeat.
    static let firstRetrySeconds = 1.0

    public let endpoints: [EndpointAddress]
    private let client: @Sendable (_ timeoutMs: Int) throws -> ControlPlaneClient?
    private let log: EventLog
    private let stopping = Atomic<Bool>(false)
    public let registrations = Atomic<Int>(0)
    public let failures = Atomic<Int>(0)

    /// nil when the config serves no service port (nothing to register).
    public init?(config: SidecarConfig, log: EventLog,
                 client: @escaping @Sendable (_ timeoutMs: Int) throws -> ControlPlaneClient?) {
        let list = config.inbound.compactMap { l in l.servicePort.map { EndpointAddress(port: $0, address: l.listen) } }
        guard config.identity.bootstrap != nil, !list.isEmpty else { return nil }
        endpoints = list
        self.client = client
        self.log = log
    }

    /// The heartbeat loop, on its own thread, until `stop`.
    public func start() -> LoopThread {
        LoopThread(start: { [self] in
            var retry = Self.firstRetrySeconds
            while !stopped {
                if register() {
                    retry = Self.firstRetrySeconds
                    nap(Self.heartbeatSeconds)
                } else {
                    nap(retry)
                    retry = min(retry * 2, Self.heartbeatSeconds)
                }
            }
        })
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }
    var stopped: Bool { stopping.load(ordering: .relaxed) }

    /// One registration; true when the control plane took it.
    @discardableResult
    public func register() -> Bool {
        do {
            guard let c = try client(10_000) else { return false }
            let ack = try c.registerEndpoints(endpoints)
            if registrations.add(1, ordering: .relaxed).newValue == 1 {
                log.event("endpoints-registered", ["service": .string(ack.service),
                                                   "endpoints": .string(ack.endpoints.map { "\($0.port)=\($0.address)" }.joined(separator: ","))])
            }
            return true
        } catch {
            failures.add(1, ordering: .relaxed)
            log.event("endpoints-register-failed", ["error": .string("\(error)")])
            return false
        }
    }

    /// Clean shutdown: our endpoints leave the slices of our callers now, not after the 90 s expiry.
    public func deregister() {
        stop()
        do {
            guard let c = try client(2_000) else { return }
            _ = try c.oneShot.deregisterEndpoints(endpoints)
            log.event("endpoints-deregistered", [:])
        } catch {
            log.event("endpoints-deregister-failed", ["error": .string("\(error)")])
        }
    }

    private func nap(_ seconds: Double) {
        var slept = 0.0
        while slept < seconds && !stopped {
            usleep(100_000)
            slept += 0.1
        }
    }
}
