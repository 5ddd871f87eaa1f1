import MeshCore
import MeshHTTP1
import MeshNet

/// The state of one inbound connection on an `http` port, between the calling sidecar (`down`, mTLS) and the
/// app (`up`). Requests are parsed strictly and queued (bounded by `maxReadAheadBytes`); one at a time is
/// decided and, if allowed, sent to the app re-framed with a sanitized head; the next is decided only once the
/// app's final answer to the previous one has ended, so our refusals and the app's answers stay in order.
/// Answers from the app are passed on byte for byte, parsed only to find where each ends, except the head of a
/// final answer that carries `Connection` (hop-by-hop, RFC 9110 §7.6.1) on a hop we keep: it is re-emitted
/// without it. When the app closes after a delimited answer (or says `Connection: close`) and the caller's
/// request was keep-alive, the app connection is retired and the next forwarded request dials the app again.
final class InboundHTTP {
    /// A parser event with its body bytes copied out of the loop's scratch buffer.
    enum Item {
        case head(HTTPRequestHead)
        case body([UInt8])
        case end
        /// The parser refused what followed (its 400/413/431/501/505 is the answer, then the connection closes).
        case error(HTTPParseError)
        /// The peer sent its end of stream between requests.
        case eof
    }

    enum Stage: Equatable {
        /// Waiting for the next request at the front of the queue.
        case idle
        /// The current request's body is going to the app.
        case forwarding
        /// A refused request's body is read and dropped (then the next request is decided).
        case skipping
        /// The request was sent; waiting for the end of the app's final answer.
        case awaiting
        /// Our last answer is being flushed; then the connection ends (after draining the peer briefly).
        case closing
    }

    /// One request from the moment it is decided until its answer ends.
    struct Exchange {
        let method: String
        let requestID: String
        let route: String?
        let startNs: Int64
        let framing: RequestBodyFraming
        /// Forwarded with `Upgrade`: a 101 from the app turns the connection into a tunnel.
        let upgrade: Bool
        /// The request allows another one after it.
        let keepAlive: Bool
        /// `Expect: 100-continue` with a body: if we answer it ourselves, its body may never come (then we close).
        let bodyMayNotCome: Bool
        var status = 0
        var responseKeepAlive = true
        /// The final answer's end is not the app's close (a length, chunked, or no body).
        var delimited = true
    }

    let limits: InboundHTTPLimits
    var requests: HTTPRequestParser
    var responses: HTTPResponseParser
    /// What the last read of each side parsed to, emptied before the next (kept: no array per read).
    var requestEvents: [HTTPEvent<HTTPRequestHead>] = []
    var responseEvents: [HTTPEvent<HTTPResponseHead>] = []
    private(set) var queue: [Item] = []
    private var queueStart = 0
    private(set) var queuedBytes = 0
    var stage = Stage.idle
    var current: Exchange?
    /// Bytes for the app and for the peer, `buffer[start...]` still to write.
    var toApp: [UInt8] = []
    var toAppStart = 0
    var toDown: [UInt8] = []
    var toDownStart = 0
    /// No more reads from the peer are parsed (a parse error, a closing refusal, its end of stream).
    var stopReading = false
    /// An upgrade request is with the app: nothing more is read until its answer (a tunnel may follow).
    var pausedForUpgrade = false
    /// The app connection took its last request (the app closed, or said `Connection: close`) and is closed;
    /// the next forwarded request dials the app again (`redialApp`). The phase's `up` is not touched meanwhile.
    var appSpent = false
    /// The start of an answer's head that has not ended yet (at most the response head limit): held back so a
    /// head with `Connection` can be re-emitted whole.
    var heldHead: [UInt8] = []
    /// Armed while a request head is arriving (`headTimeoutMs`).
    var headTimer: TimerID?
    /// Our end of stream went to the peer; its bytes are read and dropped until it closes or the linger ends.
    var lingering = false

    /// A read may find bytes: set by readiness, cleared when a read comes back short or would block, so a
    /// request costs no read that can only say "nothing" (TLS-buffered bytes are checked separately).
    /// `peerText`'s cache.
    private var peerDescription: String?
    var peerReadable = true
    var appReadable = false

    /// Readiness of the peer's socket (`peer`) or the app's.
    func noteReady(_ peer: Bool, _ r: Readiness) {
        guard r.readable || r.writable else { return }
        if peer { peerReadable = true } else { appReadable = true }
    }

    /// Bytes written towards one side before we stop producing more for it (then reading the source pauses).
    static let outputHighWater = 65_536

