import MeshCore

/// `GET /v1/slice?version=N` (sidecar, mTLS): its slice when newer than N, else 304 after the long poll. The
/// slice's own schema belongs to the policy model (`ServiceSlice`), so the answer here is the version and the
/// slice document kept whole; the sidecar reads it strictly with `ServiceSlice(json:)`.
public struct SliceAnswer: WireMessage {
    public var version: Int
    /// The whole slice document (it includes `version`).
    public var slice: JSONValue

    /// Slices may be large: up to 64 MiB (SECURITY.md: slices are bounded by the mesh they come from).
    public static let limits = StrictJSON.Limits(maxBytes: 64 << 20)

    /// The longest (and default) long-poll wait, in seconds; `wait` may ask for 1 up to this.
    public static let maxWaitSeconds = 30

    /// The path of a poll from `version` of `epoch` (what is in force, which is also the sidecar's status
    /// report) and, when given, the revision of the deny list in force. The control plane answers at once when
    /// the epoch or the version differs from its own (a re-created store or a forged high version is never
    /// waited on) or when its deny list is newer. `wait`: how long an unchanged poll is parked, in seconds
    /// (1…`maxWaitSeconds`; nil: the control plane's default, 30).
    public static func path(after version: Int, epoch: String? = nil, revoked: Int? = nil, wait: Int? = nil,
                            endpoints: Int? = nil) -> String {
        var p = "/v1/slice?version=\(version)"
        if let revoked { p += "&revoked=\(revoked)" }
        if let endpoints { p += "&endpoints=\(endpoints)" }
        if let epoch, !epoch.isEmpty { p += "&epoch=\(epoch)" }
        if let wait { p += "&wait=\(wait)" }
        return p
    }

    /// Reads only what the transport needs (an object with an integer `version` ≥ 0); the rest is the policy
    /// model's to check.
    public init(json: JSONValue) throws(MeshError) {
        guard case .object(let members) = json else {
            throw MeshError(.apiWrongType, "$: expected an object")
        }
        guard let v = members.first(where: { $0.0 == "version" })?.1 else {
            throw MeshError(.apiMissingField, "version: required field is missing")
        }
        version = try Wire.read { () throws(MeshError) in try JSONNode(v, path: JSONPath.root.appending("version")).int(in: 0...Int.max) }
        slice = json
    }

    public var json: JSONValue { slice }
}

/// What a poll gives: a signed slice (newer, or other than the one in force), or nothing new (304).
public enum SlicePoll: Sendable, Equatable {
    case slice(SignedSlice)
    case unchanged
}
