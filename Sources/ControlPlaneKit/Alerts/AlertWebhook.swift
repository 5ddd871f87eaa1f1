#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization
import MeshAlerts
import MeshCore
import MeshHTTP
import MeshHTTP1
import MeshNet

/// `mesh-control serve --alert-webhook http://IP:PORT/PATH`: one `POST` of JSON (`AlertTransition.json`) per
/// transition, on its own worker (never the event loop, never the alert queue). A failed delivery (connect,
/// timeout, a non-2xx answer) is retried after 1, 2, 4, 8 s (doubling, at most 30 s) and given up after
/// `maxAttempts`. At most `maxQueued` transitions wait; beyond, new ones are dropped and counted. Deliveries go
/// one at a time, in order. The host must be an IP literal (the control plane resolves no names); `https` is
/// not supported yet.
public final class AlertWebhook: Sendable {
    /// Transitions waiting at most (default 1,000).
    public static let maxQueued = 1_000
    /// Attempts per transition (default 5).
    public static let maxAttempts = 5
    /// The longest wait between attempts (default 30 s).
    public static let maxBackoff = 30.0

    /// Outcomes for `mesh_alert_webhook_deliveries_total{result}`.
    public struct Counts: Sendable, Equatable {
        public var delivered = 0
        /// Attempts that failed and were retried.
        public var retried = 0
        /// Transitions given up after `maxAttempts`.
        public var failed = 0
        /// Transitions dropped because the queue was full.
        public var dropped = 0

        public init(delivered: Int = 0, retried: Int = 0, failed: Int = 0, dropped: Int = 0) {
            self.delivered = delivered
            self.retried = retried
            self.failed = failed
            self.dropped = dropped
        }
    }

    public let url: String
    let address: SocketAddress
    let path: String
    let timeoutMs: Int
    let sleep: @Sendable (Double) -> Void
    private let state = Mutex<(waiting: [[UInt8]], running: Bool, counts: Counts)>(([], false, Counts()))
    private let worker = DispatchQueue(label: "mesh-control.alert-webhook")

    /// `sleep` waits between attempts (tests pass a short one). Code `alert.bad-webhook` for a URL we cannot use.
    public init(url: String, timeoutMs: Int = 5_000, sleep: @escaping @Sendable (Double) -> Void = AlertWebhook.nap) throws(MeshError) {
        guard url.hasPrefix("http://") else {
            throw MeshError(.alertBadWebhook, "\(url.debugDescription): expected http://IP:PORT/PATH (https is not supported yet)")
        }
        let rest = url.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        do {
            address = try SocketAddress(try HostPort(parsing: authority))
        } catch {
            throw MeshError(.alertBadWebhook, "\(url.debugDescription): the host must be an IP literal with a port: \(error)")
        }
        self.url = url
        self.timeoutMs = timeoutMs
        self.sleep = sleep
    }

    public var counts: Counts { state.withLock { $0.counts } }

    /// Queues one transition (any thread; never blocks).
    public func send(_ transition: AlertTransition) {
        let body = Array((transition.json.text + "\n").utf8)
        let start = state.withLock { s -> Bool in
            guard s.waiting.count < Self.maxQueued else { s.counts.dropped += 1; return false }
            s.waiting.append(body)
            if s.running { return false }
            s.running = true
            return true
        }
        if start { worker.async { [self] in run() } }
    }

    /// Waits until every queued transition has been delivered or given up (tests).
    public func drain() {
        while state.withLock({ $0.running }) { Self.nap(0.01) }
    }

    private func run() {
        while let body = state.withLock({ s -> [UInt8]? in
            if s.waiting.isEmpty { s.running = false; return nil }
            return s.waiting.removeFirst()
        }) {
            deliver(body)
        }
    }

    private func deliver(_ body: [UInt8]) {
        var delay = 1.0
        for attempt in 1...Self.maxAttempts {
            if post(body) {
                state.withLock { $0.counts.delivered += 1 }
                return
            }
            if attempt == Self.maxAttempts { break }
            state.withLock { $0.counts.retried += 1 }
            sleep(delay)
            delay = min(delay * 2, Self.maxBackoff)
        }
        state.withLock { $0.counts.failed += 1 }
    }

    private func post(_ body: [UInt8]) -> Bool {
        let client = HTTPClient(address: address, timeoutMs: timeoutMs)
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/json")
        guard let response = try? client.send(method: "POST", path: path, headers: headers, body: body) else { return false }
        return (200..<300).contains(response.status)
    }

    /// Sleeps `seconds` on the calling thread (the webhook worker's own).
    public static func nap(_ seconds: Double) {
        var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var left = timespec()
        while nanosleep(&ts, &left) != 0, errno == EINTR { ts = left }
    }
}
