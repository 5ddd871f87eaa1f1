#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet
import MeshTLS

/// Moving bytes both ways with bounded buffers: read into the loop's scratch buffer, write on at once, keep
/// only what the receiver refuses, and stop reading that side until it is flushed (backpressure).
extension ProxyConnection {
    func startPumping(_ down: ProxyEnd, _ up: ProxyEnd) {
        phase = .pumping(down: down, up: up)
        lastActivity = loop.now
        armIdleTimer(afterMs: Int64(runtime.config.limits.idleTimeoutMs))
        // The peer may already have sent bytes that OpenSSL holds: read them now, epoll will not say so.
        pump(from: down, to: up)
        if !phase.isClosed { pump(from: up, to: down) }
        if !phase.isClosed { updateInterests(down, up) }
    }

    func service(fd: Int32, _ r: Readiness, down: ProxyEnd, up: ProxyEnd) {
        let (a, b) = fd == down.fd ? (down, up) : (up, down)
        if a.shutdownWantsWrite && r.writable { _ = a.sendEOF() }
        if a.pendingCount > 0 && (r.writable || (a.writeWantsRead && r.readable)) {
            flush(a, from: b)
        }
        if !phase.isClosed && (r.readable || (a.readWantsWrite && r.writable)) {
            pump(from: a, to: b)
        }
        guard !phase.isClosed else { return }
        if down.readClosed && up.readClosed && down.writeClosed && up.writeClosed {
            finish(reason: .closed, detail: nil, refused: false)
            return
        }
        updateInterests(down, up)
    }

    /// An end reset (or hung up) while we were not reading it: it waited for the dial, the handshake of the
    /// other end, or a receiver that pushes back. Nothing can go to or come from it any more, so end now with
    /// its failure reason and pass the reset on; level-triggered, the error would otherwise be reported on
    /// every iteration until the idle timeout. True when the connection ended.
    func endGoneUnheard(_ fd: Int32, _ r: Readiness) -> Bool {
        let gone: ProxyEnd?
        switch phase {
        case .connecting(let down, _), .upstreamHandshake(let down, _):
            gone = fd == down.fd ? down : nil  // `up` reports its own errors through connect and handshake
        case .pumping(let down, let up):
            // A hang-up alone (both directions shut, bytes maybe unread) is drained by the pump when it
            // reads again; only an error is final.
            gone = !r.error ? nil : fd == down.fd ? down : up
        default:
            gone = nil
        }
        guard let end = gone else { return false }
        let e = Socket.pendingError(fd)
        let detail = "\(end === phase.ends.down ? "downstream" : "upstream") \(e == 0 ? "hung up" : String(cString: strerror(e)))"
        finish(reason: end.failure, detail: detail, refused: false, reset: true)
        return true
    }

    /// Reads from `a` and writes to `b` until `a` has nothing more, `b` pushes back, or four socket reads are
    /// done (fairness between connections on the loop). Bytes OpenSSL already holds are always drained: epoll
    /// would never report them.
    func pump(from a: ProxyEnd, to b: ProxyEnd) {
        guard !a.readClosed, b.pendingCount == 0, !b.writeClosed else { return }
        let buffer = context.scratch
        var rounds = 0
        while rounds < 4 || a.hasBufferedInput {
            rounds += 1
            switch a.read(into: buffer) {
            case .bytes(let n):
                lastActivity = loop.now
                a.bytesRead += n
                guard writeAll(b, UnsafeRawBufferPointer(rebasing: buffer[0..<n])) else { return }
                if n < buffer.count && !a.hasBufferedInput { return }
            case .wantRead, .wantWrite:
                return
            case .eof:
                a.readClosed = true
                if b.pendingCount == 0 { _ = b.sendEOF() } else { b.eofAfterFlush = true }
                return
            case .failed(let why):
                finish(reason: a.failure, detail: why.description, refused: false, reset: true)
                return
            }
        }
    }

    /// Writes all of `bytes` to `b`, or stashes the rest; false when not everything went out.
    private func writeAll(_ b: ProxyEnd, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var off = 0
        while off < bytes.count {
            switch b.write(UnsafeRawBufferPointer(rebasing: bytes[off...])) {
            case .wrote(let k):
                off += k
            case .wantRead, .wantWrite:
                b.stash(UnsafeRawBufferPointer(rebasing: bytes[off...]), capacity: context.scratch.count)
                return false
            case .failed(let why):
                finish(reason: b.failure, detail: why.description, refused: false, reset: true)
                return false
            }
        }
        return true
    }

    /// Writes what `b` holds; when it is empty, resumes reading `a` (at once if OpenSSL holds bytes of `a`).
    private func flush(_ b: ProxyEnd, from a: ProxyEnd) {
        guard let pending = b.pending else { return }
        while b.pendingCount > 0 {
            let slice = UnsafeRawBufferPointer(rebasing: pending[b.pendingStart..<b.pendingEnd])
            switch b.write(slice) {
            case .wrote(let k):
                b.pendingStart += k
            case .wantRead, .wantWrite:
                return
            case .failed(let why):
                finish(reason: b.failure, detail: why.description, refused: false, reset: true)
                return
            }
        }
        b.pendingStart = 0
        b.pendingEnd = 0
        if b.eofAfterFlush {
            b.eofAfterFlush = false
            _ = b.sendEOF()
        }
        if a.hasBufferedInput { pump(from: a, to: b) }
    }

    /// Read interest where the other end can take more; write interest where bytes or a shutdown wait.
    func updateInterests(_ down: ProxyEnd, _ up: ProxyEnd) {
        updateInterest(down, other: up)
        updateInterest(up, other: down)
    }

    private func updateInterest(_ x: ProxyEnd, other y: ProxyEnd) {
        var i: Interest = .none
        if (!x.readClosed && y.pendingCount == 0 && !y.writeClosed) || x.writeWantsRead { i.insert(.read) }
        if x.pendingCount > 0 || x.readWantsWrite || x.shutdownWantsWrite { i.insert(.write) }
        setInterest(x, i)
    }
}
