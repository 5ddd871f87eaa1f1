#if canImport(Glibc)
import Glibc
#endif
import MeshNet

/// Why a read or write failed: the socket call (as `Socket` threw it) or TLS (OpenSSL's drained error text).
public enum TransportError: Error, Equatable, Sendable, CustomStringConvertible {
    case socket(SyscallError)
    case tls(String)

    public var description: String {
        switch self {
        case .socket(let e): e.description
        case .tls(let text): text
        }
    }
}

/// What a read did. A want names the readiness that lets the call progress: plaintext only wants what it was
/// doing, TLS can cross (a read that must first write a record, a write that must first read one), and the
/// caller folds a crossed want into its epoll interest.
public enum TransportRead: Equatable, Sendable {
    case bytes(Int)
    case wantRead
    case wantWrite
    /// The peer ended its direction: FIN on plaintext, close_notify under TLS.
    case eof
    case failed(TransportError)
}

/// What a write did; on a want, retry with the same bytes (they may move: TLS accepts a moving buffer).
public enum TransportWrite: Equatable, Sendable {
    case wrote(Int)
    case wantRead
    case wantWrite
    case failed(TransportError)
}

public enum TransportShutdown: Equatable, Sendable {
    case done
    /// TLS could not queue close_notify yet: call again when the socket is writable.
    case wantWrite
}

/// One byte stream over a non-blocking socket, plaintext or TLS. The proxy's ends, the HTTP server and the
/// HTTP client all move bytes through it, so the read/write/want logic exists once. It works on the caller's
/// buffers and never copies, so a parser can run over what a read put in the caller's buffer.
///
/// Owner: the transport owns its socket and its TLS stream; whoever holds it calls `close` once, after taking
/// the fd out of its loop. Call order: with TLS, `tls!.handshake()` until `.done` and `tls!.verifyPeer`; then
/// `read`/`write` in any order; `shutdownWrite` until `.done`; `close` last.
public struct Transport {
    public let fd: Int32
    /// The TLS stream over `fd`; nil for plaintext.
    public private(set) var tls: TLSStream?

    public init(plain fd: Int32) { self.fd = fd }

    /// Over a stream already bound to `fd` (tests drive both ends of a socket pair).
    init(fd: Int32, tls: TLSStream?) {
        self.fd = fd
        self.tls = tls
    }

    /// Runs TLS over the socket from now on; the handshake is driven by `tls!.handshake()`. `resume` offers a
    /// session to resume (client side).
    public mutating func startTLS(_ context: TLSContext, resume: TLSSession? = nil) throws {
        precondition(tls == nil, "TLS started twice on one transport")
        tls = try TLSStream(context: context, fd: fd, resume: resume)
    }

    public var isTLS: Bool { tls != nil }

    /// Bytes TLS has decrypted but not handed out yet: epoll will never report them, so read again.
    public var hasBufferedInput: Bool {
        @inline(__always) get { tls?.hasPending ?? false }
    }

    @inline(__always)
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportRead {
        if let tls { return tls.read(into: buffer) }
        do {
            switch try Socket.read(fd, buffer) {
            case .done(0): return .eof
            case .done(let n): return .bytes(n)
            case .wouldBlock: return .wantRead
            }
        } catch {
            return .failed(.socket(error))
        }
    }

    @inline(__always)
    public func write(_ buffer: UnsafeRawBufferPointer) -> TransportWrite {
        if let tls { return tls.write(buffer) }
        do {
            switch try Socket.write(fd, buffer) {
            case .done(let n): return .wrote(n)
            case .wouldBlock: return .wantWrite
            }
        } catch {
            return .failed(.socket(error))
        }
    }

    /// Ends our direction: close_notify first under TLS (TLS 1.3 lets the peer keep sending), then FIN. A
    /// close_notify that fails outright still gets the FIN: the peer then sees a truncated stream, an error.
    public func shutdownWrite() -> TransportShutdown {
        if let tls, !tls.closeNotifySent, case .wantWrite = tls.shutdownWrite() { return .wantWrite }
        Socket.shutdownWrite(fd)
        return .done
    }

    /// Closes the socket (with RST when `reset`, to propagate an error) and frees the TLS stream.
    public mutating func close(reset: Bool = false) {
        if reset { Socket.closeWithReset(fd) } else { Glibc.close(fd) }
        tls = nil
    }
}
