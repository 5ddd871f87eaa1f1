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
        case .forward(let target, let subject, let route, let rule):
            let upgrade = InboundHTTP.asksUpgrade(head)
            h.toApp.append(contentsOf: HeaderSanitizer.forwardedHead(head, target: target, upgrading: upgrade, peer: peer.description,
                                                                      subject: subject, requestID: id))
            h.responses.expect(requestMethod: head.method)
            h.current = InboundHTTP.Exchange(method: head.method, requestID: id, route: route, startNs: start, framing: framing,
                                             upgrade: upgrade, keepAlive: head.keepAlive)
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

    /// Reads the app's answer (only when what we owe the peer has drained) and passes it on byte for byte.
    func readApp(_ h: InboundHTTP, down: ProxyEnd, up: ProxyEnd) -> Bool {
        guard !up.readClosed, h.pendingToDown == 0, !h.lingering, h.appReadable else { return false }
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
            let events: [HTTPEvent<HTTPResponseHead>]
            do { events = try h.responses.feed(bytes) } catch {
                if error.code == "http.switching-protocols", h.current?.upgrade == true {
                    h.toDown.append(contentsOf: bytes)
                    switchToTunnel(h, down: down, up: up)
                } else {
                    appBroke(h, "\(error)")
                }
                return false
            }
            h.toDown.append(contentsOf: bytes)
            for e in events { answer(h, e) }
            return true
        case .wantRead, .wantWrite:
            h.appReadable = false
            return false
        case .eof:
            up.readClosed = true
            do { for e in try h.responses.finish() { answer(h, e) } } catch { appBroke(h, "\(error)"); return false }
            if h.current != nil { appBroke(h, "the app closed before answering"); return false }
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
            h.current = x
        case .end:
            guard x.status >= 200 else { return }
            runtime.stats.requests.count(direction, method: x.method, route: x.route, status: x.status, allowed: true,
                                         seconds: Double(runtime.clock.monotonicNs() - x.startNs) / 1e9)
            h.current = nil
            h.pausedForUpgrade = false
            if !x.keepAlive || !x.responseKeepAlive || h.stage != .awaiting {
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
