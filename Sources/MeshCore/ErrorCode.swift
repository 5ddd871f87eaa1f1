/// A stable error identifier with the kind of failure it names. Every code the mesh can report is declared
/// once as a constant (`ErrorCode.spiffeBadScheme`), so codes cannot drift and each one maps to exactly one
/// HTTP status and one exit code through its kind.
public struct ErrorCode: Hashable, Sendable, CustomStringConvertible {
    /// The stable text, `domain.problem`; never reworded once published.
    public let id: String
    public let kind: ErrorKind

    public init(_ id: String, _ kind: ErrorKind) {
        self.id = id
        self.kind = kind
    }

    public var description: String { id }
}

/// What kind of failure an error is. The kind, not the code's text, decides how it is answered.
public enum ErrorKind: String, Sendable, CaseIterable {
    /// Wrong arguments or a request that is malformed (syntax, missing field in a request body).
    case badRequest = "bad-request"
    /// A configuration or document that parses but is not valid (schema, references, limits).
    case invalid
    /// No credential, or one that does not authenticate.
    case unauthenticated
    /// A credential that authenticates but is refused (used or expired token, not allowed).
    case forbidden
    /// The thing asked for does not exist.
    case notFound = "not-found"
    /// The change was based on a state that is no longer current, or another change is in progress.
    case conflict
    /// A conditional request was required (`If-Match`).
    case preconditionRequired = "precondition-required"
    /// Too many requests; try again later.
    case rateLimited = "rate-limited"
    /// A file we were asked to read cannot be read.
    case unreadable
    /// A peer (the control plane, an upstream) could not be reached or answered badly.
    case unavailable
    /// Durable state could not be read or written, or is damaged.
    case storage
    /// A failure of ours (OpenSSL, randomness, a broken invariant).
    case `internal`

    /// The status an HTTP API answers with.
    public var httpStatus: Int {
        switch self {
        case .badRequest: 400
        case .invalid: 422
        case .unauthenticated: 401
        case .forbidden: 403
        case .notFound: 404
        case .conflict: 409
        case .preconditionRequired: 428
        case .rateLimited: 429
        case .unavailable: 503
        case .unreadable, .storage, .internal: 500
        }
    }

    /// The process exit code (sysexits): 64 usage or bad config, 66 cannot read input, 69 unavailable,
    /// 70 internal, 74 I/O, 75 try again, 77 refused.
    public var exitCode: Int32 {
        switch self {
        case .badRequest, .invalid, .preconditionRequired: 64
        case .unreadable, .notFound: 66
        case .unavailable: 69
        case .internal: 70
        case .storage: 74
        case .conflict, .rateLimited: 75
        case .unauthenticated, .forbidden: 77
        }
    }
}
