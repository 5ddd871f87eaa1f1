import MeshCore
import MeshHTTP1
import MeshNet
import MeshTLS

/// The app side of an outbound `http` listener (or of a transparently intercepted connection to an `http` port of
/// a mesh service): the app's connection is read as HTTP/1.1 requests (strict framing, as a server refuses),
/// each carried on a pooled hop to the remote sidecar and its response relayed back, one exchange at a time (pipelined requests wait, at most one read of them held). Owned by its
/// `ProxyConnection` (phase `.http`), which keeps the connection-level work: egress check, counters,
/// re-checks, idle timer, `finish`.
final class OutboundHTTPConnection: HopOwner {
    enum AppEvent { case head(HTTPRequestHead), body([UInt8]), end, failed(HTTPParseError) }

    /// One request in flight and its response. A class: it holds the response parser and is touched several
    /// times per request, and a struct of this size was copied out and back (retaining what it holds) each time.
    final class Exchange {
        let method: String
        let keepAlive: Bool
        let http10: Bool
        var requestBody: HopHeads.Body
        var requestDone = false
        /// Request bytes that left toward a hop: retry only while this is 0.
        var written = 0
        var attempts = 0
        var avoid: Int?
        var response = HTTPResponseParser(limits: OutboundHTTPConnection.limits)
        var interim = false
        var responseStarted = false
        var responseBody = HopHeads.Body.none
        var closeApp = false
        var hopReusable = true
        var done = false
        /// The request asked for `Upgrade`: the hop becomes this connection's tunnel.
        var upgrade = false

        init(method: String, keepAlive: Bool, http10: Bool, requestBody: HopHeads.Body) {
            self.method = method
            self.keepAlive = keepAlive
            self.http10 = http10
            self.requestBody = requestBody
        }
    }

    /// Heads as on the stats endpoint; bodies are streamed, never held, so their size is the receiver's
    /// business (the remote sidecar and the app behind it).
    static let limits: HTTPLimits = {
        var l = HTTPLimits()
        l.maxBodyBytes = Int.max / 2
        return l
    }()

    /// Strong: the cycle (its phase holds us) ends in `finish`, which every connection reaches.
    let conn: ProxyConnection
    let app: ProxyEnd
    let upstream: SidecarState.Upstream
    /// Whose pool the hops come from and whom they must reach.
    let target: HopTarget
    var parser = HTTPRequestParser(limits: OutboundHTTPConnection.limits)
    var pending: [AppEvent] = []
    /// What the last read of each side parsed to, emptied before the next (kept: no array per read).
    var appEvents: [HTTPEvent<HTTPRequestHead>] = []
    var hopEvents: [HTTPEvent<HTTPResponseHead>] = []
    var toHop = ByteQueue()
    var toApp = ByteQueue()
    var hop: PooledHop?
    var dialing: PooledHop?
    var ex: Exchange?
    /// The last exchange's response parser when it ended cleanly between messages (it expects nothing more).
    var spareParser: HTTPResponseParser?
    var appEOF = false
    /// The app end reported readable while we could not read it: only then is its read interest dropped. Until
    /// then it stays on between requests (a keep-alive client sends nothing while it waits for its answer), so
    /// an exchange costs no `epoll_ctl` pair to switch it off and on again.
    var appReadMuted = false
    /// After an `Upgrade` request: bytes pass unparsed both ways on a dedicated hop.
    var tunnel = false
    /// Close the app connection once `toApp` is written.
    var closing = false
    var context: LoopContext { conn.context }
    var cap: Int { context.scratch.count }

    init(conn: ProxyConnection, app: ProxyEnd, upstream: SidecarState.Upstream, target: HopTarget) {
        self.conn = conn
        self.app = app
        self.upstream = upstream
        self.target = target
        // A request is a head and an end, a response a head, a body piece and an end: room for them at once is
        // one allocation per array instead of one per doubling (1, 2, 4) on every new app connection.
        appEvents.reserveCapacity(4)
        hopEvents.reserveCapacity(4)
        pending.reserveCapacity(4)
    }

    // MARK: app side

    func appReady(_ r: Readiness) {
        if r.writable && !toApp.isEmpty { flushApp() }
        if !conn.phase.isClosed && r.readable {
            if canReadApp { readApp() } else { appReadMuted = true }
        }
        if !conn.phase.isClosed { advance() }
    }

    var canReadApp: Bool {
        if tunnel { return !appEOF && !closing && toHop.count < cap }
        return pending.isEmpty && !appEOF && !closing && toHop.count < cap && !(ex?.requestDone ?? false)
    }

