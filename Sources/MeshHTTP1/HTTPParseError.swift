/// MeshHTTP1 owns the HTTP/1.1 wire format: strict incremental parsers for requests and responses (heads,
/// fixed-length, chunked and read-until-close bodies, pipelining) and a serializer. It is pure: bytes in,
/// events or bytes out; no I/O, no clock, no Foundation. Framing is strict on purpose (RFC 9112 plus the
/// request-smuggling lessons of the proxies that came before us): anything ambiguous is refused with a status
/// to answer and a stable code to count.

/// Why a message was refused: the status to answer with, a stable code to count and log, and a human reason.
/// Compare errors on `code` (and `status`); the reason may be reworded.
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The status to answer with: 400, 413, 431, 501 or 505.
    public let status: Int
    /// Stable identifier such as `http.cl-and-te`. Never reworded.
    public let code: String
    /// What failed and where, for a person.
    public let reason: String

    public init(status: Int, code: String, reason: String) {
        self.status = status
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(status) \(code): \(reason)" }
}

/// The catalogue of errors, one constructor per stable code.
extension HTTPParseError {
    // Line discipline and characters (anywhere in a head, a chunk line or trailers).
    static func bareLF(_ at: String) -> Self { .init(status: 400, code: "http.bare-lf", reason: "LF without CR in \(at)") }
    static func bareCR(_ at: String) -> Self { .init(status: 400, code: "http.bare-cr", reason: "CR not followed by LF in \(at)") }
    static func nul(_ at: String) -> Self { .init(status: 400, code: "http.nul", reason: "NUL byte in \(at)") }
    static func controlChar(_ byte: UInt8, _ at: String) -> Self {
        .init(status: 400, code: "http.control-char", reason: "control character 0x\(String(byte, radix: 16)) in \(at)")
    }

    // Start lines.
    static func badRequestLine(_ why: String) -> Self { .init(status: 400, code: "http.bad-request-line", reason: why) }
    static let badMethod = Self(status: 400, code: "http.bad-method", reason: "method is not a token")
    static func badTarget(_ why: String) -> Self { .init(status: 400, code: "http.bad-target", reason: why) }
    static let badVersion = Self(status: 400, code: "http.bad-version", reason: "not an HTTP version")
    static func versionNotSupported(_ v: String) -> Self {
        .init(status: 505, code: "http.version-not-supported", reason: "\(v) is not supported (HTTP/1.0 and HTTP/1.1 are)")
    }
    static func badStatusLine(_ why: String) -> Self { .init(status: 400, code: "http.bad-status-line", reason: why) }
    static let switchingProtocols = Self(status: 400, code: "http.switching-protocols",
                                         reason: "101 Switching Protocols: upgrades are not supported")

    // Header lines.
    static let obsFold = Self(status: 400, code: "http.obs-fold", reason: "header line starts with whitespace (obsolete line folding)")
    static let missingColon = Self(status: 400, code: "http.missing-colon", reason: "header line without ':'")
    static let badHeaderName = Self(status: 400, code: "http.bad-header-name", reason: "header name is not a token")
    static let spaceBeforeColon = Self(status: 400, code: "http.space-before-colon", reason: "whitespace between header name and ':'")

    // Sizes of heads and trailers.
    static func headerTooLarge(_ limit: Int) -> Self {
        .init(status: 431, code: "http.header-too-large", reason: "head larger than \(limit) bytes")
    }
    static func tooManyHeaders(_ limit: Int) -> Self {
        .init(status: 431, code: "http.too-many-headers", reason: "more than \(limit) header lines")
    }
    static func trailersTooLarge(_ limit: Int) -> Self {
        .init(status: 431, code: "http.trailers-too-large", reason: "trailer section larger than \(limit) bytes")
    }
    static func tooManyTrailers(_ limit: Int) -> Self {
        .init(status: 431, code: "http.too-many-trailers", reason: "more than \(limit) trailer lines")
    }

    // Message framing.
    static let clAndTE = Self(status: 400, code: "http.cl-and-te", reason: "both Content-Length and Transfer-Encoding")
    static let duplicateContentLength = Self(status: 400, code: "http.duplicate-content-length", reason: "more than one Content-Length")
    static let badContentLength = Self(status: 400, code: "http.bad-content-length", reason: "Content-Length is not 1*DIGIT")
    static let contentLengthOverflow = Self(status: 400, code: "http.content-length-overflow", reason: "Content-Length overflows")
    static let duplicateTransferEncoding = Self(status: 400, code: "http.duplicate-transfer-encoding",
                                                reason: "more than one Transfer-Encoding header")
    static let transferEncodingInHTTP10 = Self(status: 400, code: "http.te-in-http10",
                                               reason: "Transfer-Encoding in an HTTP/1.0 message")
    static let unsupportedTransferEncoding = Self(status: 501, code: "http.unsupported-transfer-encoding",
                                                  reason: "Transfer-Encoding other than exactly 'chunked'")
    static func bodyTooLarge(_ limit: Int) -> Self {
        .init(status: 413, code: "http.body-too-large", reason: "body larger than \(limit) bytes")
    }

    // Host (requests).
    static let missingHost = Self(status: 400, code: "http.missing-host", reason: "HTTP/1.1 request without Host")
    static let duplicateHost = Self(status: 400, code: "http.duplicate-host", reason: "more than one Host")
    static let badHost = Self(status: 400, code: "http.bad-host", reason: "Host has characters outside host[:port]")

    // Chunked bodies.
    static let badChunkSize = Self(status: 400, code: "http.bad-chunk-size", reason: "chunk-size is not 1*HEXDIG [; extensions]")
    static let chunkSizeOverflow = Self(status: 413, code: "http.chunk-size-overflow",
                                        reason: "chunk-size longer than 16 hex digits or overflows")
    static func chunkLineTooLong(_ limit: Int) -> Self {
        .init(status: 400, code: "http.chunk-line-too-long", reason: "chunk-size line (with extensions) longer than \(limit) bytes")
    }
    static let badChunkFraming = Self(status: 400, code: "http.bad-chunk-framing", reason: "chunk data not followed by CRLF")

    // Connection state.
    static let truncated = Self(status: 400, code: "http.truncated", reason: "connection closed in the middle of a message")
    static let closed = Self(status: 400, code: "http.closed", reason: "bytes fed after finish()")
}
