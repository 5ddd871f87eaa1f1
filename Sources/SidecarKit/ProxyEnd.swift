import MeshNet
import MeshTLS

/// One socket of a proxied pair: it owns its transport (the fd and, with TLS, the stream over it) and what is
/// waiting to be written to it. The pending buffer is allocated only when the receiver pushes back, so an idle
/// connection holds no buffer at all.
final class ProxyEnd {
    /// `transport.fd`, immutable: the event path compares it without an exclusivity check on `transport`.
    let fd: Int32
    /// Used through a copy (`let t = transport`), never in place: every access to it is then instantaneous, so
    /// whole-module optimization drops its dynamic exclusivity checks on the event path.
    private(set) var transport: Transport
    var interest: Interest = .none
    /// Bytes read from the other end that this end could not take yet: `pending[start..<end]`.
    var pending: UnsafeMutableRawBufferPointer?
    var pendingStart = 0
    var pendingEnd = 0
    /// We saw end of stream from this end.
    var readClosed = false
    /// We sent end of stream to this end.
    var writeClosed = false
    /// Send end of stream to this end once `pending` is flushed.
    var eofAfterFlush = false
    /// Crossed wants (TLS): a read that needs the socket writable, a write that needs it readable.
    var readWantsWrite = false
    var writeWantsRead = false
    var shutdownWantsWrite = false
    /// Bytes read from this end (folded into the counters at teardown, never per read).
    var bytesRead = 0
    /// `close` ran: a second call does nothing (an app connection the HTTP engine retired early is closed again
    /// by `finish`).
    private(set) var isClosed = false

    init(fd: Int32) {
        self.fd = fd
        transport = Transport(plain: fd)
    }

    var tls: TLSStream? { transport.tls }
    /// For close reasons: a failed TLS read or write is `tls-error`, a plaintext one `socket-error`.
    var failure: CloseReason { transport.isTLS ? .tlsError : .socketError }
    var pendingCount: Int { pendingEnd - pendingStart }
    /// Bytes TLS already holds: epoll will not report them.
    var hasBufferedInput: Bool {
        let t = transport
        return t.hasBufferedInput
    }

    func startTLS(_ context: TLSContext, resume: TLSSession? = nil) throws {
        var t = transport
        try t.startTLS(context, resume: resume)
        transport = t
    }

    /// Keeps `bytes` to write later. The caller only stashes when nothing is pending, and never more than
    /// one read's worth, so `capacity` (the loop's read size) always suffices.
    func stash(_ bytes: UnsafeRawBufferPointer, capacity: Int) {
        if pending == nil { pending = .allocate(byteCount: capacity, alignment: 16) }
        pending!.copyMemory(from: bytes)
        pendingStart = 0
        pendingEnd = bytes.count
    }

    @inline(__always)
    func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportRead {
        let t = transport
        let r = t.read(into: buffer)
        if case .wantWrite = r { readWantsWrite = true } else { readWantsWrite = false }
        return r
    }

    @inline(__always)
    func write(_ buffer: UnsafeRawBufferPointer) -> TransportWrite {
        let t = transport
        let r = t.write(buffer)
        if case .wantRead = r { writeWantsRead = true } else { writeWantsRead = false }
        return r
    }

    /// Half-close towards this end. False when TLS needs the socket writable first.
    func sendEOF() -> Bool {
        let t = transport
        guard t.shutdownWrite() == .done else {
            shutdownWantsWrite = true
            return false
        }
        shutdownWantsWrite = false
        writeClosed = true
        return true
    }

    /// Takes the fd out of `loop` and closes it (with RST when propagating an error), frees the TLS stream and
    /// the pending buffer. `ProxyConnection.finish` calls it for both ends; the inbound HTTP engine also closes
    /// an app connection it retires (the app closed after an answer) before `finish`, so it is idempotent.
    func close(on loop: EventLoop, reset: Bool) {
        guard !isClosed else { return }
        isClosed = true
        loop.forget(fd)  // close takes it out of the epoll set; no epoll_ctl needed
        var t = transport
        t.close(reset: reset)
        transport = t
        pending?.deallocate()
        pending = nil
        pendingStart = 0
        pendingEnd = 0
    }
}
