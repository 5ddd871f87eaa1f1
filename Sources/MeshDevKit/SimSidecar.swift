#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshHTTP1
import MeshNet
import MeshTLS

/// One simulated sidecar: one keep-alive mTLS connection to the control plane, driven by its loop like the
/// sidecar's `ProxyConnection` (non-blocking socket, TLS wants folded into the epoll interest, no thread).
/// Requests go one at a time: the long poll, and between two polls a telemetry report when one is due and a
/// renewal when one is due (HTTP/1.1 without pipelining, so a report waits for the parked poll to be answered:
/// pass `--wait` for polls shorter than the report interval). Lost connections are re-dialled after 1 s.
final class SimSidecar: EventHandler {
    enum Phase { case idle, connecting, handshaking, open }
    enum Request { case poll, report, renew(PrivateKey) }

    let index: Int
    let host: SimLoop
    var credential: SimCredential
    /// The only replica of its service allowed to renew (it holds the latest certificate).
    let renews: Bool
    /// A random instance id drawn at start, as a sidecar process does.
    let instance: String

    var phase = Phase.idle
    /// The epoll interest asked for last (so an unchanged one costs no syscall).
    var interest: Interest = []
    var transport: Transport?
    var inFlight: Request?
    var out: [UInt8] = []
    var outOffset = 0
    var parser = HTTPResponseParser()
    var status = 0
    var keepAlive = true
    var body: [UInt8] = []
    var everOpened = false
    var slotReleased = false
    var stopped = false

    /// What is in force here: the version and epoch of the last slice received.
    var version = -1
    var epoch: String?
    var seq = 0
    /// The batch not yet acknowledged: resent unchanged, with its seq, after a lost connection.
    var unacked: [UInt8]?
    var nextReportMs: Int64
    var nextRenewMs: Int64
    /// The storm asked this sidecar to renew first thing on its new connection.
    var stormPending = false
    /// The reconnect-only storm (`--storm-reconnect`) dropped this connection: counted when the new one is up.
    var stormReconnectPending = false
    /// The TLS session of the last connection and the client context it belongs to: offered once, on the next
    /// dial, as a sidecar's control channel does (never with another certificate: a renewal drops it).
    var session: (TLSSession, ObjectIdentifier)?
    var windowStart: Int

    init(index: Int, host: SimLoop, credential: SimCredential, renews: Bool, instance: String, startMs: Int64) {
        self.index = index
        self.host = host
        self.credential = credential
        self.renews = renews
        self.instance = instance
        let o = host.driver.options
        // Spread the first report and renewal over one interval so they do not arrive as one burst.
        let spread = Int64(index % 1000) * o.intervalMs / 1000
        nextReportMs = startMs + o.intervalMs + spread
        nextRenewMs = o.renewEveryMs.map { startMs + $0 + spread } ?? Int64.max
        windowStart = Int(host.driver.clock.wallSeconds())
    }

    var driver: SimDriver { host.driver }

    /// Dials the control plane (on the loop thread).
    func connect() {
        guard !stopped, phase == .idle else { return }
        do {
            let (fd, _) = try Socket.connect(driver.address)
            transport = Transport(plain: fd)
            phase = .connecting
            try host.loop.register(fd, .write, self)
            interest = .write
        } catch {
            fail("connect: \(error)")
        }
    }

    func ready(fd: Int32, _ r: Readiness) {
        switch phase {
        case .idle: return
        case .connecting:
            let e = Socket.pendingError(fd)
            guard e == 0 else { return fail("connect: \(String(cString: strerror(e)))") }
            var offer: TLSSession?
            if let (s, ctx) = session, ctx == ObjectIdentifier(credential.context),
               s.isUsable(now: driver.clock.wallSeconds()) { offer = s }
            session = nil
            do { try transport!.startTLS(credential.context, resume: offer) } catch { return fail("tls: \(error)") }
            phase = .handshaking
            handshake()
        case .handshaking:
            handshake()
        case .open:
            if outOffset < out.count { flush() }
            // Also on a writable-only event: a TLS read that wanted a write continues here.
            if phase == .open { receive() }
        }
    }

    func handshake() {
        guard let tls = transport?.tls else { return }
        switch tls.handshake() {
        case .wantRead: want(.read)
        case .wantWrite: want(.write)
        case .failed(let why, let detail): fail("handshake: \(why.rawValue) \(detail)")
        case .done:
            if case .failure(let why) = tls.verifyPeer(expecting: driver.serverID) { return fail("server identity: \(why.rawValue)") }
            phase = .open
            if !everOpened {
                everOpened = true
                driver.stats.connected.add(1, ordering: .relaxed)
            }
            releaseSlot()
            if stormReconnectPending {
                stormReconnectPending = false
                driver.stats.stormReconnected(index: index, nowNs: driver.clock.monotonicNs(), resumed: tls.isResumed)
            }
            next()
        }
    }