    private func readApp() {
        let buffer = context.scratch
        switch app.read(into: buffer) {
        case .bytes(let n):
            conn.lastActivity = context.loop.now
            app.bytesRead += n
            if tunnel { return tunnelFromApp(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
            do {
                appEvents.removeAll(keepingCapacity: true)
                try parser.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), into: &appEvents)
                own(appEvents, buffer)
            } catch {
                pending.append(.failed(error))
            }
        case .wantRead, .wantWrite:
            return
        case .eof:
            appEOF = true
            if tunnel { return }  // passed on to the hop once what the app sent before is written
            do { own(try parser.finish(), buffer) } catch { pending.append(.failed(error)) }
            if ex == nil && pending.isEmpty { closing = true }
        case .failed(let why):
            conn.finish(reason: .socketError, detail: "app: \(why)", refused: false, reset: true)
        }
    }

    /// Parser events as values that outlive the scratch buffer.
    private func own(_ events: [HTTPEvent<HTTPRequestHead>], _ buffer: UnsafeMutableRawBufferPointer) {
        for e in events {
            switch e {
            case .head(let h): pending.append(.head(h))
            case .body(let r): pending.append(.body(Array(UnsafeRawBufferPointer(rebasing: buffer[r]))))
            case .end: pending.append(.end)
            }
        }
    }

    /// Handles what can be handled now, writes what waits, and sets both ends' interest.
    func advance() {
        while !conn.phase.isClosed, !closing, let e = pending.first {
            switch e {
            case .head(let h):
                guard ex == nil else { break }
                pending.removeFirst()
                begin(h)
                continue
            case .body(let b):
                pending.removeFirst()
                if ex?.requestBody == .chunked { toHop.appendChunk(b) } else { toHop.append(b) }
                continue
            case .end:
                pending.removeFirst()
                if ex?.requestBody == .chunked { toHop.append("0\r\n\r\n") }
                ex?.requestDone = true
                if ex?.upgrade == true { enterTunnel() }
                continue
            case .failed(let error):
                guard ex == nil || !(ex!.requestDone) else { break }
                pending.removeAll()
                refuse(error)
            }
            break
        }
        guard !conn.phase.isClosed else { return }
        if hop != nil { flushHop() }
        guard !conn.phase.isClosed else { return }
        if !toApp.isEmpty { flushApp() }
        guard !conn.phase.isClosed else { return }
        if tunnel { passEndsOfStream() }
        // Room again for the response: bytes TLS already holds are never reported by epoll.
        if let h = hop, h.state == .leased, ex != nil, toApp.count < cap, h.end.hasBufferedInput {
            readHop(h)
            guard !conn.phase.isClosed else { return }
            if !toApp.isEmpty { flushApp() }
            guard !conn.phase.isClosed else { return }
            if ex == nil && !pending.isEmpty && !closing { return advance() }  // the next pipelined request
        }
        // The app finished sending and every request it sent is answered.
        if appEOF && ex == nil && pending.isEmpty { closing = true }
        if closing && toApp.isEmpty {
            return conn.finish(reason: .closed, detail: nil, refused: false)
        }
        updateInterests()
    }

    /// A request the parser refused: answered like a server would, then the app connection closes. A request
    /// cut mid-body also loses its hop (the peer holds half a request).
    func refuse(_ e: HTTPParseError) {
        if let h = hop { h.close(.error, reset: true); hop = nil }
        if let d = dialing { d.close(.error, reset: true); dialing = nil }
        let started = ex?.responseStarted ?? false
        ex = nil
        toHop.removeAll()
        closing = true
        guard !started else { return }
        HopHeads.error(status: e.status, reason: e.status == 400 ? "Bad Request" : "Refused", code: e.code, why: e.reason,
                       close: true, into: &toApp)
    }

    func flushApp() {
        var n = 0
        switch toApp.flush(to: app, wrote: &n) {
        case .done, .blocked: break
        case .failed(let why): conn.finish(reason: .socketError, detail: "app: \(why)", refused: false, reset: true)
        }
    }

    func updateInterests() {
        var i: Interest = .none
        let canRead = canReadApp
        if canRead { appReadMuted = false }
        if canRead || app.writeWantsRead || (!appReadMuted && app.interest.contains(.read)) { i.insert(.read) }
        if !toApp.isEmpty || app.readWantsWrite { i.insert(.write) }
        conn.setInterest(app, i)
        if let h = hop, h.state == .leased {
            var j: Interest = .none
            if (ex != nil && toApp.count < cap && !h.end.readClosed) || h.end.writeWantsRead { j.insert(.read) }
            if !toHop.isEmpty || h.end.readWantsWrite || h.end.shutdownWantsWrite { j.insert(.write) }
            h.setInterest(j)
        }
    }

    /// The app connection ends (`ProxyConnection.finish`): a hop mid-exchange cannot be reused.
    func teardown() {
        if let h = hop { h.close(tunnel ? .upgraded : .error, reset: !tunnel); hop = nil }
        if let d = dialing { d.close(.error, reset: true); dialing = nil }
        pending.removeAll()
        toHop.removeAll()
        toApp.removeAll()
    }
}
