import MeshCore
import MeshNet
import MeshTLS

/// What every simulated sidecar shares: where the control plane is, who it must be, the options and the counters.
final class SimDriver: @unchecked Sendable {
    let options: SimOptions
    let address: SocketAddress
    let serverID: SPIFFEID
    let bundle: [Certificate]
    let trustDomain: TrustDomain
    let stats = SimStats()
    let clock: any Clock = SystemClock()
    private(set) var loops: [SimLoop] = []

    init(options: SimOptions, address: SocketAddress, serverID: SPIFFEID, bundle: [Certificate], trustDomain: TrustDomain) {
        self.options = options
        self.address = address
        self.serverID = serverID
        self.bundle = bundle
        self.trustDomain = trustDomain
    }

    /// Makes the loops and the sidecars (sidecar i on loop i % loops, presenting certificate
    /// `credentials[service][replica % count]`), then starts dialling. Returns the loops' threads.
    func start(credentials: [[SimCredential]]) throws -> [LoopThread] {
        let n = options.loops
        let perLoop = max(1, options.maxConnecting / n)
        loops = try (0..<n).map { SimLoop(driver: self, loop: try EventLoop(index: $0), maxConnecting: perLoop) }
        let startMs = clock.monotonicMs()
        var random = SystemRandomNumberGenerator()
        for i in 0..<options.sidecars {
            let k = i % options.services, replica = i / options.services
            let creds = credentials[k]
            let instance = String(random.next(), radix: 16)
            let s = SimSidecar(index: i, host: loops[i % n], credential: creds[replica % creds.count],
                               renews: replica == creds.count - 1, instance: instance, startMs: startMs)
            loops[i % n].sidecars.append(s)
        }
        let threads = loops.map { $0.loop.startThread() }
        for l in loops { l.loop.execute { l.startMore() } }
        return threads
    }

    /// Starts the renewal storm on every loop at once.
    func storm() {
        stats.stormAtNs.store(clock.monotonicNs(), ordering: .releasing)
        for l in loops { l.loop.execute { for s in l.sidecars { s.storm() } } }
    }

    /// Closes every connection and stops the loops (their threads end).
    func stop(_ threads: [LoopThread]) {
        for l in loops {
            l.loop.execute {
                for s in l.sidecars { s.stop() }
                l.loop.stop()
            }
        }
        threads.forEach { $0.join() }
    }
}

/// One event loop and the sidecars it drives. Dials are paced: at most `maxConnecting` handshakes in progress.
final class SimLoop: @unchecked Sendable {
    unowned let driver: SimDriver
    let loop: EventLoop
    let maxConnecting: Int
    var sidecars: [SimSidecar] = []
    /// One read buffer for every connection of the loop (they are served one at a time).
    var buffer = [UInt8](repeating: 0, count: 64 << 10)
    private var nextToStart = 0
    private var connecting = 0
    private var starting = false

    init(driver: SimDriver, loop: EventLoop, maxConnecting: Int) {
        self.driver = driver
        self.loop = loop
        self.maxConnecting = maxConnecting
    }

    /// Starts dials until `maxConnecting` are in progress (on the loop thread).
    func startMore() {
        guard !starting else { return }
        starting = true
        defer { starting = false }
        while connecting < maxConnecting && nextToStart < sidecars.count {
            connecting += 1
            nextToStart += 1
            sidecars[nextToStart - 1].connect()
        }
    }

    /// A sidecar's first dial ended (open or failed): its slot goes to the next one.
    func opened() {
        connecting -= 1
        startMore()
    }
}