    /// Sends what is due: a renewal, a report, else the next poll.
    func next() {
        guard !stopped, phase == .open, inFlight == nil else { return }
        let now = host.loop.clock.monotonicMs()
        if renews && (now >= nextRenewMs || stormPending) {
            nextRenewMs = now + (driver.options.renewEveryMs ?? Int64.max / 2)
            if let (key, bytes) = renewRequest() { return send(.renew(key), bytes) }
        }
        if now >= nextReportMs && driver.options.report {
            nextReportMs = now + driver.options.intervalMs
            return send(.report, reportRequest())
        }
        send(.poll, pollRequest())
    }

    func send(_ request: Request, _ bytes: [UInt8]) {
        inFlight = request
        out = bytes
        outOffset = 0
        status = 0
        body.removeAll(keepingCapacity: true)
        if case .poll = request { parser.expect(requestMethod: "GET") } else { parser.expect(requestMethod: "POST") }
        flush()
    }

    func flush() {
        guard let t = transport else { return }
        while outOffset < out.count {
            let r = out.withUnsafeBytes { t.write(UnsafeRawBufferPointer(rebasing: $0[outOffset...])) }
            switch r {
            case .wrote(let n): outOffset += n
            case .wantWrite: want([.read, .write]); return
            case .wantRead: want(.read); return
            case .failed(let e): return fail("write: \(e)")
            }
        }
        want(.read)
    }

    func receive() {
        guard let t = transport else { return }
        while phase == .open {
            let r = host.buffer.withUnsafeMutableBytes { t.read(into: $0) }
            switch r {
            case .bytes(let n):
                if n == 0 { return fail("read: end of stream") }
                let events: [HTTPEvent<HTTPResponseHead>]
                do { events = try host.buffer.withUnsafeBytes { try parser.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) } } catch {
                    return fail("answer: \(error)")
                }
                for e in events { handle(e) }
            case .wantRead:
                if outOffset >= out.count { want(.read) }
                return
            case .wantWrite: want([.read, .write]); return
            case .eof: return fail("read: end of stream")
            case .failed(let e): return fail("read: \(e)")
            }
        }
    }

    func handle(_ event: HTTPEvent<HTTPResponseHead>) {
        switch event {
        case .head(let h):
            status = h.status
            keepAlive = h.keepAlive
        case .body(let range):
            if body.count + range.count <= 64 << 20 { body.append(contentsOf: host.buffer[range]) }
        case .end:
            guard let request = inFlight else { return fail("answer: an answer nobody asked for") }
            inFlight = nil
            answered(request)
            if !keepAlive { return reconnect(after: 0) }
            next()
        }
    }

    /// The connection broke: counted, closed, re-dialled after 1 s (a report in flight stays unacknowledged).
    func fail(_ why: String) {
        if !stopped { driver.stats.error("sim.connection: \(why.split(separator: ":").first ?? "")") }
        reconnect(after: 1000)
    }

    func reconnect(after ms: Int64) {
        close()
        inFlight = nil
        guard !stopped else { return }
        driver.stats.reconnects.add(1, ordering: .relaxed)
        releaseSlot()
        _ = host.loop.schedule(afterMs: ms) { [weak self] in self?.connect() }
    }

    func want(_ i: Interest) {
        guard let t = transport, i.rawValue != interest.rawValue else { return }
        interest = i
        host.loop.setInterest(t.fd, i)
    }

    /// The first dial is over (opened or failed): the next sidecar of this loop may start its handshake.
    func releaseSlot() {
        guard !slotReleased else { return }
        slotReleased = true
        host.opened()
    }

    func close() {
        guard var t = transport else { phase = .idle; return }
        if phase == .open, let tls = t.tls, let s = tls.takeSession() {
            session = (s, ObjectIdentifier(credential.context))
            _ = tls.shutdownWrite()  // close_notify: OpenSSL marks the session of a connection freed without it not resumable
        }
        host.loop.deregister(t.fd)
        t.close()
        transport = nil
        interest = []
        phase = .idle
        parser = HTTPResponseParser()
    }

    /// The renewal storm: drop the connection and re-dial now, renewing first (only renewing sidecars).
    func storm() {
        if driver.options.stormReconnect {
            guard !stopped else { return }
            stormReconnectPending = true
            close()
            inFlight = nil
            return connect()
        }
        guard renews, !stopped else { return }
        stormPending = true
        close()
        inFlight = nil
        connect()
    }

    func stop() {
        stopped = true
        close()
    }
}
