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
    func finish(reason: String, detail: String?, refused: Bool, rule: String? = nil, reset: Bool = false) {
        guard phase != .closed else { return }
        phase = .closed
        cancelTimer()
        if holdsHandshakeSlot {
            holdsHandshakeSlot = false
            context.handshakeEnded()
        }
        if direction == .outbound, handshakeDone, let tls = up?.tls, let s = tls.takeSession() {
            context.keepSession(s, for: listener, generation: state.generation)
        }
        for end in [down, up].compactMap({ $0 }) {
            loop.deregister(end.fd)
            if reset { Socket.closeWithReset(end.fd) } else { close(end.fd) }
            end.releaseBuffer()
            end.tls = nil
        }
        let stats = runtime.stats
        runtime.release()
        if direction == .inbound {
            stats.inboundActive.subtract(1, ordering: .relaxed)
            stats.inboundBytesIn.add(bytesDownToUp, ordering: .relaxed)
            stats.inboundBytesOut.add(bytesUpToDown, ordering: .relaxed)
        } else {
            stats.outboundActive.subtract(1, ordering: .relaxed)
            stats.outboundBytesIn.add(bytesDownToUp, ordering: .relaxed)
            stats.outboundBytesOut.add(bytesUpToDown, ordering: .relaxed)
        }
        if refused {
            stats.count(reason: reason)
            logDecision(verdict: "deny", reason: reason, rule: rule ?? Verdict.defaultDenyRule, detail: detail)
        } else if reason != "closed" {
            stats.count(reason: reason)
            if runtime.config.log.logAllowed || reason != "idle-timeout" {
                logClose(reason: reason, detail: detail)
            }
        } else if runtime.config.log.logAllowed {
            logClose(reason: reason, detail: detail)
        }
    }

    func logDecision(verdict: String, reason: String, rule: String, detail: String?) {
        runtime.log.event(verdict == "deny" ? "refused" : "allowed", fields: [
            ("direction", .string(direction.rawValue)),
            ("listener", .string(listener)),
            ("port", .int(Int(listenPort))),
            ("peer", .string(peer.description)),
            ("identity", .optional(peerIdentity?.description)),
            ("verdict", .string(verdict)),
            ("reason", .string(reason)),
            ("rule", .string(rule)),
            ("detail", .optional(detail)),
        ])
    }

    func logClose(reason: String, detail: String?) {
        runtime.log.event("connection-closed", fields: [
            ("direction", .string(direction.rawValue)),
            ("listener", .string(listener)),
            ("peer", .string(peer.description)),
            ("identity", .optional(peerIdentity?.description)),
            ("reason", .string(reason)),
            ("bytesIn", .int(bytesDownToUp)),
            ("bytesOut", .int(bytesUpToDown)),
            ("durationMs", .int(Int(loop.now - startedAt))),
            ("detail", .optional(detail)),
        ])
    }
}
