/// Header fields in the order received, names spelled as received. Lookups ignore ASCII case; equality does
/// not (two heads are equal when their bytes would be).
public struct HTTPHeaders: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public typealias Element = (name: String, value: String)

    private var fields: [Element]

    public init(_ pairs: [(String, String)] = []) {
        fields = pairs.map { (name: $0.0, value: $0.1) }
    }

    /// Room for `capacity` fields (the parser: one allocation per head instead of one per doubling).
    mutating func reserveCapacity(_ capacity: Int) { fields.reserveCapacity(capacity) }

    /// `["Host": "a", "Accept": "*/*"]`, in literal order.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// The value of the first field called `name` (ASCII case-insensitive).
    public subscript(name: String) -> String? {
        for field in fields where ASCII.equalsIgnoringCase(field.name.utf8, name.utf8) { return field.value }
        return nil
    }

    /// Every value of fields called `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { ASCII.equalsIgnoringCase($0.name.utf8, name.utf8) }.map(\.value)
    }

    /// The value of the only field called `name`; `.none` when there is none, `.many` when more than one.
    public func single(_ name: String) -> HTTPSingleField {
        var found: String?
        for field in fields where ASCII.equalsIgnoringCase(field.name.utf8, name.utf8) {
            if found != nil { return .many }
            found = field.value
        }
        return found.map { .one($0) } ?? .none
    }

    /// How many fields are called `name`.
    public func count(_ name: String) -> Int {
        fields.reduce(0) { $0 + (ASCII.equalsIgnoringCase($1.name.utf8, name.utf8) ? 1 : 0) }
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Appends a field (an existing one of the same name is kept).
    public mutating func add(_ name: String, _ value: String) {
        fields.append((name: name, value: value))
    }

    /// Removes every field called `name`.
    public mutating func remove(_ name: String) {
        fields.removeAll { ASCII.equalsIgnoringCase($0.name.utf8, name.utf8) }
    }

    /// Replaces every field called `name` with one field, appended last.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    public var count: Int { fields.count }
    public var isEmpty: Bool { fields.isEmpty }

    public func makeIterator() -> IndexingIterator<[Element]> { fields.makeIterator() }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    public var description: String {
        "[" + fields.map { "\($0.name): \($0.value)" }.joined(separator: ", ") + "]"
    }
}

extension HTTPHeaders {
    /// Whether the `Connection` fields say the connection persists after this message: HTTP/1.1 unless a
    /// `close` token is present; HTTP/1.0 only with a `keep-alive` token (and no `close`).
    func keepAlive(_ version: HTTPVersion) -> Bool {
        var close = false, keepAlive = false
        for field in fields where ASCII.equalsIgnoringCase(field.name.utf8, "connection".utf8) {
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
