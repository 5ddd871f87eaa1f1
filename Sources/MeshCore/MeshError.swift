/// MeshCore owns the pure parts of the mesh: SPIFFE identities, allow lists and their verdicts, and the
/// sidecar configuration schema. Nothing here performs I/O, reads a clock or draws randomness.

/// An error with a stable, machine-readable code and a human reason. Compare errors on `code`.
public struct MeshError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Stable identifier, e.g. `spiffe.bad-scheme` or `config.unknown-field`. Never reworded.
    public let code: String
    /// What failed, why, and where, for a person.
    public let reason: String

    public init(_ code: String, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code): \(reason)" }
}
