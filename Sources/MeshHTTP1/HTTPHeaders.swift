/// Header fields in the order received, names spelled as received. Lookups ignore ASCII case; equality does
/// not (two heads are equal when their bytes would be).
///
/// The fields live in one byte buffer in wire form, `name: value CRLF` each (the value without surrounding
/// whitespace), with the name's kind recognised once: a parsed head costs two arrays, not a `String` per name
/// and value, and a proxy forwards a field by copying its line (`forEachLine`). `String`s are made only when
/// asked for (`self[name]`, iteration, `all`).
public struct HTTPHeaders: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public typealias Element = (name: String, value: String)

    /// Where one field is in `bytes`: name `start..<colon`, value `colon + 2..<valueEnd`, line through the CRLF
    /// after `valueEnd`.
    struct Slot: Sendable {
        var start: UInt32
        var colon: UInt32
        var valueEnd: UInt32
        var kind: HTTPFieldKind

        var name: Range<Int> { Int(start)..<Int(colon) }
        var value: Range<Int> { Int(colon) + 2..<Int(valueEnd) }
        var line: Range<Int> { Int(start)..<Int(valueEnd) + 2 }
    }

    /// The lines; only the first `used` bytes are written (the array's count is its room: appending a line is
    /// one uniqueness check and one copy, not the stdlib's generic append per piece).
    private var bytes: [UInt8] = []
    private var used = 0
    private var slots: [Slot] = []

    public init(_ pairs: [(String, String)] = []) {
        for (name, value) in pairs { add(name, value) }
    }

    /// Room for `fields` fields in `bytes` bytes (the parser: one allocation each per head, not one per doubling).
    mutating func reserveCapacity(fields: Int, bytes byteCount: Int) {
        slots.reserveCapacity(fields)
        if bytes.count < byteCount { grow(to: byteCount) }
    }

    /// A room of `size` bytes with the written ones kept (`Array(repeating:count:)` is one `memset`; appending
    /// `repeatElement` would store the zeros one at a time).
    private mutating func grow(to size: Int) {
        var room = [UInt8](repeating: 0, count: size)
        if used > 0 {
            room.withUnsafeMutableBytes { to in bytes.withUnsafeBytes { from in to.baseAddress!.copyMemory(from: from.baseAddress!, byteCount: used) } }
        }
        bytes = room
    }

    /// `["Host": "a", "Accept": "*/*"]`, in literal order.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    public var count: Int { slots.count }
    public var isEmpty: Bool { slots.isEmpty }

    // MARK: Fields by position (what a proxy forwarding a head uses: no `String` unless asked for)

    /// The recognised kind of field `i`'s name.
    public func kind(at i: Int) -> HTTPFieldKind { slots[i].kind }

    public func name(at i: Int) -> String { string(slots[i].name) }

    public func value(at i: Int) -> String { string(slots[i].value) }

    /// Whether field `i` is called `lower` (a lowercase name), ASCII case ignored.
    public func name(at i: Int, equalsLowercase lower: String) -> Bool {
        let range = slots[i].name
        guard range.count == lower.utf8.count else { return false }
        return bytes.withUnsafeBufferPointer { b in
            var k = range.lowerBound
            for l in lower.utf8 {
                if ASCII.lower(b[k]) != l { return false }
                k += 1
            }
            return true
        }
    }

    /// Field `i`'s value bytes (valid only inside `body`). Not generic: a generic one called from another module
    /// runs the stdlib's unspecialised `withUnsafeBytes` (hundreds of instructions per call).
    public func withValueBytes(at i: Int, _ body: (UnsafeRawBufferPointer) -> Void) {
        let range = slots[i].value
        bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    /// `withValueBytes` with a result, for this module (specialised here).
    func valueBytes<R>(at i: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let range = slots[i].value
        return bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    /// The lines `name: value CRLF` of the fields `keep` accepts, in order, handed to `emit` in as few pieces as
    /// possible (neighbouring kept lines are one piece). The pieces are valid only inside `emit`.
    public func forEachLine(where keep: (Int) -> Bool, _ emit: (UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes { raw in
            var run: Range<Int>? = nil
            for i in slots.indices where keep(i) {
                let line = slots[i].line
                if let r = run, r.upperBound == line.lowerBound {
                    run = r.lowerBound..<line.upperBound
                } else {
                    if let r = run { emit(UnsafeRawBufferPointer(rebasing: raw[r])) }
                    run = line
                }
            }
            if let r = run { emit(UnsafeRawBufferPointer(rebasing: raw[r])) }
        }
    }

    // MARK: Fields by name

    /// Every field with its recognised kind, in order (`String`s made for each: for tests and cold paths).
    public var all: [HTTPField] {
        slots.indices.map { HTTPField(name: name(at: $0), value: value(at: $0), kind: slots[$0].kind) }
    }

    /// Whether field `i` is called `name`: a name of a known kind is compared by kind alone, any other by its
    /// bytes (ASCII case ignored), and only with fields of no known kind.
    @inline(__always) private func matches(_ i: Int, _ name: String, _ kind: HTTPFieldKind) -> Bool {
        let slot = slots[i]
        guard slot.kind == kind else { return false }
        guard kind == .other || kind == .meshLookalike else { return true }
        return ASCII.equalsIgnoringCase(bytes[slot.name], name.utf8)
    }

    /// The value of the first field called `name` (ASCII case-insensitive).
    public subscript(name: String) -> String? {
        let kind = HTTPFieldKind(name)
        for i in slots.indices where matches(i, name, kind) { return value(at: i) }
        return nil
    }

    /// The value of the first field of `kind` (a known kind: not `.other` or `.meshLookalike`).
    public subscript(kind: HTTPFieldKind) -> String? {
        for i in slots.indices where slots[i].kind == kind { return value(at: i) }
        return nil
    }

    /// The value of the first `Content-Length` field as a number (nil when absent or not `1*DIGIT`, or too big):
    /// read from its bytes, no `String` made.
    public var contentLength: Int? {
        guard let i = slots.firstIndex(where: { $0.kind == .contentLength }) else { return nil }
        return valueBytes(at: i) { v in try? Framing.contentLength(v) }
    }

    /// Whether a field of `kind` is present (a known kind).
    public func contains(_ kind: HTTPFieldKind) -> Bool { slots.contains { $0.kind == kind } }

    /// Every value of fields called `name`, in order.
    public func values(_ name: String) -> [String] {
        let kind = HTTPFieldKind(name)
        return slots.indices.filter { matches($0, name, kind) }.map { value(at: $0) }
    }

    /// The value of the only field called `name`; `.none` when there is none, `.many` when more than one.
    public func single(_ name: String) -> HTTPSingleField { single(HTTPFieldKind(name), name) }

    /// `single` for a known kind (no name to compare).
    public func single(_ kind: HTTPFieldKind) -> HTTPSingleField { single(kind, "") }

    private func single(_ kind: HTTPFieldKind, _ name: String) -> HTTPSingleField {
        var found: Int?
        for i in slots.indices where matches(i, name, kind) {
            if found != nil { return .many }
            found = i
        }
        return found.map { .one(value(at: $0)) } ?? .none
    }

    /// How many fields are called `name`.
    public func count(_ name: String) -> Int {
        let kind = HTTPFieldKind(name)
        return slots.indices.reduce(0) { $0 + (matches($1, name, kind) ? 1 : 0) }
    }

    public func contains(_ name: String) -> Bool {
        let kind = HTTPFieldKind(name)
        return slots.indices.contains { matches($0, name, kind) }
    }

    // MARK: Changes

    /// Appends a field (an existing one of the same name is kept).
    public mutating func add(_ name: String, _ value: String) {
        var name = name, value = value
        name.withUTF8 { n in value.withUTF8 { v in append(UnsafeRawBufferPointer(n), UnsafeRawBufferPointer(v)) } }
    }

    /// Appends a parsed line's field: the name before `colon`, the value after it without surrounding whitespace.
    mutating func append(line: UnsafeRawBufferPointer, colon: Int) {
        append(UnsafeRawBufferPointer(rebasing: line[..<colon]),
               ASCII.trimmed(UnsafeRawBufferPointer(rebasing: line[(colon + 1)...])))
    }

    private mutating func append(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        let start = used, colon = start + name.count, valueEnd = colon + 2 + value.count
        let end = valueEnd + 2
        if end > bytes.count { grow(to: Swift.max(end, 2 * bytes.count, 256)) }
        bytes.withUnsafeMutableBytes { b in
            if !name.isEmpty { (b.baseAddress! + start).copyMemory(from: name.baseAddress!, byteCount: name.count) }
            b[colon] = 0x3A; b[colon + 1] = 0x20
            if !value.isEmpty { (b.baseAddress! + colon + 2).copyMemory(from: value.baseAddress!, byteCount: value.count) }
            b[valueEnd] = 13; b[valueEnd + 1] = 10
        }
        used = end
        slots.append(Slot(start: UInt32(start), colon: UInt32(colon), valueEnd: UInt32(valueEnd), kind: HTTPFieldKind(name)))
    }

    /// Removes every field called `name`.
    public mutating func remove(_ name: String) {
        let kind = HTTPFieldKind(name)
        let kept = slots.indices.filter { !matches($0, name, kind) }
        guard kept.count < slots.count else { return }
        // Rebuilt, so that lines removed (or replaced again and again by `set`) do not pile up.
        var rebuilt = HTTPHeaders()
        rebuilt.reserveCapacity(fields: kept.count, bytes: used)
        bytes.withUnsafeBytes { raw in
            for i in kept {
                let s = slots[i]
                rebuilt.append(UnsafeRawBufferPointer(rebasing: raw[s.name]), UnsafeRawBufferPointer(rebasing: raw[s.value]))
            }
        }
        self = rebuilt
    }

    /// Replaces every field called `name` with one field, appended last.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    // MARK: Sequence, equality, description

    public struct Iterator: IteratorProtocol {
        let headers: HTTPHeaders
        var index = 0
        public mutating func next() -> Element? {
            guard index < headers.count else { return nil }
            defer { index += 1 }
            return (name: headers.name(at: index), value: headers.value(at: index))
        }
    }

    public func makeIterator() -> Iterator { Iterator(headers: self) }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        guard lhs.slots.count == rhs.slots.count else { return false }
        for (a, b) in zip(lhs.slots, rhs.slots) {
            guard lhs.bytes[a.name].elementsEqual(rhs.bytes[b.name]),
                  lhs.bytes[a.value].elementsEqual(rhs.bytes[b.value]) else { return false }
        }
        return true
    }

    public var description: String {
        "[" + slots.indices.map { "\(name(at: $0)): \(value(at: $0))" }.joined(separator: ", ") + "]"
    }

    private func string(_ range: Range<Int>) -> String {
        bytes.withUnsafeBytes { String(decoding: UnsafeRawBufferPointer(rebasing: $0[range]), as: UTF8.self) }
    }
}

/// One header field with the kind of its name (a copy: see `HTTPHeaders.all`).
public struct HTTPField: Sendable {
    public let name: String
    public let value: String
    public let kind: HTTPFieldKind

    public init(name: String, value: String) {
        self.init(name: name, value: value, kind: HTTPFieldKind(name))
    }

    init(name: String, value: String, kind: HTTPFieldKind) {
        self.name = name
        self.value = value
        self.kind = kind
    }
}

extension HTTPHeaders {
    /// Whether the `Connection` fields say the connection persists after this message: HTTP/1.1 unless a
    /// `close` token is present; HTTP/1.0 only with a `keep-alive` token (and no `close`).
    func keepAlive(_ version: HTTPVersion) -> Bool {
        var close = false, keepAlive = false
        for i in slots.indices where slots[i].kind == .connection {
            valueBytes(at: i) { v in
                if ASCII.list(v, contains: "close") { close = true }
                if ASCII.list(v, contains: "keep-alive") { keepAlive = true }
            }
        }
        if close { return false }
        return version == .http11 || keepAlive
    }

    /// How the fields frame a body, from the values of the `Content-Length` and `Transfer-Encoding` fields.
    /// Counted here, in one pass, so `Framing` can refuse duplicates and mixtures before reading any value.
    func framingFields() -> (lengths: Int, encodings: Int, length: Int?, encoding: Int?) {
        var lengths = 0, encodings = 0
        var length: Int?, encoding: Int?
        for i in slots.indices {
            switch slots[i].kind {
            case .contentLength: lengths += 1; length = i
            case .transferEncoding: encodings += 1; encoding = i
            default: break
            }
        }
        return (lengths, encodings, length, encoding)
    }

    /// The `Host` fields: how many, and the first one's position.
    func hostFields() -> (count: Int, first: Int?) {
        var count = 0
        var first: Int?
        for i in slots.indices where slots[i].kind == .host {
            count += 1
            if first == nil { first = i }
        }
        return (count, first)
    }
}

/// What `HTTPHeaders.single` found.
public enum HTTPSingleField: Equatable, Sendable {
    case none, one(String), many
}
