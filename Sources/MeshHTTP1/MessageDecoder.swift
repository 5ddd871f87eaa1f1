/// What differs between parsing requests and responses: the start line, and how a finished head is framed.
protocol MessageRole: Sendable {
    associatedtype Head: Sendable & Equatable
    /// The first non-empty line of a head.
    mutating func startLine(_ line: UnsafeRawBufferPointer) throws(HTTPParseError)
    /// The head is complete: build it and say how its body is delimited.
    mutating func finishHead(headers: HTTPHeaders, limits: HTTPLimits) throws(HTTPParseError) -> (Head, BodyFraming)
}

/// Room for this many fields, and for this many bytes of them, is made at a head's first field (most heads have
/// fewer): one allocation each per head instead of one per doubling.
private let fieldsReserved = 12
private let fieldBytesReserved = 512

/// The incremental message parser both public parsers wrap: bytes in, events out, pipelined messages one after
/// another. Call order: `feed` any number of times (any split of the bytes gives the same events, body pieces
/// aside, and the same error), then optionally `finish` when the connection closes. After an error every call
/// throws that error again.
///
/// Heads are read line by line through `LineReader` (no byte is copied unless a line spans feeds); body bytes
/// are reported as ranges of the input, never copied.
struct MessageDecoder<Role: MessageRole>: Sendable {
    private enum State: Sendable {
        case head
        case fixed(remaining: Int)
        case chunked
        case untilClose(received: Int)
        case failed(HTTPParseError)
        case closed
    }

    private(set) var role: Role
    let limits: HTTPLimits
    private var state = State.head
    private var reader = LineReader()
    private var chunks = ChunkedDecoder()
    private var headers = HTTPHeaders()
    private var sawStartLine = false
    /// Some byte of the current head has arrived (leading empty lines included).
    private var headStarted = false
    /// Where the head in progress began in the input of the current `feed` (nil: in an earlier one).
    private var headStartInFeed: Int?
    /// For each head completed by the last `feed`, in order: where its bytes begin in that input (nil: in an
    /// earlier feed) and the index just past its empty line.
    private(set) var headSpans: [(start: Int?, end: Int)] = []

    init(role: Role, limits: HTTPLimits) {
        self.role = role
        self.limits = limits
        reader.startSection(.head, bytes: limits.maxHeaderBytes)
    }

    var isIdle: Bool {
        if case .head = state { return !headStarted }
        return false
    }

    /// In a head that began in the last `feed`: where (nil: not in a head, or it began earlier).
    var headInProgressStart: Int? { inHead ? headStartInFeed : nil }

    var inHead: Bool {
        if case .head = state { return headStarted }
        return false
    }

    var readsUntilClose: Bool {
        if case .untilClose = state { return true }
        return false
    }

    /// The role, for changes between messages (the response parser queues request methods there).
    mutating func updateRole(_ change: (inout Role) -> Void) { change(&role) }

    mutating func feed(_ input: UnsafeRawBufferPointer) throws(HTTPParseError) -> [HTTPEvent<Role.Head>] {
        var events: [HTTPEvent<Role.Head>] = []
        events.reserveCapacity(4)  // head, body, end (and the next): one allocation, not one per doubling
        try feed(input, into: &events)
        return events
    }

    /// The same, the events appended to `events` (a caller that keeps one array per connection and empties it
    /// between feeds allocates none per read).
    mutating func feed(_ input: UnsafeRawBufferPointer, into events: inout [HTTPEvent<Role.Head>]) throws(HTTPParseError) {
        switch state {
        case .failed(let error): throw error
        case .closed: if input.isEmpty { return } else { try fail(.closed) }
        default: break
        }
        if !headSpans.isEmpty { headSpans.removeAll(keepingCapacity: true) }
        headStartInFeed = nil
        do {
            try run(input, into: &events)
        } catch {
            try fail(error)
        }
    }

    /// The connection closed. A body read until close ends; a message cut short is an error; between messages
    /// (or after nothing but empty lines) nothing happens.
    mutating func finish() throws(HTTPParseError) -> [HTTPEvent<Role.Head>] {
        switch state {
        case .failed(let error):
            throw error
        case .closed:
            return []
        case .head:
            if sawStartLine || reader.hasPartialLine { try fail(.truncated) }
            state = .closed
            return []
        case .untilClose:
            state = .closed
            return [.end]
        case .fixed, .chunked:
            try fail(.truncated)
        }
    }

