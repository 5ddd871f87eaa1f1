/// Parses responses a server sends, for the client side of a connection.
///
/// Call order: for each request written, `expect(requestMethod:)` (in request order; a response without an
/// expectation is taken as answering GET); `feed` every read (`.body` events are ranges of the bytes just fed);
/// `finish` when the server closes, which ends a body delimited by the close. Interim 1xx responses come as their own head and end, before the final
/// response to the same request; 101 (an upgrade) is refused. After an error the parser is dead.
public struct HTTPResponseParser: Sendable {
    private var decoder: MessageDecoder<ResponseRole>

    public init(limits: HTTPLimits = HTTPLimits()) {
        decoder = MessageDecoder(role: ResponseRole(), limits: limits)
    }

    public var limits: HTTPLimits { decoder.limits }

    /// Tell the parser the method of the request the next response answers (HEAD responses have no body).
    public mutating func expect(requestMethod: String) {
        decoder.updateRole { $0.methods.append(requestMethod) }
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> [HTTPEvent<HTTPResponseHead>] {
        try decoder.feed(bytes)
    }

    /// `feed`, the events appended to `events` (keep one array and empty it between reads: no allocation per
    /// read). Body ranges refer to `bytes`, as with `feed`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, into events: inout [HTTPEvent<HTTPResponseHead>]) throws(HTTPParseError) {
        try decoder.feed(bytes, into: &events)
    }

    public mutating func feed(_ bytes: [UInt8]) throws(HTTPParseError) -> [HTTPEvent<HTTPResponseHead>] {
        try bytes.withBytes { (buffer) throws(HTTPParseError) in try decoder.feed(buffer) }
    }

    /// The connection closed: ends a read-until-close body (returns .end) or throws if a message was cut short.
    public mutating func finish() throws(HTTPParseError) -> [HTTPEvent<HTTPResponseHead>] {
        try decoder.finish()
    }

    /// Between responses with nothing buffered.
    public var isIdle: Bool { decoder.isIdle }

    /// For each head the last `feed` completed, in order: where its bytes begin in that feed's input (nil: in an
    /// earlier feed) and the index just past its empty line, so a proxy can re-emit a head and pass the rest on.
    public var headSpans: [(start: Int?, end: Int)] { decoder.headSpans }

    /// Some bytes of a head have arrived, not its end.
    public var inHead: Bool { decoder.inHead }

    /// In a head not yet complete: where it began in the last feed's input (nil: not in a head, or earlier).
    public var headInProgressStart: Int? { decoder.headInProgressStart }

    /// Reading a body that only the end of the connection delimits: this connection cannot be reused.
    public var readsUntilClose: Bool { decoder.readsUntilClose }
}

/// Status lines and response framing; remembers which request methods are waiting for answers.
struct ResponseRole: MessageRole {
    var methods: [String] = []
    private var version = HTTPVersion.http11
    private var status = 0
    private var reason = ""

    mutating func startLine(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) {
        (version, status, reason) = try HeadSyntax.statusLine(line)
    }

    mutating func finishHead(headers: HTTPHeaders, limits: HTTPLimits) throws(HTTPParseError) -> (HTTPResponseHead, BodyFraming) {
        let head = HTTPResponseHead(status: status, reason: reason, version: version, headers: headers)
        if status == 101 { throw .switchingProtocols }
        let interim = status < 200
        let method = methods.first ?? "GET"
        let framing = try Framing.response(head, requestMethod: method, limits: limits)
        if !interim && !methods.isEmpty { methods.removeFirst() }
        return (head, framing)
    }
}
