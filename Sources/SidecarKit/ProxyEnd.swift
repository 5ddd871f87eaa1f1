import MeshNet
import MeshTLS

/// One socket of a proxied pair: it owns its transport (the fd and, with TLS, the stream over it) and what is
/// waiting to be written to it. The pending buffer is allocated only when the receiver pushes back, so an idle
/// connection holds no buffer at all.
final class ProxyEnd {
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

    init(fd: Int32) { transport = Transport(plain: fd) }

    var fd: Int32 { transport.fd }
    var tls: TLSStream? { transport.tls }
    /// For close reasons: a failed TLS read or write is `tls-error`, a plaintext one `socket-error`.
    var failure: CloseReason { transport.isTLS ? .tlsError : .socketError }
    var pendingCount: Int { pendingEnd - pendingStart }
    /// Bytes TLS already holds: epoll will not report them.
    var hasBufferedInput: Bool { transport.hasBufferedInput }

    func startTLS(_ context: TLSContext, resume: TLSSession? = nil) throws {
        try transport.startTLS(context, resume: resume)
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
        let r = transport.read(into: buffer)
        if case .wantWrite = r { readWantsWrite = true } else { readWantsWrite = false }
        return r
    }

    @inline(__always)
    func write(_ buffer: UnsafeRawBufferPointer) -> TransportWrite {
        let r = transport.write(buffer)
        if case .wantRead = r { writeWantsRead = true } else { writeWantsRead = false }
        return r
    }

    /// Half-close towards this end. False when TLS needs the socket writable first.
    func sendEOF() -> Bool {
        guard transport.shutdownWrite() == .done else {
            shutdownWantsWrite = true
            return false
        }
        shutdownWantsWrite = false
        writeClosed = true
        return true
    }

    /// Takes the fd out of `loop` and closes it (with RST when propagating an error), frees the TLS stream and
    /// the pending buffer. Only `ProxyConnection.finish` calls it, once per end.
    func close(on loop: EventLoop, reset: Bool) {
        loop.forget(fd)  // close takes it out of the epoll set; no epoll_ctl needed
        transport.close(reset: reset)
        pending?.deallocate()
        pending = nil
        pendingStart = 0
        pendingEnd = 0
    }
}
