/// MeshCore owns the pure parts of the mesh: SPIFFE identities, allow lists and their verdicts, and the
/// sidecar configuration schema. Nothing here performs I/O, reads a clock or draws randomness.

/// An error with a stable, machine-readable code and a human reason. Compare errors on `code`.
///
/// The code is a declared `ErrorCode` (see `ErrorCodes+*.swift`): its kind decides the HTTP status an API
/// answers with and the exit code a command ends with, so neither is guessed from the code's text.
public struct MeshError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The declared code, with its kind.
    public let errorCode: ErrorCode
    /// What failed, why, and where, for a person.
    public let reason: String

    public init(_ code: ErrorCode, _ reason: String) {
        self.errorCode = code
        self.reason = reason
    }

    /// Stable identifier, e.g. `spiffe.bad-scheme` or `config.unknown-field`. Never reworded.
    public var code: String { errorCode.id }
    /// What kind of failure this is: decides HTTP status and exit code.
    public var kind: ErrorKind { errorCode.kind }

    public var description: String { "\(code): \(reason)" }
}
