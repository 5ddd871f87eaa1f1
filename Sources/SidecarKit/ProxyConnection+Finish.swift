#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet
import MeshTLS

/// The one teardown path. Calling it twice is harmless: the second call finds the phase closed.
extension ProxyConnection {
    /// Ends the connection: cancel timers, give back the handshake slot, keep the TLS session for reuse,
    /// deregister and close both sockets, count and log, last.
    func finish(reason: CloseReason, detail: String?, refused: Bool, rule: String? = nil, reset: Bool = false) {
        guard !phase.isClosed else { return }
        if retryElsewhere(reason: reason) { return }
        endpointFinished(reason: reason)
        let (down, up) = phase.ends
        if case .http(_, let session) = phase { session.teardown() }
        phase = .closed
        cancelTimer()
        releaseHandshakeSlot()
        // A verified peer means a finished handshake: its session (tickets arrive after it) can be resumed.
        if direction == .outbound, peerIdentity != nil, let tls = up?.tls, let s = tls.takeSession() {
            context.keepSession(s, for: sessionKey, generation: state.generation)
        }
        down?.close(on: loop, reset: reset)
        up?.close(on: loop, reset: reset)
        context.connections[ObjectIdentifier(self)] = nil
        runtime.release()
        let bytesIn = down?.bytesRead ?? 0, bytesOut = up?.bytesRead ?? 0
        let stats = runtime.stats.of(direction)
        stats.active.subtract(1, ordering: .relaxed)
        stats.closed.add(1, ordering: .relaxed)
        stats.bytesFromDownstream.add(bytesIn, ordering: .relaxed)
        stats.bytesFromUpstream.add(bytesOut, ordering: .relaxed)
        stats.connectionSeconds.observe(seconds: Double(loop.now - startedAt) / 1000)
        recordEdge(reason: reason, refused: refused, rule: rule, bytesIn: bytesIn, bytesOut: bytesOut)
        if refused {
            runtime.refusalSeen.store(true, ordering: .relaxed)
            runtime.stats.count(failure: reason, direction)
            recordDecision(allowed: false, reason: reason.rawValue, rule: rule ?? Verdict.defaultDenyRule, detail: detail)
        } else if reason != .closed {
            runtime.stats.count(failure: reason, direction)
            if runtime.config.log.logAllowed || reason != .idleTimeout {
                logClose(reason: reason, detail: detail, bytesIn: bytesIn, bytesOut: bytesOut)
            }
        } else if runtime.config.log.logAllowed {
            logClose(reason: reason, detail: detail, bytesIn: bytesIn, bytesOut: bytesOut)
        }
    }

    /// Counts, remembers (for `/decisions`) and logs one authorization decision. Denials are always logged;
    /// allows only with `log.logAllowed`.
    func recordDecision(allowed: Bool, reason: String, rule: String, detail: String?) {
        runtime.stats.count(decision: allowed, rule: rule, direction)
        runtime.stats.decisions.record(Decision(time: runtime.clock.wallSeconds(), direction: direction, listener: listener,
                                                port: listenPort, peer: peer.description, identity: peerIdentity?.description,
                                                allowed: allowed, rule: rule, reason: reason))
        guard !allowed || runtime.config.log.logAllowed else { return }
        let verdict = allowed ? "allow" : "deny"
        let fields: [(String, LogValue)] = [
            ("direction", .string(direction.rawValue)),
            ("listener", .string(listener)),
            ("port", .int(Int(listenPort))),
            ("peer", .string(peer.description)),
            ("identity", .optional(peerIdentity?.description)),
            ("verdict", .string(verdict)),
            ("reason", .string(reason)),
            ("rule", .string(rule)),
            ("detail", .optional(detail)),
        ]
        // A peer can cause refusals as fast as it can connect: their lines are rate-limited per reason.
        if allowed { runtime.log.event("allowed", fields: fields) } else { runtime.log.refusal("refused", reason: reason, fields: fields) }
    }

    /// Abnormal ends are rate-limited per reason like refusals; normal ends (`logAllowed` only) are not.
    func logClose(reason: CloseReason, detail: String?, bytesIn: Int, bytesOut: Int) {
        let fields: [(String, LogValue)] = [
            ("direction", .string(direction.rawValue)),
            ("listener", .string(listener)),
            ("peer", .string(peer.description)),
            ("identity", .optional(peerIdentity?.description)),
            ("reason", .string(reason.rawValue)),
            ("bytesIn", .int(bytesIn)),
            ("bytesOut", .int(bytesOut)),
            ("durationMs", .int(Int(loop.now - startedAt))),
            ("detail", .optional(detail)),
        ]
        if reason == .closed {
            runtime.log.event("connection-closed", fields: fields)
        } else {
            runtime.log.refusal("connection-closed", reason: reason.rawValue, fields: fields)
        }
    }
}