    private mutating func fail(_ error: HTTPParseError) throws(HTTPParseError) -> Never {
        state = .failed(error)
        throw error
    }

    private mutating func run(_ input: UnsafeRawBufferPointer, into events: inout [HTTPEvent<Role.Head>]) throws(HTTPParseError) {
        var i = 0
        while i < input.count {
            switch state {
            case .head:
                i = try readHead(input, from: i, into: &events)
            case .fixed(let remaining):
                let n = min(remaining, input.count - i)
                events.append(.body(i..<(i + n)))
                i += n
                if n == remaining {
                    events.append(.end)
                    startNextMessage()
                } else {
                    state = .fixed(remaining: remaining - n)
                }
            case .chunked:
                let (next, done) = try chunks.decode(input, from: i, into: &events)
                i = next
                if done {
                    events.append(.end)
                    startNextMessage()
                }
            case .untilClose(let received):
                let n = input.count - i
                guard n <= limits.maxBodyBytes - received else { throw .bodyTooLarge(limits.maxBodyBytes) }
                events.append(.body(i..<input.count))
                i = input.count
                state = .untilClose(received: received + n)
            case .failed, .closed:
                return
            }
        }
    }

    private mutating func startNextMessage() {
        state = .head
        headStarted = false
        sawStartLine = false
        headers = HTTPHeaders()
        reader.startSection(.head, bytes: limits.maxHeaderBytes)
    }

    /// Reads head lines from `start`; returns the index after the last byte used (just past the head's empty
    /// line when it completes, after which the state says how to read the body).
    private mutating func readHead(_ input: UnsafeRawBufferPointer, from start: Int,
                                   into events: inout [HTTPEvent<Role.Head>]) throws(HTTPParseError) -> Int {
        var i = start
        while i < input.count {
            if !headStarted { headStartInFeed = i }
            headStarted = true
            guard let (line, next) = try reader.next(input, from: i) else { return input.count }
            i = next
            let complete: Bool
            switch line {
            case .input(let range):
                complete = try headLine(UnsafeRawBufferPointer(rebasing: input[range]))
            case .carried:
                let carried = reader.takeCarriedLine()
                complete = try carried.withBytes { (bytes) throws(HTTPParseError) -> Bool in try headLine(bytes) }
                reader.recycle(carried)
            }
            if complete {
                headSpans.append((headStartInFeed, i))
                headStartInFeed = nil
                try headComplete(into: &events)
                return i
            }
        }
        return i
    }

    /// One line of a head; true at the empty line that ends it. Empty lines before the start line are skipped
    /// (RFC 9112 §2.2), though their bytes count towards `maxHeaderBytes`.
    private mutating func headLine(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) -> Bool {
        guard sawStartLine else {
            if line.isEmpty { return false }
            try role.startLine(line)
            sawStartLine = true
            return false
        }
        if line.isEmpty { return true }
        if headers.count == limits.maxHeaderCount { throw .tooManyHeaders(limits.maxHeaderCount) }
        let colon = try HeadSyntax.fieldColon(line)
        if headers.isEmpty { headers.reserveCapacity(fields: fieldsReserved, bytes: fieldBytesReserved) }
        headers.append(line: line, colon: colon)
        return false
    }

    private mutating func headComplete(into events: inout [HTTPEvent<Role.Head>]) throws(HTTPParseError) {
        let (head, framing) = try role.finishHead(headers: headers, limits: limits)
        events.append(.head(head))
        headers = HTTPHeaders()
        reader.startSection(.head, bytes: limits.maxHeaderBytes)  // lets a large line buffer go during the body
        switch framing {
        case .none:
            events.append(.end)
            startNextMessage()
        case .length(let n):
            state = .fixed(remaining: n)
        case .chunked:
            chunks.start(limits: limits)
            state = .chunked
        case .untilClose:
            state = .untilClose(received: 0)
        }
    }
}
