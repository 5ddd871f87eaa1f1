import MeshHTTP1
import MeshCore
import Testing


/// How bytes reach a parser.
enum Split: Sendable, CustomStringConvertible {
    case whole
    case bytewise
    case random(seed: UInt64)

    /// The pieces `bytes` is cut into.
    func pieces(_ bytes: [UInt8]) -> [[UInt8]] {
        switch self {
        case .whole:
            return [bytes]
        case .bytewise:
            return bytes.map { [$0] }
        case .random(let seed):
            var rng = SplitMix64(seed: seed)
            var pieces: [[UInt8]] = []
            var i = 0
            while i < bytes.count {
                let n = Int.random(in: 0...min(17, bytes.count - i), using: &rng)  // empty feeds included
                pieces.append(Array(bytes[i..<(i + n)]))
                i += n
            }
            return pieces
        }
    }

    var description: String {
        switch self {
        case .whole: "whole"
        case .bytewise: "bytewise"
        case .random(let seed): "random(\(seed))"
        }
    }

    /// The splits every table input goes through.
    static let all: [Split] = [.whole, .bytewise, .random(seed: 1), .random(seed: 2), .random(seed: 0xC0FFEE)]
}

/// A parser event with its body bytes copied out of the buffer they were fed in (what tests compare).
enum Event<Head: Sendable & Equatable>: Equatable, Sendable {
    case head(Head)
    case body([UInt8])
    case end

    var head: Head? {
        if case .head(let h) = self { return h }
        return nil
    }
}

/// `events` with their body ranges resolved against `input`, the bytes of the feed that returned them. A range
/// outside `input`, or an empty one, is a parser bug.
func materialized<Head>(_ events: [HTTPEvent<Head>], from input: [UInt8],
                        sourceLocation: SourceLocation = #_sourceLocation) -> [Event<Head>] {
    events.map { event in
        switch event {
        case .head(let h): return .head(h)
        case .end: return .end
        case .body(let range):
            guard range.lowerBound >= 0 && range.upperBound <= input.count else {
                Issue.record("body range \(range) outside a feed of \(input.count) bytes", sourceLocation: sourceLocation)
                return .body([])
            }
            return .body(Array(input[range]))
        }
    }
}

/// Everything a parser said about some bytes: the events (adjacent body pieces merged) or the error.
enum Outcome<Head: Sendable & Equatable>: Equatable, CustomStringConvertible {
    case events([Event<Head>])
    case error(HTTPParseError)

    var error: HTTPParseError? {
        if case .error(let e) = self { return e }
        return nil
    }

    var events: [Event<Head>] {
        if case .events(let e) = self { return e }
        return []
    }

    var description: String {
        switch self {
        case .events(let e): "events \(e)"
        case .error(let e): "error \(e)"
        }
    }
}

/// Merges adjacent `.body` events, so outcomes of different splits compare equal.
func merged<Head>(_ events: [Event<Head>]) -> [Event<Head>] {
    var out: [Event<Head>] = []
    for event in events {
        if case .body(let more) = event, case .body(let some)? = out.last {
            out[out.count - 1] = .body(some + more)
        } else if case .body(let b) = event, b.isEmpty {
            Issue.record("parser emitted an empty body event")
        } else {
            out.append(event)
        }
    }
    return out
}

/// Both parsers, for `parse`: every form of `feed` they offer.
protocol FeedableParser {
    associatedtype Head: Sendable & Equatable
    mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> [HTTPEvent<Head>]
    mutating func feed(_ bytes: [UInt8]) throws(HTTPParseError) -> [HTTPEvent<Head>]
    mutating func feed(_ bytes: UnsafeRawBufferPointer, into events: inout [HTTPEvent<Head>]) throws(HTTPParseError)
    mutating func finish() throws(HTTPParseError) -> [HTTPEvent<Head>]
}

extension HTTPRequestParser: FeedableParser {}
extension HTTPResponseParser: FeedableParser {}

/// Feeds `bytes` cut by `split`, the pieces through each form of `feed` in turn: the array entry point, the
/// raw-buffer one, and `feed(_:into:)` with one array emptied between feeds (as the sidecar does).
func parse<P: FeedableParser>(_ parser: inout P, _ bytes: [UInt8], split: Split, finish: Bool) -> Outcome<P.Head> {
    var events: [Event<P.Head>] = []
    var kept: [HTTPEvent<P.Head>] = []
    do throws(HTTPParseError) {
        for (n, piece) in split.pieces(bytes).enumerated() {
            if n % 3 == 2 {
                kept.removeAll(keepingCapacity: true)
                let result = piece.withUnsafeBytes { buffer in
                    Result { () throws(HTTPParseError) in try parser.feed(buffer, into: &kept) }
                }
                try result.get()
                events += materialized(kept, from: piece)
            } else if n % 2 == 1 {
                let result = piece.withUnsafeBytes { buffer in
                    Result { () throws(HTTPParseError) in try parser.feed(buffer) }
                }
                events += materialized(try result.get(), from: piece)
            } else {
                events += materialized(try parser.feed(piece), from: piece)
            }
        }
        if finish { events += materialized(try parser.finish(), from: []) }
    } catch {
        return .error(error)
    }
    return .events(merged(events))
}

