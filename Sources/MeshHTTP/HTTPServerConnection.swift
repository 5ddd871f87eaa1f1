#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshHTTP1
import MeshNet
import MeshTLS

/// One server-side HTTP connection: (TLS handshake →) read a request → handler → write the response →
/// next request or close. One request at a time; pipelined requests wait their turn with reading paused.
final class HTTPServerConnection: EventHandler, @unchecked Sendable {
    // @unchecked: confined to the server's loop thread; `respond` callbacks hop onto it with `execute`.
    unowned let server: HTTPServer
    /// The socket, with TLS over it for a TLS server; closed only in `finish`.
    var transport: Transport
    let peer: SocketAddress
    var handshaking = false
    var peerIdentity: SPIFFEID?
    var peerValidity: (Double, Double)?
    var peerSerial: String?
    var parser: HTTPRequestParser
    /// Events of pipelined requests behind the one in flight, their body bytes copied out of the read buffer.
    var queued: [Queued] = []
    var head: HTTPRequestHead?
    var body: [UInt8] = []
    var inFlight = false
    /// The request with the handler, told if the connection ends before its answer.
    var inFlightAbandonment: RequestAbandonment?
    var output: [UInt8] = []
    var outputOffset = 0
    var closeAfterWrite = false
    /// At least one answer went out (a later silence is keep-alive idle, not a refusal).
    var answered = false
    var closed = false
    var timer: TimerID?
    var interest: Interest = .none
    var loop: EventLoop { server.loop }

    init(server: HTTPServer, fd: Int32, peer: SocketAddress) {
        self.server = server
        transport = Transport(plain: fd)
        self.peer = peer
        parser = HTTPRequestParser(limits: server.limits.codec)
    }

    enum Queued {
        case head(HTTPRequestHead)
        case body([UInt8])
        case end
    }

    var fd: Int32 { transport.fd }

    func start() throws {
        if let ctx = server.tls {
            try transport.startTLS(ctx)
            handshaking = true
            server.handshaking += 1
            arm(server.limits.handshakeTimeoutMs)
        } else {
            arm(server.limits.requestTimeoutMs)  // the first request is due at once: silent sockets are reaped
        }
        try loop.register(fd, .read, self)
        interest = .read
    }

    func ready(fd: Int32, _ r: Readiness) {
        if handshaking { return handshake() }
        if (r.hangUp || r.peerClosed) && inFlight && outputOffset == output.count {
            // The client is gone while its request is with the handler (a parked long poll): nobody is left to
            // answer. Level-triggered, the hang-up would otherwise be reported on every iteration. A FIN counts
            // only for a request whose handler watches for it (`RequestAbandonment`): an ordinary client may
            // half-close after its request and still read the answer.
            server.count(.peerGone, peer.description)
            return finish()
        }
        if r.writable && outputOffset < output.count { flush() }
        if closed { return }
        if r.readable && !inFlight { readSome() }
        if !closed { updateInterest() }
    }

    private func handshake() {
        guard let tls = transport.tls else { return }
        switch tls.handshake() {
        case .wantRead: set(.read)
        case .wantWrite: set(.write)
        case .failed: finish()
        case .done:
            // A context with optional client certificates lets a caller in without one (a join token or an
            // operator token must then authenticate the request); a certificate that is there must be valid.
            switch tls.verifyPeer() {
            case .success(let id):
                peerIdentity = id
                if let leaf = tls.peerChain().first {
                    peerValidity = (leaf.notBefore, leaf.notAfter)
                    peerSerial = leaf.serialHex
                }
            case .failure(.noCertificate): peerIdentity = nil
            case .failure: return finish()
            }
            handshaking = false
            server.handshakeEnded()
            server.handshakesDone.add(1, ordering: .relaxed)
            if tls.isResumed { server.handshakesResumed.add(1, ordering: .relaxed) }
            arm(server.limits.requestTimeoutMs)  // a complete first request is due within the request deadline
            readSome()
            if !closed { updateInterest() }
        }
    }

    /// Reads what is there; with TLS, also everything OpenSSL already holds (read-ahead buffers records that
    /// epoll cannot see).
    private func readSome() {
        repeat { readOnce() } while !inFlight && !closed && transport.hasBufferedInput
    }

