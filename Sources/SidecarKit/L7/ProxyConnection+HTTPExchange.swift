import MeshCore
import MeshHTTP1
import MeshNet
import MeshPolicy

/// Deciding queued requests and following the app's answers (see `InboundHTTP`).
extension ProxyConnection {
    /// Moves the queue on as far as the stage allows; true when something was consumed.
    func drive(_ h: InboundHTTP, down: ProxyEnd, up: ProxyEnd) -> Bool {
        var moved = false
        while let item = h.front {
            switch (h.stage, item) {
            case (.idle, .head(let head)):
                h.pop()
                decide(h, head, up: up)
            case (.idle, .error(let e)), (.skipping, .error(let e)):
                h.pop()
                refuseAndClose(h, RequestRefusal(e), method: nil, rule: "http-framing")
            case (.idle, .eof), (.skipping, .eof):
                h.pop()
                h.stage = .closing
            case (.forwarding, .body(let b)):
                guard h.pendingToApp < InboundHTTP.outputHighWater, let x = h.current else { return moved }
                h.pop()
                h.appendBody(b, framing: x.framing)
            case (.forwarding, .end):
                h.pop()
                if let x = h.current { h.appendBodyEnd(framing: x.framing) }
                h.stage = .awaiting
            case (.forwarding, .error), (.forwarding, .eof):
                // The app has part of a request it will never see the end of: this exchange cannot be finished.
                finish(reason: .closed, detail: "the request body was cut short or badly framed", refused: false, reset: true)
                return false
            case (.skipping, .body):
                h.pop()
            case (.skipping, .end):
                h.pop()
                h.stage = .idle
            case (.awaiting, _), (.closing, _):
                return moved
            default:
                finish(reason: .internalError, detail: "http: \(item) in stage \(h.stage)", refused: false, reset: true)
                return false
            }
            moved = true
        }
        return moved
    }

    /// Decides one head on the state current now and forwards it or answers it.
    private func decide(_ h: InboundHTTP, _ head: HTTPRequestHead, up: ProxyEnd) {
        let current = runtime.state
        let now = runtime.clock.wallSeconds()
        let id = context.requestIDs.next()
        let start = runtime.clock.monotonicNs()
        guard let peer = peerIdentity else { return finish(reason: .internalError, detail: "no peer", refused: false) }
        let outcome = RequestGate.decide(head, listener: listener, peer: peer, state: current, tokens: context.tokenReader, now: now)
        let framing = RequestBodyFraming(head)
        switch outcome {
        case .forward(let target, let subject, let route, let rule, let dropping, let claims):
            let upgrade = InboundHTTP.asksUpgrade(head)
            HeaderSanitizer.writeForwardedHead(head, target: target, upgrading: upgrade, peer: h.peerText(peer),
                                               subject: subject, requestID: id, dropping: dropping, claims: claims, into: &h.toApp)
            h.responses.expect(requestMethod: head.method)
            h.current = InboundHTTP.Exchange(method: head.method, requestID: id, route: route, startNs: start, framing: framing,
                                             upgrade: upgrade, keepAlive: head.keepAlive,
                                             bodyMayNotCome: InboundHTTP.expectsContinue(head) && framing != .none)
            h.stage = .forwarding
            if upgrade { h.pausedForUpgrade = true }
            if runtime.config.log.logAllowed { recordRequest(allowed: true, method: head.method, route: route, rule: rule, reason: "allowed", id: id, detail: nil) }
        case .refuse(let refusal, let route, let rule):
            // A body announced with `Expect: 100-continue` may never come: it cannot be skipped safely.
            let close = !head.keepAlive || (InboundHTTP.expectsContinue(head) && framing != .none)
            h.toDown.append(contentsOf: refusal.response(requestID: id, keepAlive: !close, head: head.method == "HEAD"))
            recordRequest(allowed: false, method: head.method, route: route, rule: rule, reason: refusal.code, id: id, detail: refusal.reason)
            runtime.stats.requests.count(direction, method: head.method, route: route, status: refusal.status, allowed: false,
                                         seconds: Double(runtime.clock.monotonicNs() - start) / 1e9)
            recordRequestEdge(refused: true, rule: rule, reason: refusal.code)
            if close {
                h.stage = .closing
                h.stopReading = true
                h.dropQueue()
            } else {
                h.stage = .skipping
            }
        }
    }

