import MeshNet
import MeshTLS

/// One socket of a proxied pair, with what is waiting to be written to it. The pending buffer is allocated
/// only when the receiver pushes back, so an idle connection holds no buffer at all.
final class ProxyEnd {
    let fd: Int32
    var tls: TLSStream?
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
    /// TLS cross-wants: a read that needs the socket writable, a write that needs it readable.
    var readWantsWrite = false
    var writeWantsRead = false
    var shutdownWantsWrite = false

    init(fd: Int32) { self.fd = fd }

    var pendingCount: Int { pendingEnd - pendingStart }

    /// Keeps `bytes` to write later. The caller only stashes when nothing is pending, and never more than
    /// one read's worth, so `capacity` (the loop's read size) always suffices.
    func stash(_ bytes: UnsafeRawBufferPointer, capacity: Int) {
        if pending == nil { pending = .allocate(byteCount: capacity, alignment: 16) }
        pending!.copyMemory(from: bytes)
        pendingStart = 0
        pendingEnd = bytes.count
    }

    func releaseBuffer() {
        pending?.deallocate()
        pending = nil
        pendingStart = 0
        pendingEnd = 0
    }

    enum ReadOutcome { case bytes(Int), wait, eof, error(String) }
    enum WriteOutcome { case wrote(Int), wait, error(String) }

    @inline(__always)
    func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadOutcome {
        if let tls {
            readWantsWrite = false
            switch tls.read(into: buffer) {
            case .bytes(let n): return .bytes(n)
            case .wantRead: return .wait
            case .wantWrite: readWantsWrite = true; return .wait
            case .eof: return .eof
            case .failed(let why): return .error(why)
            }
        }
        do {
            switch try Socket.read(fd, buffer) {
            case .done(0): return .eof
            case .done(let n): return .bytes(n)
            case .wouldBlock: return .wait
            }
        } catch {
            return .error(error.description)
        }
    }

    @inline(__always)
    func write(_ buffer: UnsafeRawBufferPointer) -> WriteOutcome {
        if let tls {
            writeWantsRead = false
            switch tls.write(buffer) {
            case .wrote(let n): return .wrote(n)
            case .wantWrite: return .wait
            case .wantRead: writeWantsRead = true; return .wait
            case .failed(let why): return .error(why)
            }
        }
        do {
            switch try Socket.write(fd, buffer) {
            case .done(let n): return .wrote(n)
            case .wouldBlock: return .wait
            }
        } catch {
            return .error(error.description)
        }
    }

    /// Half-close towards this end. False when TLS needs the socket writable first.
    func sendEOF() -> Bool {
        if let tls, !tls.closeNotifySent {
            switch tls.shutdownWrite() {
            case .wantWrite:
                shutdownWantsWrite = true
                return false
            default: break
            }
        }
        shutdownWantsWrite = false
        Socket.shutdownWrite(fd)
        writeClosed = true
        return true
    }
}
