import MeshCore
import MeshHTTP1

/// Limits of the HTTP engine on inbound `http` ports. Heads are capped like the stats endpoint (SECURITY.md §6);
/// bodies stream through and are capped only by `maxRequestBodyBytes`. Memory per connection is bounded by
/// `maxReadAheadBytes` (requests read but not yet sent to the app) plus one read per direction. Between
/// requests (and inside one) the sidecar's `limits.idleTimeoutMs` ends a silent connection, as on `tcp` ports.
public struct InboundHTTPLimits: Sendable, Equatable {
    /// Request line and header fields together, CRLFs included; 431 beyond. Default 32 KiB.
    public var maxHeaderBytes = 32_768
    /// Header lines per request; 431 beyond. Default 100.
    public var maxHeaderCount = 100
    /// A request body (declared Content-Length up front, chunked as it arrives); 413 beyond. Default 64 MiB.
    public var maxRequestBodyBytes = 64 * 1_048_576
    /// Bytes of pipelined requests held while an earlier one is with the app; reading stops beyond. Default 64 KiB.
    public var maxReadAheadBytes = 65_536
    /// From the first byte of a request head to its end: slow heads are answered 408 `http.request-timeout` and
    /// the connection closed (bodies stream and are bounded by the idle timeout only). Default 10 s, as the stats
    /// endpoint.
    public var headTimeoutMs = 10_000
    /// After a refusal that closes the connection: how long unread bytes of the peer are drained (so the close
    /// does not reset away our answer). Default 1 s.
    public var lingerMs = 1_000

    public init() {}

    /// The limits a sidecar config asks for (`http` in the config file).
    public init(_ s: HTTPSettings) {
        maxHeaderBytes = s.maxHeaderBytes
        maxHeaderCount = s.maxHeaderCount
        maxRequestBodyBytes = s.maxRequestBodyBytes
        maxReadAheadBytes = s.maxReadAheadBytes
        headTimeoutMs = s.headTimeoutMs
        lingerMs = s.lingerMs
    }

    public static let `default` = InboundHTTPLimits()

    /// Parser limits for requests from the calling sidecar.
    var requestLimits: HTTPLimits {
        var l = HTTPLimits()
        l.maxHeaderBytes = maxHeaderBytes
        l.maxHeaderCount = maxHeaderCount
        l.maxBodyBytes = maxRequestBodyBytes
        return l
    }

    /// Parser limits for the app's answers: heads as requests, bodies unbounded (they stream through).
    var responseLimits: HTTPLimits {
        var l = HTTPLimits()
        l.maxHeaderBytes = maxHeaderBytes
        l.maxHeaderCount = maxHeaderCount
        l.maxBodyBytes = Int.max / 2
        return l
    }
}