    /// A request the parser refused: its answer, then the connection closes (framing is lost).
    private func refuseAndClose(_ h: InboundHTTP, _ refusal: RequestRefusal, method: String?, rule: String) {
        let id = context.requestIDs.next()
        h.toDown.append(contentsOf: refusal.response(requestID: id, keepAlive: false))
        recordRequest(allowed: false, method: method ?? "-", route: nil, rule: rule, reason: refusal.code, id: id, detail: refusal.reason)
        runtime.stats.requests.count(direction, method: method ?? "other", route: nil, status: refusal.status, allowed: false, seconds: 0)
        recordRequestEdge(refused: true, rule: rule, reason: refusal.code)
        h.stage = .closing
        h.stopReading = true
        h.dropQueue()
    }

    /// Reads the app's answer (only when what we owe the peer has drained) and passes it on byte for byte (but
    /// for the heads `relay` re-emits).
    func readApp(_ h: InboundHTTP, down: ProxyEnd, up: ProxyEnd) -> Bool {
        guard !h.appSpent, !up.readClosed, h.pendingToDown == 0, !h.lingering, h.appReadable else { return false }
        let buffer = context.scratch
        switch up.read(into: buffer) {
        case .bytes(let n):
            if n < buffer.count { h.appReadable = false }
            lastActivity = loop.now
            up.bytesRead += n
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            guard h.current != nil else {
                finish(reason: .appProtocolError, detail: "the app sent \(n) bytes with no request open", refused: false)
                return false
            }
            h.responseEvents.removeAll(keepingCapacity: true)
            do { try h.responses.feed(bytes, into: &h.responseEvents) } catch {
                if error.code == "http.switching-protocols", h.current?.upgrade == true {
                    h.toDown.append(contentsOf: h.heldHead)
                    h.heldHead = []
                    h.toDown.append(contentsOf: bytes)
                    switchToTunnel(h, down: down, up: up)
                } else {
                    appBroke(h, "\(error)")
                }
                return false
            }
            let events = h.responseEvents
            relay(h, bytes, events)
            for e in events { answer(h, e) }
            if h.appSpent { retireApp(h, up) }
            return true
        case .wantRead, .wantWrite:
            h.appReadable = false
            return false
        case .eof:
            up.readClosed = true
            do { for e in try h.responses.finish() { answer(h, e) } } catch { appBroke(h, "\(error)"); return false }
            if h.current != nil { appBroke(h, "the app closed before answering"); return false }
            // Between delimited answers the app's close is its own (hop-by-hop): the next request redials it.
            if h.stage != .closing && !h.stopReading {
                retireApp(h, up)
                return true
            }
            h.stage = .closing
            h.stopReading = true
            h.dropQueue()
            return true
        case .failed(let why):
            finish(reason: up.failure, detail: why.description, refused: false, reset: true)
            return false
        }
    }

    private func answer(_ h: InboundHTTP, _ e: HTTPEvent<HTTPResponseHead>) {
        guard var x = h.current else { return }
        switch e {
        case .head(let r):
            guard r.status >= 200 else { return }
            x.status = r.status
            x.responseKeepAlive = r.keepAlive && !h.responses.readsUntilClose
            x.delimited = !h.responses.readsUntilClose
            h.current = x
        case .end:
            guard x.status >= 200 else { return }
            runtime.stats.requests.count(direction, method: x.method, route: x.route, status: x.status, allowed: true,
                                         seconds: Double(runtime.clock.monotonicNs() - x.startNs) / 1e9)
            h.current = nil
            h.pausedForUpgrade = false
            if x.keepAlive && !x.responseKeepAlive && x.delimited && !x.upgrade && h.stage == .awaiting {
                h.appSpent = true  // the app's close is hop-by-hop: ours stays open (`retireApp`)
                h.stage = .idle
            } else if !x.keepAlive || !x.responseKeepAlive || h.stage != .awaiting {
                h.stage = .closing
                h.stopReading = true
                h.dropQueue()
            } else {
                h.stage = .idle
            }
        case .body:
            return
        }
    }

