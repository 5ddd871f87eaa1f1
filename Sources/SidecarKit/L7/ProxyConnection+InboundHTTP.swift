import MeshCore
import MeshHTTP1
import MeshNet
import MeshTLS

/// The event path of an inbound connection on an `http` port (see `InboundHTTP`): flush what waits, read the
/// app's answer, read and queue the peer's requests, decide and forward, until nothing moves; then set
/// interests. Every buffer is bounded: reading a side pauses while what it produced has not drained.
extension ProxyConnection {
    func startHTTP(_ down: ProxyEnd, _ up: ProxyEnd, limits: InboundHTTPLimits) {
        http = InboundHTTP(limits: limits)
        down.tls?.keepRecordBuffers()  // requests follow one another on this connection (a peer's pooled hop)
        phase = .pumping(down: down, up: up)
        lastActivity = loop.now
        armIdleTimer(afterMs: Int64(runtime.config.limits.idleTimeoutMs))
        serviceHTTP(down: down, up: up)
    }

    func serviceHTTP(down: ProxyEnd, up: ProxyEnd) {
        guard let h = http else { return }
        var progress = true
        while progress {
            progress = false
            if h.appSpent && h.pendingToApp > 0 {
                redialApp(h, down: down, spent: up)  // `connected` resumes; a failure at once was answered 502
                guard case .pumping = phase else { return }
                progress = true
                continue
            }
            if !h.appSpent, flush(h, app: true, up) { progress = true }
            if flush(h, app: false, down) { progress = true }
            if phase.isClosed || http == nil { return }
            if readApp(h, down: down, up: up) { progress = true }
            if phase.isClosed || http == nil { return }
            if readPeer(h, down) { progress = true }
            if phase.isClosed { return }
            if drive(h, down: down, up: up) { progress = true }
            if phase.isClosed || http == nil { return }
            if h.stage == .closing, h.pendingToDown == 0, !h.lingering {
                if down.readClosed { return finish(reason: .closed, detail: nil, refused: false) }
                startLinger(h, down)
                progress = true
            }
        }
        guard !phase.isClosed else { return }
        var d: Interest = .none, u: Interest = .none
        if (h.wantsPeerBytes || h.lingering) && !down.readClosed || down.writeWantsRead { d.insert(.read) }
        if h.pendingToDown > 0 || down.readWantsWrite || down.shutdownWantsWrite { d.insert(.write) }
        if !up.readClosed && h.pendingToDown == 0 && !h.lingering || up.writeWantsRead { u.insert(.read) }
        if h.pendingToApp > 0 || up.readWantsWrite { u.insert(.write) }
        setInterest(down, d)
        if !h.appSpent { setInterest(up, u) }
    }

    /// Writes what waits for one side; true when bytes moved.
    private func flush(_ h: InboundHTTP, app: Bool, _ end: ProxyEnd) -> Bool {
        if end.shutdownWantsWrite { _ = end.sendEOF() }
        var moved = false
        while (app ? h.pendingToApp : h.pendingToDown) > 0 {
            let r: TransportWrite = app
                ? h.toApp.withUnsafeBytes { end.write(UnsafeRawBufferPointer(rebasing: $0[h.toAppStart...])) }
                : h.toDown.withUnsafeBytes { end.write(UnsafeRawBufferPointer(rebasing: $0[h.toDownStart...])) }
            switch r {
            case .wrote(let k):
                moved = true
                if app { h.toAppStart += k } else { h.toDownStart += k }
            case .wantRead, .wantWrite:
                return moved
            case .failed(let why):
                finish(reason: end.failure, detail: why.description, refused: false, reset: true)
                return false
            }
        }
        if app { h.toApp.removeAll(keepingCapacity: true); h.toAppStart = 0 } else { h.toDown.removeAll(keepingCapacity: true); h.toDownStart = 0 }
        return moved
    }

