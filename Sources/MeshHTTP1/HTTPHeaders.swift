/// Header fields in the order received, names spelled as received. Lookups ignore ASCII case; equality does
/// not (two heads are equal when their bytes would be).
public struct HTTPHeaders: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public typealias Element = (name: String, value: String)

    private var fields: [HTTPField]

    public init(_ pairs: [(String, String)] = []) {
        fields = pairs.map { HTTPField(name: $0.0, value: $0.1) }
    }

    /// Room for `capacity` fields (the parser: one allocation per head instead of one per doubling).
    mutating func reserveCapacity(_ capacity: Int) { fields.reserveCapacity(capacity) }

    /// `["Host": "a", "Accept": "*/*"]`, in literal order.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// Every field with its recognised kind, in order (the storage itself: no copy).
    public var all: [HTTPField] { fields }

    /// Whether `field` is called `name`: a name of a known kind is compared by kind alone, any other by its
    /// bytes (ASCII case ignored), and only with fields of no known kind.
    @inline(__always) private static func matches(_ field: HTTPField, _ name: String, _ kind: HTTPFieldKind) -> Bool {
        kind == .other || kind == .meshLookalike
            ? field.kind == kind && ASCII.equalsIgnoringCase(field.name.utf8, name.utf8)
            : field.kind == kind
    }

    /// The value of the first field called `name` (ASCII case-insensitive).
    public subscript(name: String) -> String? {
        let kind = HTTPFieldKind(name)
        for field in fields where Self.matches(field, name, kind) { return field.value }
        return nil
    }

    /// The value of the first field of `kind` (a known kind: not `.other` or `.meshLookalike`).
    public subscript(kind: HTTPFieldKind) -> String? {
        for field in fields where field.kind == kind { return field.value }
        return nil
    }

    /// Whether a field of `kind` is present (a known kind).
    public func contains(_ kind: HTTPFieldKind) -> Bool { fields.contains { $0.kind == kind } }

    /// Every value of fields called `name`, in order.
    public func values(_ name: String) -> [String] {
        let kind = HTTPFieldKind(name)
        return fields.filter { Self.matches($0, name, kind) }.map(\.value)
    }

    /// The value of the only field called `name`; `.none` when there is none, `.many` when more than one.
    public func single(_ name: String) -> HTTPSingleField { single(HTTPFieldKind(name), name) }

    /// `single` for a known kind (no name to compare).
    public func single(_ kind: HTTPFieldKind) -> HTTPSingleField { single(kind, "") }

    private func single(_ kind: HTTPFieldKind, _ name: String) -> HTTPSingleField {
        var found: String?
        for field in fields where Self.matches(field, name, kind) {
            if found != nil { return .many }
            found = field.value
        }
        return found.map { .one($0) } ?? .none
    }

    /// How many fields are called `name`.
    public func count(_ name: String) -> Int {
        let kind = HTTPFieldKind(name)
        return fields.reduce(0) { $0 + (Self.matches($1, name, kind) ? 1 : 0) }
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Appends a field (an existing one of the same name is kept).
    public mutating func add(_ name: String, _ value: String) {
        fields.append(HTTPField(name: name, value: value))
    }

    /// Appends a field whose kind the parser already recognised from its bytes.
    mutating func add(_ name: String, _ value: String, kind: HTTPFieldKind) {
        fields.append(HTTPField(name: name, value: value, kind: kind))
    }

    /// Removes every field called `name`.
    public mutating func remove(_ name: String) {
        let kind = HTTPFieldKind(name)
        fields.removeAll { Self.matches($0, name, kind) }
    }

    /// Replaces every field called `name` with one field, appended last.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    public var count: Int { fields.count }
    public var isEmpty: Bool { fields.isEmpty }

    public struct Iterator: IteratorProtocol {
        var base: IndexingIterator<[HTTPField]>
        public mutating func next() -> Element? { base.next().map { (name: $0.name, value: $0.value) } }
    }

    public func makeIterator() -> Iterator { Iterator(base: fields.makeIterator()) }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    public var description: String {
        "[" + fields.map { "\($0.name): \($0.value)" }.joined(separator: ", ") + "]"
    }
}

/// One header field as received, with the kind of its name.
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
        for field in fields where field.kind == .connection {
            if ASCII.list(field.value, contains: "close") { close = true }
            if ASCII.list(field.value, contains: "keep-alive") { keepAlive = true }
        }
        if close { return false }
        return version == .http11 || keepAlive
    }
}

/// What `HTTPHeaders.single` found.
public enum HTTPSingleField: Equatable, Sendable {
    case none, one(String), many
}
