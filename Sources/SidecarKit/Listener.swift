#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet

/// One listening socket on one loop (each loop has its own, bound with SO_REUSEPORT). Accepts until the
/// queue is empty, refuses fast beyond `maxConnections`, pauses while the loop's handshake budget is spent,
/// and backs off on EMFILE instead of spinning.
final class Listener: EventHandler {
    enum Kind {
        case inbound(InboundListener)
        case outbound(OutboundListener)
        /// Connections redirected by iptables (one intake per loop).
        case transparent(TransparentIntake)
    }

    let fd: Int32
    /// Set by `close` (on the loop thread).
    private var closed = false
    let kind: Kind
    let context: LoopContext
    private var paused = false
    /// Back-off when the process is out of file descriptors.
    static let emfileBackoffMs: Int64 = 100

    var direction: Direction {
        if case .inbound = kind { .inbound } else { .outbound }
    }

    var name: String {
        switch kind {
        case .inbound(let l): l.name
        case .outbound(let l): l.name
        case .transparent: ProxyConnection.transparentListenerName
        }
    }

    /// An outbound `http` listener: its clients speak first, so the kernel hands a connection over only with
    /// its first request bytes (`TCP_DEFER_ACCEPT`) and the request is read right after `accept`, with no
    /// readiness event and no `epoll_ctl` in between.
    let defersAccept: Bool
    /// How long the kernel holds a silent client before handing it over anyway (then the idle timeout applies).
    static let deferAcceptSeconds: Int32 = 1

    init(kind: Kind, address: SocketAddress, context: LoopContext) throws {
        self.kind = kind
        self.context = context
        if case .outbound(let l) = kind, l.protocol == .http { defersAccept = true } else { defersAccept = false }
        // With TCP_NODELAY, inherited by what it accepts.
        fd = try Socket.listen(address, reusePort: true, deferAcceptSeconds: defersAccept ? Self.deferAcceptSeconds : 0)
        try context.loop.register(fd, .read, self)
    }

    func close() {
        guard !closed else { return }  // a second close must not close a reused fd number
        closed = true
        context.loop.deregister(fd)
        Glibc.close(fd)
    }

    func ready(fd: Int32, _ readiness: Readiness) {
        let runtime = context.sidecar
        while true {
            if case .inbound = kind, !context.handshakeBudgetLeft {
                pause()
                return
            }
            let accepted: IOResult<(Int32, SocketAddress)>
            do {
                accepted = try Socket.accept(self.fd)
            } catch {
                if error.errno == EMFILE || error.errno == ENFILE || error.errno == ENOBUFS || error.errno == ENOMEM {
                    runtime.stats.count(failure: .acceptEMFILE, direction)
                    runtime.log.refusal("accept-backoff", reason: CloseReason.acceptEMFILE.rawValue,
                                        fields: [("listener", .string(name)), ("error", .string(error.description))])
                    context.loop.setInterest(self.fd, .none)
                    context.loop.schedule(afterMs: Self.emfileBackoffMs) { [weak self] in
                        guard let self, !self.paused else { return }
                        self.context.loop.setInterest(self.fd, .read)
                    }
                }
                // ECONNABORTED and friends: that one connection is gone; keep accepting.
                if error.errno == ECONNABORTED || error.errno == EPROTO { continue }
                return
            }
            guard case .done(let (cfd, peer)) = accepted else { return }
            guard runtime.admit() else {
                runtime.stats.count(failure: .maxConnections, direction)
                runtime.log.refusal("refused", reason: CloseReason.maxConnections.rawValue, fields: [
                    ("listener", .string(name)), ("peer", .string(peer.description)), ("reason", .string(CloseReason.maxConnections.rawValue))])
                Glibc.close(cfd)
                continue
            }
            switch kind {
            case .inbound(let l):
                ProxyConnection.startInbound(fd: cfd, peer: peer, listener: l, context: context)
            case .outbound(let l):
                ProxyConnection.startOutbound(fd: cfd, peer: peer, listener: l, context: context, requestArrived: defersAccept)
            case .transparent(let intake):
                ProxyConnection.startTransparent(fd: cfd, peer: peer, intake: intake, context: context)
            }
        }
    }

    private func pause() {
        guard !paused else { return }
        paused = true
        context.loop.setInterest(fd, .none)
        context.pausedListeners.append(self)
    }

    func resume() {
        guard paused else { return }
        paused = false
        context.loop.setInterest(fd, .read)
    }
}
