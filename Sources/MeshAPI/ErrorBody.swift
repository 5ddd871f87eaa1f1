import MeshCore

/// The body of every refusal: `{"error": code, "reason": text}`. The code is the published contract; the
/// reason is for a person.
public struct ErrorBody: WireMessage {
    public var error: String
    public var reason: String

    public init(error: String, reason: String) {
        self.error = error
        self.reason = reason
    }

    public init(_ e: MeshError) { self.init(error: e.code, reason: e.reason) }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["error", "reason"])
        error = try r.string("error")
        reason = try r.string("reason")
    }

    public var json: JSONValue { .object([("error", .string(error)), ("reason", .string(reason))]) }

    /// The error the server meant, with the kind its code was declared with (undeclared: `internal`).
    public var meshError: MeshError { MeshError(ErrorCode.known(error) ?? ErrorCode(error, .internal), reason) }
}
