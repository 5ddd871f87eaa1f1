#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet
import MeshTLS

/// Dialing the other end: the app (inbound, after authorization) or the remote sidecar (outbound, then its
/// handshake). The connect deadline is the connection's one timer meanwhile.
extension ProxyConnection {
    func connect(_ down: ProxyEnd, to address: SocketAddress) {
        let up: ProxyEnd
        do {
            let (fd, _) = try Socket.connect(address)
            up = ProxyEnd(fd: fd)
            phase = .connecting(down: down, up: up)
            Socket.setNoDelay(fd)
            try loop.register(fd, .write, self)
            up.interest = .write
        } catch {
            finish(reason: direction == .inbound ? .appUnreachable : .upstreamUnreachable, detail: "\(error)", refused: false)
            return
        }
        armDeadline(ms: runtime.config.limits.connectTimeoutMs,
                    reason: direction == .inbound ? .appConnectTimeout : .upstreamConnectTimeout)
    }

    func connected(_ down: ProxyEnd, _ up: ProxyEnd) {
        let err = Socket.pendingError(up.fd)
        if direction == .inbound, let h = http {  // the HTTP engine dialled the app again (`redialApp`)
            return err == 0 ? redialed(h, down, up) : redialFailed(h, down, up, String(cString: strerror(err)))
        }
        if err != 0 {
            finish(reason: direction == .inbound ? .appUnreachable : .upstreamUnreachable,
                   detail: String(cString: strerror(err)), refused: false)
            return
        }
        cancelTimer()
        if isPassthrough {
            startPumping(down, up)
            return
        }
        if direction == .inbound {
            if speaksHTTP { startHTTP(down, up, limits: runtime.httpLimits) } else { startPumping(down, up) }
            return
        }
        do {
            let session = context.takeSession(for: sessionKey, generation: state.generation)
            try up.startTLS(state.outboundTLS, resume: session)
        } catch {
            finish(reason: .internalError, detail: "\(error)", refused: false)
            return
        }
        phase = .upstreamHandshake(down: down, up: up)
        handshakeStartNs = runtime.clock.monotonicNs()
        armDeadline(ms: runtime.config.limits.handshakeTimeoutMs, reason: .handshakeTimeout)
        driveHandshake(up)
    }
}
