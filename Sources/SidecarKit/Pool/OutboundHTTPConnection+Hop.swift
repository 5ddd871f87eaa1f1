import MeshCore
import MeshHTTP1
import MeshNet
import MeshTLS

/// The hop side of an exchange: taking a pooled hop or dialling one (through the listener's balancer), retrying
/// only what provably never reached the peer, relaying the response, and giving the hop back.
extension OutboundHTTPConnection {
    func begin(_ h: HTTPRequestHead) {
        let e = Exchange(method: h.method, keepAlive: h.keepAlive, http10: h.version == .http10,
                         requestBody: HopHeads.requestBody(h))
        if let p = spareParser {  // its buffers are kept: no allocation for them per request
            e.response = p
            spareParser = nil
        }
        e.response.expect(requestMethod: h.method)
        e.upgrade = Self.isUpgrade(h)
        ex = e
        HopHeads.request(h, body: e.requestBody, defaultHost: self.defaultAuthority,
                         extra: e.upgrade ? Self.upgradeFields(h) : nil, into: &toHop)
        acquire()
    }

    /// The authority of a request that names none (HTTP/1.0 without `Host`; the hop speaks HTTP/1.1, which needs
    /// one): the one this sidecar serves for the destination (RFC 9112 §3.3, a fixed authority), as the mesh's
    /// names read, `<service>.<namespace>:<port>`; the upstream's address only when no destination is configured.
    var defaultAuthority: String {
        guard let d = conn.destination else { return upstream.address.description }
        return "\(d.service.name).\(d.service.namespace):\(d.port)"
    }

    /// A hop for the exchange: an idle one from the pool (healthy, made for the current identity and still
    /// the expected server), else a new one to the endpoint the balancer picks.
    private func acquire() {
        let state = conn.runtime.state
        let balancer = context.balancer(for: target.key, upstream: upstream)
        let expected = target.expectedServer(in: state)
        let tls = ObjectIdentifier(state.outboundTLS)
        if let h = context.hopPool(for: target.key).take(addresses: balancer.addresses,
                                                          isCurrent: { $0.tls == tls && expected != nil && $0.peerIdentity == expected }) {
            conn.runtime.stats.pool.reused.add(1, ordering: .relaxed)
            return attach(h)
        }
        guard let i = balancer.pick(nowNs: conn.runtime.clock.monotonicNs(), avoiding: ex?.avoid) else {
            return badGateway(.poolNoEndpoint, "no endpoint for \(target.key)")
        }
        do {
            dialing = try PooledHop.dial(endpoint: i, balancer: balancer, target: target, context: context, owner: self)
        } catch {
            ex?.avoid = i
            retryOrFail("\(balancer.address(i)): \(error)")
        }
    }

    private func attach(_ h: PooledHop) {
        hop = h
        h.owner = self
        h.requests += 1
        conn.runtime.stats.pool.requests.add(1, ordering: .relaxed)
    }

    func hopEstablished(_ h: PooledHop) {
        guard dialing === h else { return h.close(.error) }
        dialing = nil
        attach(h)
        advance()
    }

    func hopFailed(_ h: PooledHop, detail: String) {
        guard dialing === h else { return }
        dialing = nil
        ex?.avoid = h.endpoint
        retryOrFail(detail)
        if !conn.phase.isClosed { advance() }
    }

    /// Nothing of the request left this sidecar: try a fresh hop, up to `pool.maxRetries` times.
    private func retryOrFail(_ detail: String) {
        guard let e = ex else { return }
        e.attempts += 1
        if e.attempts <= conn.runtime.config.pool.maxRetries {
            conn.runtime.stats.pool.retries.add(1, ordering: .relaxed)
            acquire()
        } else {
            badGateway(.poolUpstreamUnreachable, detail)
        }
    }

    func hopReady(_ h: PooledHop, _ r: Readiness) {
        guard h === hop else { return }
        if r.writable || (h.end.writeWantsRead && r.readable) { flushHop() }
        if hop != nil && !conn.phase.isClosed && (r.readable || (h.end.readWantsWrite && r.writable)) { readHop(h) }
        if !conn.phase.isClosed { advance() }
    }

    func flushHop() {
        guard let h = hop, h.state == .leased, let e = ex else { return }
        let before = e.written
        let result = toHop.flush(to: h.end, wrote: &e.written)
        guard case .failed(let why) = result else { return }
        if before == 0 && e.written == 0 {
            // A hop found closed before a byte of the request was written: provably not delivered.
            hop = nil
            h.close(.peerClosed, reset: true)
            ex?.avoid = h.endpoint
            return retryOrFail("write: \(why)")
        }
        hopBroken(h, .error, "write: \(why)")
    }