    /// The app's answer cannot be framed: if nothing of it reached the peer yet, a 502; then the connection ends.
    private func appBroke(_ h: InboundHTTP, _ why: String) {
        if let x = h.current, x.status == 0, h.pendingToDown == 0 {
            let r = RequestRefusal(status: 502, code: ErrorCode.requestBadAppResponse.id, reason: "the app's answer was not usable HTTP/1.1", challenge: nil)
            h.toDown.append(contentsOf: r.response(requestID: x.requestID, keepAlive: false))
            runtime.stats.requests.count(direction, method: x.method, route: x.route, status: 502, allowed: true, seconds: 0)
            h.current = nil
            h.stage = .closing
            h.stopReading = true
            h.dropQueue()
            runtime.log.refusal("app-protocol-error", reason: CloseReason.appProtocolError.rawValue,
                                fields: [("listener", .string(listener)), ("detail", .string(why))])
            return
        }
        finish(reason: .appProtocolError, detail: why, refused: false, reset: true)
    }

    /// The app answered 101 to an authorized upgrade: from here bytes flow both ways unparsed (`startPumping`).
    /// Bytes the peer sent after the upgrade request, before the 101, were parsed as HTTP: refused (RFC 6455 §4.1:
    /// a client waits for the 101).
    private func switchToTunnel(_ h: InboundHTTP, down: ProxyEnd, up: ProxyEnd) {
        guard h.queueIsEmpty, h.requests.isIdle, h.pendingToApp <= context.scratch.count,
              h.pendingToDown <= context.scratch.count, let x = h.current else {
            return finish(reason: .appProtocolError, detail: "bytes sent before the 101 of an upgrade", refused: false, reset: true)
        }
        runtime.stats.requests.count(direction, method: x.method, route: x.route, status: 101, allowed: true,
                                     seconds: Double(runtime.clock.monotonicNs() - x.startNs) / 1e9)
        if h.pendingToDown > 0 { h.toDown.withUnsafeBytes { down.stash(UnsafeRawBufferPointer(rebasing: $0[h.toDownStart...]), capacity: context.scratch.count) } }
        if h.pendingToApp > 0 { h.toApp.withUnsafeBytes { up.stash(UnsafeRawBufferPointer(rebasing: $0[h.toAppStart...]), capacity: context.scratch.count) } }
        http = nil
        cancelTimer()
        startPumping(down, up)
    }
}

