/// MeshTLS owns everything OpenSSL: keys, certificates, the small CA, TLS contexts and streams, and the
/// X.509-SVID rules. OpenSSL types never leave this target (`internal import`); each C object has one
/// Swift owner that frees it in `deinit`.
internal import COpenSSL
import MeshCore
internal import CMeshOpenSSLShims

enum OpenSSLError {
    /// Drains this thread's OpenSSL error queue into text. Call on every failure path: a stale queue makes
    /// the next `SSL_get_error` on this thread lie.
    static func drain() -> String {
        var parts: [String] = []
        while true {
            let e = ERR_get_error()
            if e == 0 { break }
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(e, &buf, buf.count)
            parts.append(buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        return parts.isEmpty ? "no OpenSSL error recorded" : parts.joined(separator: "; ")
    }

    /// A MeshError with the drained queue appended to the reason.
    static func error(_ code: ErrorCode, _ what: String) -> MeshError {
        MeshError(code, "\(what): \(drain())")
    }

    /// Forgets whatever is queued (after a failure we have already classified).
    static func clear() { ERR_clear_error() }
}

/// A memory BIO, owned; used to move PEM text in and out of OpenSSL.
final class MemoryBIO {
    let bio: OpaquePointer

    init() {
        bio = BIO_new(BIO_s_mem())!
    }

    init(_ bytes: [UInt8]) throws {
        guard let b = bytes.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else {
            throw OpenSSLError.error(.tlsBio, "cannot create memory BIO")
        }
        // BIO_new_mem_buf does not copy: keep the bytes alive by copying them into a fresh BIO instead.
        BIO_free(b)
        bio = BIO_new(BIO_s_mem())!
        _ = bytes.withUnsafeBytes { BIO_write(bio, $0.baseAddress, Int32($0.count)) }
    }

    deinit { BIO_free(bio) }

    var contents: [UInt8] {
        var p: UnsafeMutablePointer<CChar>? = nil
        let n = Int(CMeshOpenSSLShims_BIO_get_mem_data(bio, &p))
        guard n > 0, let p else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
}