    init(limits: InboundHTTPLimits) {
        self.limits = limits
        requests = HTTPRequestParser(limits: limits.requestLimits)
        responses = HTTPResponseParser(limits: limits.responseLimits)
    }

    var front: Item? { queueStart < queue.count ? queue[queueStart] : nil }
    var queueIsEmpty: Bool { queueStart == queue.count }

    func push(_ item: Item) {
        queue.append(item)
        queuedBytes += Self.weight(item)
    }

    /// What a queued item holds, for the read-ahead bound (a head: its target and fields, about as received).
    static func weight(_ item: Item) -> Int {
        switch item {
        case .head(let h): h.headers.reduce(h.method.utf8.count + h.target.utf8.count + 12) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
        case .body(let b): b.count
        case .end, .error, .eof: 0
        }
    }

    func pop() {
        queuedBytes -= Self.weight(queue[queueStart])
        queueStart += 1
        if queueStart == queue.count {
            queue.removeAll(keepingCapacity: true)
            queueStart = 0
            queuedBytes = 0
        }
    }

    func dropQueue() {
        queue.removeAll()
        queueStart = 0
        queuedBytes = 0
    }

    var pendingToApp: Int { toApp.count - toAppStart }
    var pendingToDown: Int { toDown.count - toDownStart }

    /// May the peer be read now (more requests parsed)?
    var wantsPeerBytes: Bool {
        !stopReading && !pausedForUpgrade && queuedBytes < limits.maxReadAheadBytes
    }

    /// Appends the body bytes of the current request for the app in its (re-)framing.
    func appendBody(_ b: [UInt8], framing: RequestBodyFraming) {
        if framing == .chunked {
            toApp.append(contentsOf: String(b.count, radix: 16).utf8)
            toApp.append(13); toApp.append(10)
            toApp.append(contentsOf: b)
            toApp.append(13); toApp.append(10)
        } else {
            toApp.append(contentsOf: b)
        }
    }

    /// The last chunk (no trailers: they are dropped, like hop-by-hop fields).
    func appendBodyEnd(framing: RequestBodyFraming) {
        if framing == .chunked { toApp.append(contentsOf: [0x30, 13, 10, 13, 10]) }
    }

    /// True when `Connection` names `upgrade` and an `Upgrade` field is present.
    static func asksUpgrade(_ head: HTTPRequestHead) -> Bool {
        head.headers.contains(.upgrade) && HeaderSanitizer.connectionTokens(head.headers).contains("upgrade")
    }

    /// The head for the peer in place of an app head with `Connection`: `HTTP/1.1 status reason`, the app's fields
    /// in order minus `Connection`, `Keep-Alive` and the fields `Connection` names (never the framing fields).
    /// Appended to `out` (the queue toward the peer).
    /// `Connection` tokens that need no lookup: the fields they name are dropped or kept whatever they say.
    private static func notNamed(_ kind: HTTPFieldKind) -> Bool {
        kind == .connection || kind == .keepAlive || kind == .contentLength || kind == .transferEncoding
    }

    static func writeResponseHead(_ r: HTTPResponseHead, into out: inout [UInt8]) {
        let named = r.headers.contains(.connection) ? ConnectionTokens.of(r.headers, skipping: notNamed) : []
        out.reserveCapacity(out.count + 64 + r.headers.count * 48)
        out.appendUTF8("HTTP/1.1 ")
        let status = r.status  // 100...599: the parser refused anything else
        out.append(0x30 + UInt8(status / 100)); out.append(0x30 + UInt8(status / 10 % 10)); out.append(0x30 + UInt8(status % 10))
        out.append(0x20); out.appendUTF8(r.reason); out.append(13); out.append(10)
        let headers = r.headers
        headers.forEachLine(where: { i in
            switch headers.kind(at: i) {
            case .contentLength, .transferEncoding: true  // framing: kept (the hop re-frames what it carries)
            case .connection, .keepAlive: false
            default: !named.contains { headers.name(at: i, equalsLowercase: $0) }
            }
        }) { out.append(contentsOf: $0) }
        out.append(13); out.append(10)
    }

    /// The caller's SPIFFE ID as text, made once per connection (it is verified at the handshake and never
    /// changes), for `x-mesh-peer-identity` on every request.
    func peerText(_ peer: SPIFFEID) -> String {
        if let t = peerDescription { return t }
        let t = peer.description
        peerDescription = t
        return t
    }

    /// `Expect: 100-continue`: the caller may wait for our go-ahead before it sends the body.
    static func expectsContinue(_ head: HTTPRequestHead) -> Bool {
        head.headers.values("Expect").contains { $0.lowercased() == "100-continue" }
    }
}
