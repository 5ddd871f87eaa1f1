/// MeshAPI owns the messages that cross the wire between the control plane and its callers (sidecars,
/// meshctl): one value type per request and answer, each read strictly from JSON and written back to exactly
/// the JSON the API has always sent. Pure: no I/O, no clock, no randomness; the transport lives elsewhere.
import MeshCore

/// A request or answer body of the control-plane API.
///
/// Reading is strict: an unknown member, a missing one or a wrong type is an error with a stable `api.*` code
/// whose reason starts with the JSON path; what `json` writes, `init(json:)` reads back to an equal value.
public protocol WireMessage: Sendable, Equatable {
    init(json: JSONValue) throws(MeshError)
    /// The document, members in the order the API has always written them.
    var json: JSONValue { get }
}

extension WireMessage {
    /// Parses strict JSON (`StrictJSON` limits: 4 MiB, depth 32 unless given) and reads the message.
    public init(bytes: some Collection<UInt8>, limits: StrictJSON.Limits = StrictJSON.Limits()) throws(MeshError) {
        try self.init(json: StrictJSON.parse(bytes, limits: limits))
    }

    /// The compact text, as a request body.
    public var bytes: [UInt8] { Array(json.text.utf8) }

    /// The compact text and a newline, as the control plane answers.
    public var answerText: String { json.text + "\n" }
}

/// Reading helpers shared by the messages: the JSON reader's schema codes (`config.*`, meant for files an
/// operator wrote) become the API's own (`api.*`), and typed fields (SPIFFE IDs) keep their path.
enum Wire {
    static let codes: [String: ErrorCode] = [
        "config.unknown-field": .apiUnknownField, "config.missing-field": .apiMissingField,
        "config.wrong-type": .apiWrongType, "config.out-of-range": .apiOutOfRange,
    ]

    /// Runs `body`, renaming the JSON reader's codes to the API's.
    static func read<T>(_ body: () throws(MeshError) -> T) throws(MeshError) -> T {
        do {
            return try body()
        } catch {
            guard let code = codes[error.code] else { throw error }
            throw MeshError(code, error.reason)
        }
    }

    /// The object at `json`, admitting exactly `fields`.
    static func object(_ json: JSONValue, _ fields: Set<String>) throws(MeshError) -> JSONObjectReader {
        try read { () throws(MeshError) in try JSONNode(json).object(fields: fields) }
    }

    /// A SPIFFE ID in a string member; its own code (`spiffe.*`) and the path in the reason.
    static func spiffeID(_ node: JSONNode) throws(MeshError) -> SPIFFEID {
        let text = try read { () throws(MeshError) in try node.string() }
        do {
            return try SPIFFEID(parsing: text)
        } catch let e as MeshError {
            throw node.error(e.errorCode, e.reason)
        } catch {
            throw MeshError(.apiBadValue, "\(node.path): \(error)")
        }
    }

    /// A member that must be present but may be `null`.
    static func nullable(_ r: JSONObjectReader, _ key: String) throws(MeshError) -> JSONNode? {
        let node = try read { () throws(MeshError) in try r.required(key) }
        return node.value == .null ? nil : node
    }
}

extension JSONObjectReader {
    /// Required members and their typed values, with the API's codes.
    func string(_ key: String) throws(MeshError) -> String { try Wire.read { () throws(MeshError) in try required(key).string() } }
    func int(_ key: String, in range: ClosedRange<Int> = Int.min...Int.max) throws(MeshError) -> Int {
        try Wire.read { () throws(MeshError) in try required(key).int(in: range) }
    }
    func bool(_ key: String) throws(MeshError) -> Bool { try Wire.read { () throws(MeshError) in try required(key).bool() } }
    func node(_ key: String) throws(MeshError) -> JSONNode { try Wire.read { () throws(MeshError) in try required(key) } }
    /// An optional member (absent or null → nil).
    func optionalString(_ key: String) throws(MeshError) -> String? {
        guard let n = optional(key) else { return nil }
        return try Wire.read { () throws(MeshError) in try n.string() }
    }
    func optionalInt(_ key: String, in range: ClosedRange<Int> = Int.min...Int.max) throws(MeshError) -> Int? {
        guard let n = optional(key) else { return nil }
        return try Wire.read { () throws(MeshError) in try n.int(in: range) }
    }
}
