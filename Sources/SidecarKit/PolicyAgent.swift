#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshCore
import MeshHTTP
import MeshHTTP1
import MeshNet
import MeshTLS

/// Keeps this sidecar's slice of the mesh policy current: long-polls the control plane
/// (`GET /v1/slice?version=N`, mTLS with our workload certificate), applies a new slice atomically (one swap
/// of the sidecar state; live connections the new slice no longer allows are closed), persists it as
/// last-known-good (so a restart without the control plane still enforces it), and reports the version it
/// applied (the `version` of each poll). When the control plane is away it keeps the slice in force and retries with
/// backoff; nothing ever opens up.
public final class PolicyAgent: Sendable {
    let settings: PolicySettings
    let bootstrap: BootstrapSettings
    let log: @Sendable (String, [(String, LogValue)]) -> Void
    private let stopping = Atomic<Bool>(false)
    public let applied = Atomic<Int>(0)
    public let pollFailures = Atomic<Int>(0)

    public init(settings: PolicySettings, bootstrap: BootstrapSettings, log: @escaping @Sendable (String, [(String, LogValue)]) -> Void) {
        self.settings = settings
        self.bootstrap = bootstrap
        self.log = log
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }
    var stopped: Bool { stopping.load(ordering: .relaxed) }

    /// The slice kept from a previous run, if it is ours and readable.
    public func lastKnownGood(for identity: SPIFFEID) -> ServiceSlice? {
        guard case .success(let bytes) = FileIO.readAll(settings.lastKnownGood, limit: 64 << 20),
              let slice = try? ServiceSlice(bytes: bytes), slice.identity == identity else { return nil }
        return slice
    }

    /// Blocks until the control plane hands us a slice (before that the sidecar serves nothing); nil if stopped.
    public func firstSlice(identity: TLSIdentity) -> ServiceSlice? {
        var attempt = 0
        while !stopped {
            switch fetch(identity: identity, after: -1) {
            case .slice(let s):
                persist(s)
                return s
            case .unchanged, .failed:
                attempt += 1
                usleep(UInt32(min(30, 1 << min(attempt, 5))) * 1_000_000 / 2)
            }
        }
        return nil
    }

    enum Fetch { case slice(ServiceSlice), unchanged, failed(String) }

    func fetch(identity: TLSIdentity, after version: Int) -> Fetch {
        do {
            let ctx = try TLSContext(role: .client, identity: identity, resumption: .off)
            let client = HTTPClient(address: try SocketAddress(bootstrap.controlPlane), tls: ctx,
                                    expectServer: bootstrap.controlPlaneIdentity, timeoutMs: (PolicyAgent.longPollSeconds + 10) * 1000,
                                    limits: { var l = HTTPLimits(); l.maxBodyBytes = 64 << 20; return l }())
            let r = try client.send(method: "GET", path: "/v1/slice?version=\(version)")
            if r.status == 304 { return .unchanged }
            guard r.status == 200 else {
                let doc = (try? StrictJSON.parse(r.body)) ?? .null
                return .failed("\(r.status) \(doc["error"]?.stringValue ?? ""): \(doc["reason"]?.stringValue ?? r.text)")
            }
            let slice = try ServiceSlice(bytes: r.body)
            guard slice.identity == identity.spiffeID else {
                return .failed("the control plane sent the slice of \(slice.identity), not ours")
            }
            return .slice(slice)
        } catch {
            return .failed("\(error)")
        }
    }

    static let longPollSeconds = 30

    /// The long-poll loop, on its own thread. `apply` swaps the slice in and returns the version in force.
    public func start(identity: @escaping @Sendable () -> TLSIdentity, version: @escaping @Sendable () -> Int,
                      apply: @escaping @Sendable (ServiceSlice) -> Void) -> LoopThread {
        LoopThread(start: { [self] in
            var attempt = 0
            // Each poll carries the version in force, which is our status report: no extra connection.
            while !stopped {
                let id = identity()
                switch fetch(identity: id, after: version()) {
                case .slice(let s):
                    attempt = 0
                    persist(s)
                    apply(s)
                    applied.store(s.version, ordering: .relaxed)
                    log("policy-applied", [("version", .int(s.version)), ("rules", .int(s.rules.count))])
                case .unchanged:
                    attempt = 0
                case .failed(let why):
                    attempt += 1
                    pollFailures.add(1, ordering: .relaxed)
                    log("policy-poll-failed", [("attempt", .int(attempt)), ("error", .string(why)),
                                               ("inForce", .int(version()))])
                    let wait = min(30.0, Double(1 << min(attempt - 1, 5)))
                    var slept = 0.0
                    while slept < wait && !stopped { usleep(200_000); slept += 0.2 }
                }
            }
        })
    }


    /// Last-known-good, replaced atomically (temp + fsync + rename).
    func persist(_ s: ServiceSlice) {
        let tmp = settings.lastKnownGood + ".tmp"
        guard case .success = FileIO.writeAll(tmp, Array(s.json().text.utf8), mode: 0o600) else { return }
        let fd = open(tmp, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
        rename(tmp, settings.lastKnownGood)
    }
}
