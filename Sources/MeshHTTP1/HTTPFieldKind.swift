/// The field names a parser or a proxy acts on, recognised once per field when it is added to a head (ASCII
/// case ignored). Framing, hop-by-hop filtering and the stripping of look-alikes of our own fields then test a
/// small integer instead of comparing every name with every listed name, byte by byte, for every request.
public enum HTTPFieldKind: UInt8, Sendable, Equatable {
    case other
    case host, connection, keepAlive, proxyConnection, te, trailer, transferEncoding, upgrade, contentLength, expect
    /// A name that could pass for one a mesh proxy adds: `x-mesh-*`, `proxy-*` (but `Proxy-Connection`),
    /// `x-client-cert*`, `x-ssl-client*`, `x-forwarded-client-cert`, `x-client-verify`.
    case meshLookalike

    /// Hop-by-hop (RFC 9110 §7.6.1: `Connection`, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`,
    /// `Transfer-Encoding`, `Upgrade`) or framing (`Content-Length`): never forwarded as received.
    public var isHopByHopOrFraming: Bool {
        switch self {
        case .connection, .keepAlive, .proxyConnection, .te, .trailer, .transferEncoding, .upgrade, .contentLength: true
        case .other, .host, .expect, .meshLookalike: false
        }
    }

    /// The kind of `name`.
    public init(_ name: String) {
        var name = name
        self = name.withUTF8 { HTTPFieldKind(UnsafeRawBufferPointer($0)) }
    }

    /// The kind of the name in `bytes`.
    public init(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n >= 2 else { self = .other; return }
        @inline(__always) func lower(_ i: Int) -> UInt8 { let b = bytes[i]; return b >= 0x41 && b <= 0x5A ? b | 0x20 : b }
        @inline(__always) func equals(_ lowerName: StaticString) -> Bool {
            guard lowerName.utf8CodeUnitCount == n else { return false }
            let p = lowerName.utf8Start
            for i in 0..<n where lower(i) != p[i] { return false }
            return true
        }
        @inline(__always) func hasPrefix(_ lowerPrefix: StaticString) -> Bool {
            let m = lowerPrefix.utf8CodeUnitCount
            guard m <= n else { return false }
            let p = lowerPrefix.utf8Start
            for i in 0..<m where lower(i) != p[i] { return false }
            return true
        }
        switch lower(0) {
        case UInt8(ascii: "h"): self = equals("host") ? .host : .other
        case UInt8(ascii: "c"):
            self = equals("connection") ? .connection : equals("content-length") ? .contentLength : .other
        case UInt8(ascii: "k"): self = equals("keep-alive") ? .keepAlive : .other
        case UInt8(ascii: "t"):
            self = equals("te") ? .te : equals("trailer") ? .trailer : equals("transfer-encoding") ? .transferEncoding : .other
        case UInt8(ascii: "u"): self = equals("upgrade") ? .upgrade : .other
        case UInt8(ascii: "e"): self = equals("expect") ? .expect : .other
        case UInt8(ascii: "p"):
            self = equals("proxy-connection") ? .proxyConnection : hasPrefix("proxy-") ? .meshLookalike : .other
        case UInt8(ascii: "x"):
            let lookalike = hasPrefix("x-mesh-") || hasPrefix("x-client-cert") || hasPrefix("x-ssl-client")
                || equals("x-forwarded-client-cert") || equals("x-client-verify")
            self = lookalike ? .meshLookalike : .other
        default: self = .other
        }
    }
}