    func readHop(_ h: PooledHop) {
        let buffer = context.scratch
        var rounds = 0
        while hop === h, ex != nil, !h.end.readClosed, toApp.count < cap, rounds < 4 || h.end.hasBufferedInput {
            rounds += 1
            switch h.end.read(into: buffer) {
            case .bytes(let n):
                conn.lastActivity = context.loop.now
                h.end.bytesRead += n
                if tunnel || ex?.upgrade == true {
                    tunnelFromHop(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                    continue
                }
                do {
                    hopEvents.removeAll(keepingCapacity: true)
                    try ex!.response.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), into: &hopEvents)
                    relay(hopEvents, buffer)
                } catch {
                    return hopBroken(h, .error, "bad response: \(error)", code: .poolBadResponse)
                }
            case .wantRead, .wantWrite:
                return
            case .eof:
                h.end.readClosed = true
                if tunnel { return }  // passed on to the app once what the hop sent before is written
                if ex?.upgrade == true { closing = true; return }
                do { relay(try ex!.response.finish(), buffer) } catch {}
                guard let e = ex, e.done else { return hopBroken(h, .peerClosed, "closed before the response ended") }
                ex?.hopReusable = false
                return completeExchange()
            case .failed(let why):
                return hopBroken(h, .peerClosed, "read: \(why)")
            }
            if ex?.done ?? false { return completeExchange() }
        }
        if ex?.done ?? false { completeExchange() }
    }

    /// Response events to the app, re-framed (hop-by-hop fields dropped, chunked bodies re-chunked).
    private func relay(_ events: [HTTPEvent<HTTPResponseHead>], _ buffer: UnsafeMutableRawBufferPointer) {
        guard let e = ex else { return }
        for event in events {
            if e.done { e.hopReusable = false; break }  // bytes after the response nobody asked for
            switch event {
            case .head(let h) where h.status < 200:
                e.interim = true
                if !e.http10 { HopHeads.response(h, body: .none, close: false, http10: false, into: &toApp) }
            case .head(let h):
                e.interim = false
                var body = HopHeads.responseBody(h, method: e.method)
                e.hopReusable = h.keepAlive && body != .untilClose
                if body == .chunked && e.http10 { body = .untilClose }
                e.closeApp = !e.keepAlive || appEOF || body == .untilClose
                e.responseBody = body
                e.responseStarted = true
                HopHeads.response(h, body: body, close: e.closeApp, http10: e.http10, into: &toApp)
            case .body(let r):
                let piece = UnsafeRawBufferPointer(rebasing: buffer[r])
                if e.responseBody == .chunked { toApp.appendChunk(piece) } else { toApp.append(piece) }
            case .end where e.interim:
                e.interim = false
            case .end:
                if e.responseBody == .chunked { toApp.append("0\r\n\r\n") }
                e.done = true
            }
        }
    }

    /// The response ended: the hop goes back to the pool when it can carry another request.
    private func completeExchange() {
        guard let e = ex, let h = hop else { return }
        ex = nil
        hop = nil
        if e.response.isIdle { spareParser = e.response }  // whole and between messages: the next exchange's
        let limit = conn.runtime.config.pool.maxRequestsPerHop
        if !e.hopReusable {
            h.close(.connectionClose)
        } else if !e.requestDone || !toHop.isEmpty {
            h.close(.error, reset: true)  // answered before the whole request was sent: the hop holds half of it
        } else if limit > 0 && h.requests >= limit {
            h.close(.maxRequests)
        } else if !context.hopPool(for: target.key).give(h) {
            h.close(.poolFull)
        }
        if e.closeApp || !e.requestDone { closing = true; pending.removeAll() }
        toHop.removeAll()
    }

    /// The hop failed mid-exchange: a 502 when the app has seen nothing of the response, else the app
    /// connection ends abruptly (a truncated response must not look complete).
    private func hopBroken(_ h: PooledHop, _ reason: HopCloseReason, _ detail: String, code: ErrorCode = .poolUpstreamClosed) {
        hop = nil
        h.close(reason, reset: reason == .error)
        guard let e = ex, !e.responseStarted else {
            return conn.finish(reason: .tlsError, detail: "hop: \(detail)", refused: false, reset: true)
        }
        badGateway(code, detail)
    }

    /// `502` with `{"error": code, "reason": ...}`; the app connection stays open only when the request was
    /// read whole and asked for keep-alive.
    func badGateway(_ code: ErrorCode, _ detail: String) {
        let keep = (ex?.requestDone ?? false) && (ex?.keepAlive ?? false) && !appEOF
        conn.runtime.stats.pool.badGateway.add(1, ordering: .relaxed)
        conn.runtime.log.refusal("bad-gateway", reason: code.id, fields: [
            ("listener", .string(conn.listener)), ("error", .string(code.id)), ("detail", .string(detail))])
        ex = nil
        toHop.removeAll()
        if !keep { closing = true; pending.removeAll() }
        HopHeads.error(status: 502, reason: "Bad Gateway", code: code.id, why: detail, close: !keep, into: &toApp)
    }
}