    /// Reads the peer while more requests may be queued (or drops its bytes while lingering).
    private func readPeer(_ h: InboundHTTP, _ down: ProxyEnd) -> Bool {
        guard !down.readClosed, h.wantsPeerBytes || h.lingering, h.peerReadable || down.hasBufferedInput else { return false }
        let buffer = context.scratch
        var moved = false
        var rounds = 0
        while (rounds < 4 || down.hasBufferedInput) && (h.wantsPeerBytes || h.lingering) {
            rounds += 1
            switch down.read(into: buffer) {
            case .bytes(let n):
                moved = true
                lastActivity = loop.now
                down.bytesRead += n
                if !h.lingering { parse(h, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), count: n) }
                if n < buffer.count && !down.hasBufferedInput {
                    h.peerReadable = false
                    return moved
                }
            case .wantRead, .wantWrite:
                h.peerReadable = false
                return moved
            case .eof:
                down.readClosed = true
                if h.lingering { finish(reason: .closed, detail: nil, refused: false); return false }
                do {
                    for e in try h.requests.finish() { enqueue(h, e, nil) }
                    h.push(.eof)
                } catch {
                    h.push(.error(error))
                }
                h.stopReading = true
                return true
            case .failed(let why):
                // Lingering, our answer is sent and our end closed: a peer that resets instead of closing is done too.
                if h.lingering { finish(reason: .closed, detail: nil, refused: false); return false }
                finish(reason: down.failure, detail: why.description, refused: false, reset: true)
                return false
            }
        }
        return moved
    }

    private func parse(_ h: InboundHTTP, _ bytes: UnsafeRawBufferPointer, count: Int) {
        do {
            h.requestEvents.removeAll(keepingCapacity: true)
            try h.requests.feed(bytes, into: &h.requestEvents)
            for e in h.requestEvents { enqueue(h, e, bytes) }
        } catch {
            h.push(.error(error))
            h.stopReading = true
        }
        if h.requests.inHead && !h.stopReading {
            if h.headTimer == nil { armHeadTimer(h) }
        } else if let t = h.headTimer {
            loop.cancel(t)
            h.headTimer = nil
        }
    }

    /// A head still incomplete when the deadline passes is answered 408 (in order, after what is before it) and
    /// the connection closes; a head we stopped reading ourselves (read-ahead full) gets a new deadline.
    private func armHeadTimer(_ h: InboundHTTP) {
        h.headTimer = loop.schedule(afterMs: Int64(h.limits.headTimeoutMs)) { [weak self, weak h] in
            guard let self, let h, self.http === h, !self.phase.isClosed else { return }
            h.headTimer = nil
            guard h.requests.inHead, !h.stopReading else { return }
            if !h.wantsPeerBytes { return self.armHeadTimer(h) }
            h.push(.error(HTTPParseError(status: 408, code: ErrorCode.httpRequestTimeout.id,
                                         reason: "request head not complete within \(h.limits.headTimeoutMs) ms")))
            h.stopReading = true
            guard case .pumping(let down, let up) = self.phase else { return }
            self.serviceHTTP(down: down, up: up)
        }
    }

    private func enqueue(_ h: InboundHTTP, _ e: HTTPEvent<HTTPRequestHead>, _ bytes: UnsafeRawBufferPointer?) {
        switch e {
        case .head(let head): h.push(.head(head))
        case .body(let r): if let bytes { h.push(.body(Array(UnsafeRawBufferPointer(rebasing: bytes[r])))) }
        case .end: h.push(.end)
        }
    }

    /// Our end of stream to the peer, then its bytes are dropped until it closes or `lingerMs` pass, so closing
    /// with unread bytes does not reset the answer away.
    private func startLinger(_ h: InboundHTTP, _ down: ProxyEnd) {
        h.lingering = true
        h.dropQueue()
        _ = down.sendEOF()
        cancelTimer()
        let ms = h.limits.lingerMs
        timer = loop.schedule(afterMs: Int64(ms)) { [weak self] in
            guard let self else { return }
            self.timer = nil
            self.finish(reason: .closed, detail: nil, refused: false)
        }
    }
}

extension ProxyConnection {
    /// What this inbound listener speaks: with policy from the control plane, what the mesh declares for its
    /// service port; with static config, the listener's `protocol`.
    func inboundProtocol(_ s: SidecarState) -> PortProtocol {
        if s.config.policy != nil {
            guard servicePort != 0 else { return .tcp }
            return s.slice?.inboundProtocol(port: servicePort) ?? .tcp  // not bound: see `outboundProtocol`
        }
        return s.config.inbound.first { $0.name == listener }?.protocol ?? .tcp
    }
}
