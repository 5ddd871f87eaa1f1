import Synchronization

/// Why the HTTP server refused or reaped a connection. Raw values are the stable strings of logs and counters.
public enum HTTPServerRefusal: String, Sendable, CaseIterable {
    /// Over `maxConnections`: closed at once.
    case maxConnections = "max-connections"
    /// Out of file descriptors: accepting paused for `HTTPServer.emfileBackoffMs`.
    case acceptEMFILE = "accept-emfile"
    /// The TLS handshake did not finish within its deadline.
    case handshakeTimeout = "handshake-timeout"
    /// No request (first or keep-alive) within its deadline: closed without an answer.
    case noRequest = "no-request"
    /// A request started but was not complete within the request deadline: 408.
    case requestTimeout = "request-timeout"
    /// The client reset or hung up while its request was with the handler (a parked long poll).
    case peerGone = "peer-gone"
}

/// Counters of `HTTPServerRefusal`s, safe to read from any thread (refusals are rare: a lock is enough).
public final class HTTPServerCounters: Sendable {
    private let counts = Mutex<[HTTPServerRefusal: Int]>([:])

    init() {}

    /// Adds one; returns the new total.
    @discardableResult
    func add(_ r: HTTPServerRefusal) -> Int {
        counts.withLock { c in
            c[r, default: 0] += 1
            return c[r]!
        }
    }

    public subscript(_ r: HTTPServerRefusal) -> Int { counts.withLock { $0[r] ?? 0 } }
}
