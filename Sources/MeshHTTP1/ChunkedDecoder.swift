/// Decodes a chunked body (RFC 9112 §7.1) incrementally:
/// `chunk-size [; ext] CRLF data CRLF ... 0 [; ext] CRLF *(trailer CRLF) CRLF`.
/// - chunk-size: 1 to 16 hex digits (413 beyond, or when the value overflows); the running total is held to
///   `maxBodyBytes` as each size is declared (413), before its data is read.
/// - extensions: tolerated after optional whitespace and `;`, not interpreted, bounded with the size and CRLF
///   by `maxChunkLineBytes`.
/// - data must be followed by exactly CRLF.
/// - trailers: header lines with their own `maxHeaderBytes` / `maxHeaderCount` budget; checked, then dropped
///   (never merged into the head: a proxy that forwards them is a smuggling vector).
struct ChunkedDecoder: Sendable {
    private enum State: Equatable {
        case sizeLine
        case data(remaining: Int)
        case dataCR
        case dataLF
        case trailers
    }

    private var state = State.sizeLine
    private var reader = LineReader()
    private var limits = HTTPLimits()
    /// Body bytes declared so far in this message.
    private var declared = 0
    private var trailerCount = 0

    /// Starts a new chunked body.
    mutating func start(limits: HTTPLimits) {
        self.limits = limits
        declared = 0
        trailerCount = 0
        startSizeLine()
    }

    private mutating func startSizeLine() {
        state = .sizeLine
        reader.startSection(.chunkLine, bytes: limits.maxChunkLineBytes)
    }

    /// Consumes `input` from `start`, appending body pieces (ranges of `input`) to `events`. Returns the index after the last byte
    /// used and whether the body (trailers included) is complete; bytes after a complete body are not touched.
    mutating func decode<Head>(_ input: UnsafeRawBufferPointer, from start: Int,
                               into events: inout [HTTPEvent<Head>]) throws(HTTPParseError) -> (next: Int, done: Bool) {
        var i = start
        while i < input.count {
            switch state {
            case .sizeLine, .trailers:
                guard let (line, next) = try reader.next(input, from: i) else { return (input.count, false) }
                i = next
                let done: Bool
                switch line {
                case .input(let range):
                    done = try lineComplete(UnsafeRawBufferPointer(rebasing: input[range]))
                case .carried:
                    let carried = reader.takeCarriedLine()
                    done = try carried.withBytes { (bytes) throws(HTTPParseError) -> Bool in try lineComplete(bytes) }
                    reader.recycle(carried)
                }
                if done {
                    reader.startSection(.chunkLine, bytes: 0)  // lets a large trailer buffer go
                    return (i, true)
                }
            case .data(let remaining):
                let n = min(remaining, input.count - i)
                events.append(.body(i..<(i + n)))
                i += n
                state = n == remaining ? .dataCR : .data(remaining: remaining - n)
            case .dataCR:
                guard input[i] == ASCII.cr else { throw .badChunkFraming }
                i += 1
                state = .dataLF
            case .dataLF:
                guard input[i] == ASCII.lf else { throw .badChunkFraming }
                i += 1
                startSizeLine()
            }
        }
        return (i, false)
    }

    /// Handles a complete size line or trailer line; true when the body is complete.
    private mutating func lineComplete(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) -> Bool {
        if state == .trailers {
            if line.isEmpty { return true }
            trailerCount += 1
            if trailerCount > limits.maxHeaderCount { throw .tooManyTrailers(limits.maxHeaderCount) }
            _ = try HeadSyntax.fieldColon(line)
            return false
        }
        let size = try Self.chunkSize(line)
        guard size <= limits.maxBodyBytes - declared else { throw .bodyTooLarge(limits.maxBodyBytes) }
        declared += size
        if size == 0 {
            state = .trailers
            reader.startSection(.trailers, bytes: limits.maxHeaderBytes)
        } else {
            state = .data(remaining: size)
        }
        return false
    }

    /// `1*16HEXDIG [BWS ";" anything]`.
    static func chunkSize(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) -> Int {
        var size = 0, digits = 0
        while digits < line.count, let h = ASCII.hexValue(line[digits]) {
            digits += 1
            if digits > 16 { throw .chunkSizeOverflow }
            let (shifted, overflow) = size.multipliedReportingOverflow(by: 16)
            if overflow { throw .chunkSizeOverflow }
            size = shifted | h
        }
        guard digits > 0 else { throw .badChunkSize }
        var j = digits
        while j < line.count, ASCII.isWhitespace(line[j]) { j += 1 }
        if j == digits && j == line.count { return size }
        guard j < line.count, line[j] == ASCII.semicolon else { throw .badChunkSize }
        return size
    }
}