/// Keeping the hop when the app closes (see `InboundHTTP`): re-emitted heads, the retired app connection, and
/// the redial before the next forwarded request.
extension ProxyConnection {
    /// Appends what the app sent for the peer: the bytes as they are, but a final answer's head that carries
    /// `Connection` (or is HTTP/1.0) on a hop we keep is re-emitted without it. A head still incomplete at the
    /// end of `bytes` is held back (bounded by the parser's head limit) until it ends.
    func relay(_ h: InboundHTTP, _ bytes: UnsafeRawBufferPointer, _ events: [HTTPEvent<HTTPResponseHead>]) {
        var c = 0
        var k = 0
        for e in events {
            guard case .head(let r) = e else { continue }
            let span = h.responses.headSpans[k]
            k += 1
            let start = span.start ?? 0
            let rewrite = r.status >= 200 && h.stage == .awaiting && h.current.map { $0.keepAlive && !$0.upgrade } == true
                && (r.headers.contains(.connection) || r.version == .http10)
            if rewrite {  // held bytes (if any) are this head's start: dropped with it
                h.toDown.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[c..<start]))
                InboundHTTP.writeResponseHead(r, into: &h.toDown)
                c = span.end
            } else {
                h.toDown.append(contentsOf: h.heldHead)
            }
            h.heldHead.removeAll(keepingCapacity: true)
        }
        if h.responses.inHead {
            // A head begun in this feed (nothing is held then), or one still going on from earlier ones.
            let start = h.responses.headInProgressStart ?? c
            h.toDown.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[c..<start]))
            h.heldHead.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start...]))
        } else {
            h.toDown.append(contentsOf: h.heldHead)
            h.heldHead.removeAll(keepingCapacity: true)
            h.toDown.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[c...]))
        }
    }

    /// The app connection is done (it closed, or said it will): close it now; the phase keeps the closed end
    /// (`finish` closes an end once) and nothing touches it until `redialApp` replaces it.
    func retireApp(_ h: InboundHTTP, _ up: ProxyEnd) {
        h.appSpent = true
        h.appReadable = false
        h.heldHead = []
        h.responses = HTTPResponseParser(limits: h.limits.responseLimits)
        up.readClosed = true
        up.close(on: loop, reset: false)
    }

    /// A request was forwarded while the app connection is retired: dial the app again (same address,
    /// `connectTimeoutMs`); the request's bytes wait in `toApp`. `connected` resumes the engine.
    func redialApp(_ h: InboundHTTP, down: ProxyEnd, spent: ProxyEnd) {
        guard let app = runtime.state.appAddresses[listener] else { return redialFailed(h, down, spent, "no app address", resume: false) }
        let up: ProxyEnd
        do {
            let (fd, _) = try Socket.connect(app)
            up = ProxyEnd(fd: fd)
        } catch {
            return redialFailed(h, down, spent, "\(error)", resume: false)
        }
        up.bytesRead = spent.bytesRead
        h.appSpent = false
        phase = .connecting(down: down, up: up)
        setInterest(down, .none)
        Socket.setNoDelay(up.fd)
        do {
            try loop.register(up.fd, .write, self)
            up.interest = .write
        } catch {
            return finish(reason: .internalError, detail: "\(error)", refused: false)
        }
        cancelTimer()
        let ms = runtime.config.limits.connectTimeoutMs
        timer = loop.schedule(afterMs: Int64(ms)) { [self] in
            self.timer = nil
            guard case .connecting(let down, let up) = self.phase, let h = self.http else { return }
            self.redialFailed(h, down, up, "deadline of \(ms) ms passed")
        }
    }

    /// `connected` for a redial: the engine goes on with the new app connection.
    func redialed(_ h: InboundHTTP, _ down: ProxyEnd, _ up: ProxyEnd) {
        cancelTimer()
        phase = .pumping(down: down, up: up)
        lastActivity = loop.now
        armIdleTimer(afterMs: Int64(runtime.config.limits.idleTimeoutMs))
        serviceHTTP(down: down, up: up)
    }

    /// The app could not be dialled again: the waiting request is answered `502` (`request.app-unreachable`) and
    /// the connection goes on (its body, if any, is read and dropped), or closes when framing requires it.
    /// `resume`: service the connection now (false when called from `serviceHTTP`, which goes on itself).
    func redialFailed(_ h: InboundHTTP, _ down: ProxyEnd, _ up: ProxyEnd, _ why: String, resume: Bool = true) {
        up.readClosed = true
        up.close(on: loop, reset: false)
        h.appSpent = true
        h.toApp.removeAll(keepingCapacity: true)
        h.toAppStart = 0
        h.responses = HTTPResponseParser(limits: h.limits.responseLimits)
        phase = .pumping(down: down, up: up)
        cancelTimer()
        armIdleTimer(afterMs: Int64(runtime.config.limits.idleTimeoutMs))
        runtime.log.refusal("app-unreachable", reason: CloseReason.appUnreachable.rawValue,
                            fields: [("listener", .string(listener)), ("detail", .string(why))])
        if let x = h.current {
            let close = !x.keepAlive || x.bodyMayNotCome || x.upgrade
            let r = RequestRefusal(status: 502, code: ErrorCode.requestAppUnreachable.id, reason: "the app could not be reached", challenge: nil)
            h.toDown.append(contentsOf: r.response(requestID: x.requestID, keepAlive: !close, head: x.method == "HEAD"))
            runtime.stats.requests.count(direction, method: x.method, route: x.route, status: 502, allowed: true,
                                         seconds: Double(runtime.clock.monotonicNs() - x.startNs) / 1e9)
            h.current = nil
            h.pausedForUpgrade = false
            if close {
                h.stage = .closing
                h.stopReading = true
                h.dropQueue()
            } else {
                h.stage = h.stage == .forwarding ? .skipping : .idle
            }
        }
        if resume { serviceHTTP(down: down, up: up) }
    }
}
