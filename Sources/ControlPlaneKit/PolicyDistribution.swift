import Synchronization
import MeshCore
import MeshPolicy
import MeshHTTP
import MeshNet

/// Hands each sidecar its own slice of the mesh. `GET /v1/slice?version=N` answers at once when the slice's
/// version is newer than N, otherwise waits (long poll, `waitSeconds`, default 30) and answers as soon as an
/// apply makes one. Sidecars report the version they applied (`POST /v1/status`), so operators can see who
/// is in sync (`GET /v1/sidecars`).
public final class PolicyDistribution: Sendable {
    struct Waiter: Sendable {
        let id: Int
        let service: ServiceKey
        let respond: @Sendable (HTTPResponse) -> Void
    }

    public struct SidecarStatus: Sendable {
        public let identity: String
        public var appliedVersion: Int
        public var lastSeen: Double
    }

    let store: PolicyStore
    let clock: any Clock
    private let waiters = Mutex<(next: Int, list: [Waiter])>((0, []))
    private let statuses = Mutex<[String: SidecarStatus]>([:])
    public static let waitSeconds = 30

    public init(store: PolicyStore, clock: any Clock) {
        self.store = store
        self.clock = clock
    }

    /// The slice of `service` at the current version, as the wire document.
    func sliceResponse(_ service: ServiceKey) -> HTTPResponse {
        let snap = store.snapshot
        guard let compiled = snap.compiled else {
            return .error(404, code: "policy.none", reason: "no mesh configuration has been applied yet")
        }
        guard let slice = compiled.slice(for: service) else {
            return .error(404, code: "policy.unknown-service", reason: "\(service) is not a service of the mesh (version \(snap.version))")
        }
        return .json(slice.json().text + "\n")
    }

    /// Answers now if newer than `version`, else parks the request on `loop` until an apply or the timeout.
    func longPoll(service: ServiceKey, version: Int, loop: EventLoop, respond: @escaping @Sendable (HTTPResponse) -> Void) {
        if store.snapshot.version > version || store.snapshot.compiled == nil && version < 0 {
            respond(sliceResponse(service))
            return
        }
        let id = waiters.withLock { w -> Int in
            w.next += 1
            w.list.append(Waiter(id: w.next, service: service, respond: respond))
            return w.next
        }
        loop.schedule(afterMs: Int64(Self.waitSeconds) * 1000) { [self] in
            let mine = waiters.withLock { w -> Waiter? in
                guard let i = w.list.firstIndex(where: { $0.id == id }) else { return nil }
                return w.list.remove(at: i)
            }
            mine?.respond(HTTPResponse(status: 304))
        }
    }

    /// After an apply: every parked sidecar gets its new slice now.
    func wakeAll() {
        let all = waiters.withLock { w -> [Waiter] in
            let l = w.list
            w.list.removeAll()
            return l
        }
        for w in all { w.respond(sliceResponse(w.service)) }
    }

    func report(identity: String, version: Int) {
        let now = clock.wallSeconds()
        statuses.withLock { $0[identity] = SidecarStatus(identity: identity, appliedVersion: version, lastSeen: now) }
    }

    public var sidecars: [SidecarStatus] { statuses.withLock { Array($0.values) }.sorted { $0.identity < $1.identity } }
}