/// Feeds `bytes` to a request parser cut by `split`.
func parseRequest(_ bytes: [UInt8], limits: HTTPLimits = HTTPLimits(), split: Split = .whole,
                  finish: Bool = false) -> Outcome<HTTPRequestHead> {
    var parser = HTTPRequestParser(limits: limits)
    return parse(&parser, bytes, split: split, finish: finish)
}

/// Feeds `bytes` to a response parser that expects answers to `methods`, cut by `split`.
func parseResponse(_ bytes: [UInt8], methods: [String] = [], limits: HTTPLimits = HTTPLimits(), split: Split = .whole,
                   finish: Bool = false) -> Outcome<HTTPResponseHead> {
    var parser = HTTPResponseParser(limits: limits)
    for method in methods { parser.expect(requestMethod: method) }
    return parse(&parser, bytes, split: split, finish: finish)
}

/// The request outcome, after checking that every split gives the same one.
func requestOutcome(_ text: String, limits: HTTPLimits = HTTPLimits(), finish: Bool = false,
                    sourceLocation: SourceLocation = #_sourceLocation) -> Outcome<HTTPRequestHead> {
    requestOutcome(Array(text.utf8), limits: limits, finish: finish, sourceLocation: sourceLocation)
}

func requestOutcome(_ bytes: [UInt8], limits: HTTPLimits = HTTPLimits(), finish: Bool = false,
                    sourceLocation: SourceLocation = #_sourceLocation) -> Outcome<HTTPRequestHead> {
    let whole = parseRequest(bytes, limits: limits, split: .whole, finish: finish)
    for split in Split.all.dropFirst() {
        let other = parseRequest(bytes, limits: limits, split: split, finish: finish)
        #expect(other == whole, "split \(split) differs", sourceLocation: sourceLocation)
    }
    return whole
}

/// The response outcome, after checking that every split gives the same one.
func responseOutcome(_ text: String, methods: [String] = [], limits: HTTPLimits = HTTPLimits(), finish: Bool = false,
                     sourceLocation: SourceLocation = #_sourceLocation) -> Outcome<HTTPResponseHead> {
    responseOutcome(Array(text.utf8), methods: methods, limits: limits, finish: finish, sourceLocation: sourceLocation)
}

func responseOutcome(_ bytes: [UInt8], methods: [String] = [], limits: HTTPLimits = HTTPLimits(), finish: Bool = false,
                     sourceLocation: SourceLocation = #_sourceLocation) -> Outcome<HTTPResponseHead> {
    let whole = parseResponse(bytes, methods: methods, limits: limits, split: .whole, finish: finish)
    for split in Split.all.dropFirst() {
        let other = parseResponse(bytes, methods: methods, limits: limits, split: split, finish: finish)
        #expect(other == whole, "split \(split) differs", sourceLocation: sourceLocation)
    }
    return whole
}

/// A table row: input that must be refused with `status` and `code`.
struct Rejection: Sendable, CustomTestStringConvertible {
    let label: String
    let input: String
    let status: Int
    let code: String
    var limits = HTTPLimits()

    init(_ label: String, _ input: String, _ status: Int, _ code: String, limits: HTTPLimits = HTTPLimits()) {
        self.label = label
        self.input = input
        self.status = status
        self.code = code
        self.limits = limits
    }

    var testDescription: String { label }
}

/// Asserts that every split of a request refuses it with the row's status and code.
func expectRequestRejected(_ row: Rejection, sourceLocation: SourceLocation = #_sourceLocation) {
    let outcome = requestOutcome(row.input, limits: row.limits, sourceLocation: sourceLocation)
    guard let error = outcome.error else {
        Issue.record("\(row.label): expected \(row.code), got \(outcome)", sourceLocation: sourceLocation)
        return
    }
    #expect(error.code == row.code, "\(row.label): \(error)", sourceLocation: sourceLocation)
    #expect(error.status == row.status, "\(row.label): \(error)", sourceLocation: sourceLocation)
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}

/// Limits small enough to reach in a test.
func smallLimits(headerBytes: Int = 32_768, headerCount: Int = 100, bodyBytes: Int = 1_048_576,
                 chunkLine: Int = 4_096) -> HTTPLimits {
    var limits = HTTPLimits()
    limits.maxHeaderBytes = headerBytes
    limits.maxHeaderCount = headerCount
    limits.maxBodyBytes = bodyBytes
    limits.maxChunkLineBytes = chunkLine
    return limits
}
