/// A service's name, shared by the sidecar config (an outbound listener's destination) and the policy
/// (`MeshPolicy`), so it lives with identity rather than with the policy model.

/// A service named `namespace/name`; both parts are DNS labels (`[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?`).
public struct ServiceKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let namespace: String
    public let name: String

    /// Builds a key without checking it; use `init(parsing:)` for untrusted text.
    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    /// Parses `namespace/name`. Code `policy.bad-service-key`; the reason quotes `text`.
    public init(parsing text: String) throws(MeshError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, Self.isLabel(parts[0]), Self.isLabel(parts[1]) else {
            throw MeshError(.policyBadServiceKey,
                            "\(text.debugDescription) is not namespace/name with two DNS labels ([a-z0-9-], 1-63 bytes)")
        }
        self.init(namespace: String(parts[0]), name: String(parts[1]))
    }

    public var description: String { "\(namespace)/\(name)" }

    public static func < (a: ServiceKey, b: ServiceKey) -> Bool {
        (a.namespace, a.name) < (b.namespace, b.name)
    }

    /// `[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?`: a namespace or service name (also the policy's other names).
    package static func isLabel(_ text: some StringProtocol) -> Bool {
        let bytes = Array(text.utf8)
        let alnum = { (b: UInt8) in (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
        return (1...63).contains(bytes.count) && alnum(bytes[0]) && alnum(bytes[bytes.count - 1])
            && bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") }
    }
}
