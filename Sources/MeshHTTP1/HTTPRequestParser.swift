/// Parses requests a client sends: request line, header fields, body, and the next pipelined request.
///
/// Call order: `feed` every read as it arrives; act on the events (a `.head`, then `.body` pieces, then
/// `.end`, per request; a body piece is a range of the bytes just fed, so copy it out before reusing them);
/// call `finish` when the peer closes. A thrown error carries the status to answer before closing; the parser
/// is dead after it (every later call throws it again), and events of earlier pipelined requests in the same
/// feed are not returned.
public struct HTTPRequestParser: Sendable {
    private var decoder: MessageDecoder<RequestRole>

    public init(limits: HTTPLimits = HTTPLimits()) {
        decoder = MessageDecoder(role: RequestRole(), limits: limits)
    }

    public var limits: HTTPLimits { decoder.limits }

    /// Feeds bytes; returns every event completed by them, in order. Handles pipelined requests (bytes after
    /// one request's end start the next). After an error the parser is dead (every further feed throws the
    /// same error).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> [HTTPEvent<HTTPRequestHead>] {
        try decoder.feed(bytes)
    }

    /// `feed`, the events appended to `events` (keep one array and empty it between reads: no allocation per
    /// read). Body ranges refer to `bytes`, as with `feed`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, into events: inout [HTTPEvent<HTTPRequestHead>]) throws(HTTPParseError) {
        try decoder.feed(bytes, into: &events)
    }

    public mutating func feed(_ bytes: [UInt8]) throws(HTTPParseError) -> [HTTPEvent<HTTPRequestHead>] {
        try bytes.withBytes { (buffer) throws(HTTPParseError) in try decoder.feed(buffer) }
    }

    /// The connection closed: nothing happens between requests; a request cut short throws `http.truncated`.
    public mutating func finish() throws(HTTPParseError) -> [HTTPEvent<HTTPRequestHead>] {
        try decoder.finish()
    }

    /// Between requests with nothing buffered.
    public var isIdle: Bool { decoder.isIdle }

    /// Some bytes of a head received, head not complete (for reaping slow headers).
    public var inHead: Bool { decoder.inHead }
}

/// Request lines and request framing.
struct RequestRole: MessageRole {
    private var method = ""
    private var target = ""
    private var version = HTTPVersion.http11

    mutating func startLine(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) {
        (method, target, version) = try HeadSyntax.requestLine(line)
    }

    mutating func finishHead(headers: HTTPHeaders, limits: HTTPLimits) throws(HTTPParseError) -> (HTTPRequestHead, BodyFraming) {
        let head = HTTPRequestHead(method: method, target: target, version: version, headers: headers)
        return (head, try Framing.request(head, limits: limits))
    }
}
