#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshHTTP1
import MeshNet
import MeshTLS

/// One streaming HTTP/1.1 exchange for a watch: a POST whose answer never ends, read piece by piece. Every wait
/// also watches `wakeFD`, so `cancel` from another thread interrupts it at once. Owns its socket (closed by
/// `close()` or deinit); used by one thread only.
final class EtcdStreamConnection {
    private var transport: Transport
    private var open = true
    private let wakeFD: Int32
    private var parser: HTTPResponseParser
    private(set) var head: HTTPResponseHead?
    let endpoint: EtcdEndpoint

    enum WaitResult { case ready, timeout, woken }

    /// Connects (and handshakes) within `timeoutMs`; throws `store.unavailable` with the reason, or `cancelled`.
    init(_ endpoint: EtcdEndpoint, wakeFD: Int32, timeoutMs: Int) throws {
        self.endpoint = endpoint
        self.wakeFD = wakeFD
        var limits = HTTPLimits()
        limits.maxBodyBytes = Int.max  // the body is the stream: unbounded by design; each message is bounded below
        parser = HTTPResponseParser(limits: limits)
        parser.expect(requestMethod: "POST")
        let deadline = SystemClock().monotonicMs() + Int64(timeoutMs)
        let fd: Int32
        do { fd = try Socket.connect(endpoint.address).fd } catch {
            throw MeshError(.storeUnavailable, "cannot connect to etcd \(endpoint.url): \(error)")
        }
        transport = Transport(plain: fd)
        do {
            try waitOrThrow(POLLOUT, deadline, "connect")
            let err = Socket.pendingError(fd)
            if err != 0 { throw MeshError(.storeUnavailable, "cannot connect to etcd \(endpoint.url): \(String(cString: strerror(err)))") }
            if let tls = endpoint.tls {
                try transport.startTLS(tls)
                let s = transport.tls!
                loop: while true {
                    switch s.handshake() {
                    case .done: break loop
                    case .wantRead: try waitOrThrow(POLLIN, deadline, "TLS handshake")
                    case .wantWrite: try waitOrThrow(POLLOUT, deadline, "TLS handshake")
                    case .failed(let why, let detail):
                        throw MeshError(.storeUnavailable, "TLS handshake with etcd \(endpoint.url) failed: \(why.rawValue) \(detail)")
                    }
                }
            }
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    func close() {
        guard open else { return }
        open = false
        transport.close()
    }

    /// Thrown when `wakeFD` fired (the watch is being cancelled).
    struct Woken: Error {}

    /// Waits for `events` on the socket or the wake fd, at most until `deadline` (monotonic ms).
    func wait(_ events: Int32, until deadline: Int64) -> WaitResult {
        if events == POLLIN && transport.hasBufferedInput { return .ready }
        let left = deadline - SystemClock().monotonicMs()
        if left <= 0 { return .timeout }
        var p = [pollfd(fd: transport.fd, events: Int16(events), revents: 0), pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
        let n = poll(&p, 2, Int32(min(left, 1_000)))
        if p[1].revents != 0 { return .woken }
        if n > 0 { return .ready }
        return SystemClock().monotonicMs() >= deadline ? .timeout : wait(events, until: deadline)
    }

    private func waitOrThrow(_ events: Int32, _ deadline: Int64, _ what: String) throws {
        switch wait(events, until: deadline) {
        case .ready: return
        case .woken: throw Woken()
        case .timeout: throw MeshError(.storeUnavailable, "etcd \(endpoint.url): \(what) timed out")
        }
    }

    /// Sends the request (whole) within `timeoutMs`.
    func send(path: String, headers: HTTPHeaders, body: [UInt8], timeoutMs: Int) throws {
        var h = headers
        h.add("Host", endpoint.address.description)
        let bytes = HTTPSerializer.request(method: "POST", target: path, headers: h, body: body)
        let deadline = SystemClock().monotonicMs() + Int64(timeoutMs)
        var off = 0
        while off < bytes.count {
            let r = bytes.withUnsafeBytes { transport.write(UnsafeRawBufferPointer(rebasing: $0[off...])) }
            switch r {
            case .wrote(let k): off += k
            case .wantRead: try waitOrThrow(POLLIN, deadline, "sending")
            case .wantWrite: try waitOrThrow(POLLOUT, deadline, "sending")
            case .failed(let e): throw MeshError(.storeUnavailable, "etcd \(endpoint.url): write failed: \(e)")
            }
        }
    }

    enum Piece { case body([UInt8]), end, idle }

    /// Reads what is there (waiting at most until `deadline`): body bytes, the end of the answer, or `.idle` when
    /// nothing came in time. The head is kept in `head` when it arrives.
    func read(until deadline: Int64) throws -> Piece {
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 16_384, alignment: 16)
        defer { buf.deallocate() }
        while true {
            switch transport.read(into: buf) {
            case .bytes(let n):
                let input = UnsafeRawBufferPointer(rebasing: buf[0..<n])
                var out: [UInt8] = []
                var ended = false
                do {
                    for e in try parser.feed(input) {
                        switch e {
                        case .head(let h): head = h
                        case .body(let r): out.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[r]))
                        case .end: ended = true
                        }
                    }
                } catch {
                    throw MeshError(.storeProtocol, "etcd \(endpoint.url): bad HTTP in the watch stream: \(error)")
                }
                return ended && out.isEmpty ? .end : .body(out)
            case .wantRead, .wantWrite:
                switch wait(POLLIN, until: deadline) {
                case .ready: continue
                case .timeout: return .idle
                case .woken: throw Woken()
                }
            case .eof:
                throw MeshError(.storeUnavailable, "etcd \(endpoint.url) closed the watch stream")
            case .failed(let e):
                throw MeshError(.storeUnavailable, "etcd \(endpoint.url): watch stream failed: \(e)")
            }
        }
    }
}