    private func readOnce() {
        let buf = server.scratch
        let n: Int
        switch transport.read(into: buf) {
        case .bytes(let k): n = k
        case .wantRead, .wantWrite: return
        case .eof, .failed: return finish()
        }
        let input = UnsafeRawBufferPointer(rebasing: buf[0..<n])
        let wasIdle = parser.isIdle
        let events: [HTTPEvent<HTTPRequestHead>]
        do {
            events = try parser.feed(input)
        } catch {
            let e = error as HTTPParseError
            return fail(HTTPResponse.error(e.status, code: e.code, reason: e.reason))
        }
        // A later request gets the deadline from its first byte; the first one keeps the one armed at accept.
        if answered && wasIdle && !parser.isIdle && events.isEmpty { arm(server.limits.requestTimeoutMs) }
        // Body bytes are copied once: into the request being read, or (behind one in flight) into the queue,
        // since the scratch buffer is shared by every connection of the server.
        for event in events {
            if inFlight || closed || !queued.isEmpty {
                switch event {
                case .head(let h): queued.append(.head(h))
                case .body(let r): queued.append(.body(Array(UnsafeRawBufferPointer(rebasing: input[r]))))
                case .end: queued.append(.end)
                }
                continue
            }
            switch event {
            case .head(let h): take(.head(h))
            case .body(let r): body.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[r]))
            case .end: take(.end)
            }
        }
    }

    /// Handles queued parser events until a request is complete and handed to the handler.
    private func processQueue() {
        while !inFlight && !closed && !queued.isEmpty {
            take(queued.removeFirst())
        }
    }

    /// One event of the request being read; at its end, the request goes to the handler.
    private func take(_ event: Queued) {
        switch event {
        case .head(let h):
            head = h
            body = []
            if answered { arm(server.limits.requestTimeoutMs) }
        case .body(let b):
            body += b
        case .end:
            guard let h = head else { return }
            inFlight = true
            cancelTimer()
            let abandonment = RequestAbandonment()
            inFlightAbandonment = abandonment
            let request = HTTPRequest(head: h, body: body, peer: peer, peerIdentity: peerIdentity,
                                      peerNotBefore: peerValidity?.0, peerNotAfter: peerValidity?.1,
                                      peerSerial: peerSerial, abandonment: abandonment)
            head = nil
            body = []
            let loop = self.loop
            let me = self
            server.handler(request) { response in
                // Handlers may answer later or from another thread: always finish on the loop.
                loop.execute { me.respond(response, keepAlive: h.keepAlive, headOnly: h.method == "HEAD") }
            }
            if inFlight && !closed && abandonment.isWatched { set(interest.union(.peerClosed)) }
        }
    }

    /// `headOnly` (a HEAD request): the head the GET would get, Content-Length included, and no body bytes —
    /// a body here would be read by the client as the start of the next answer.
    private func respond(_ r: HTTPResponse, keepAlive: Bool, headOnly: Bool = false) {
        guard !closed, inFlight else { return }
        inFlight = false
        inFlightAbandonment?.answered()
        inFlightAbandonment = nil
        output = HTTPSerializer.response(status: r.status, headers: r.headers, body: r.body, keepAlive: keepAlive)
        if headOnly && !(r.status < 200 || r.status == 204 || r.status == 304) { output.removeLast(r.body.count) }
        outputOffset = 0
        closeAfterWrite = !keepAlive
        flush()
        if closed { return }
        if outputOffset == output.count {
            answered = true
            arm(parser.isIdle ? server.limits.idleTimeoutMs : server.limits.requestTimeoutMs)
            processQueue()
            if !inFlight && !closed && transport.hasBufferedInput { readSome() }
        }
        if !closed { updateInterest() }
    }

    private func fail(_ r: HTTPResponse) {
        inFlight = true
        queued.removeAll()
        respond(r, keepAlive: false)
    }

    private func flush() {
        while outputOffset < output.count {
            let slice = output.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[outputOffset...]) }
            switch transport.write(slice) {
            case .wrote(let k): outputOffset += k
            case .wantRead, .wantWrite: return
            case .failed: return finish()
            }
        }
        output = []
        outputOffset = 0
        if closeAfterWrite {
            if let tls = transport.tls { _ = tls.shutdownWrite() }  // close_notify; the close below sends FIN
            finish()
        }
    }

    private func updateInterest() {
        var i: Interest = .none
        if !inFlight { i.insert(.read) } else if inFlightAbandonment?.isWatched == true { i.insert(.peerClosed) }
        if outputOffset < output.count { i.insert(.write) }
        set(i)
    }

    private func set(_ i: Interest) {
        if i.rawValue != interest.rawValue {
            interest = i
            loop.setInterest(fd, i)
        }
    }

    private func arm(_ ms: Int64) {
        cancelTimer()
        timer = loop.schedule(afterMs: ms) { [weak self] in
            guard let self else { return }
            self.timer = nil
            if self.handshaking || self.parser.isIdle && !self.inFlight && self.queued.isEmpty && self.head == nil {
                // Handshake deadline or no first request: a refusal. Keep-alive idle after answers: a normal close.
                if self.handshaking { self.server.count(.handshakeTimeout, self.peer.description) }
                else if !self.answered { self.server.count(.noRequest, self.peer.description) }
                self.finish()
            } else if !self.inFlight {
                self.server.count(.requestTimeout, self.peer.description)
                self.fail(.error(408, code: "http.request-timeout", reason: "the request did not arrive within \(ms) ms"))
            }
        }
    }

    private func cancelTimer() {
        if let t = timer { loop.cancel(t) }
        timer = nil
    }

    /// The one teardown path; harmless to call twice.
    func finish() {
        guard !closed else { return }
        closed = true
        if handshaking {
            handshaking = false
            server.handshakeEnded()
        }
        cancelTimer()
        loop.forget(fd)  // close takes it out of the epoll set
        transport.close()
        server.ended(self)
        if inFlight, let a = inFlightAbandonment {
            inFlightAbandonment = nil
            a.abandon()
        }
    }
}
