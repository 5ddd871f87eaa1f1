/// A SPIFFE ID (`spiffe://<trust-domain>/<path>`) parsed by the strict rules of the SPIFFE-ID standard
/// (SECURITY.md §1). Two IDs are equal when their bytes are equal; nothing is folded or normalised.
public struct SPIFFEID: Hashable, Sendable, CustomStringConvertible {
    /// Longest ID accepted, in bytes.
    public static let maxLength = 2048
    /// Longest trust domain accepted, in bytes.
    public static let maxTrustDomainLength = 255

    public let trustDomain: TrustDomain
    /// The path including its leading `/`, or "" for a trust-domain ID.
    public let path: String

    /// The whole ID as text.
    public var description: String { "spiffe://\(trustDomain.name)\(path)" }

    /// True when the ID names a workload (has a path); a bare trust-domain ID may not authenticate one.
    public var isWorkload: Bool { !path.isEmpty }

    /// Parses `text` strictly. Throws a `MeshError` whose code names the broken rule.
    public init(parsing text: String) throws {
        let bytes = Array(text.utf8)
        if bytes.isEmpty { throw MeshError(.spiffeEmpty, "SPIFFE ID is empty") }
        if bytes.count > Self.maxLength {
            throw MeshError(.spiffeTooLong, "SPIFFE ID is \(bytes.count) bytes; the limit is \(Self.maxLength)")
        }
        let prefix = Array("spiffe://".utf8)
        guard bytes.count >= prefix.count, Array(bytes[0..<prefix.count]) == prefix else {
            throw MeshError(.spiffeBadScheme, "SPIFFE ID must start with lowercase 'spiffe://': \(text.debugDescription)")
        }
        let rest = bytes[prefix.count...]
        let slash = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
        let domainBytes = Array(rest[rest.startIndex..<slash])
        trustDomain = try TrustDomain(bytes: domainBytes, whole: text)
        let pathBytes = Array(rest[slash...])
        try Self.validatePath(pathBytes, whole: text)
        path = String(decoding: pathBytes, as: UTF8.self)
    }

    /// Parses and additionally requires a workload path (leaf identities).
    public static func workload(_ text: String) throws -> SPIFFEID {
        let id = try SPIFFEID(parsing: text)
        guard id.isWorkload else {
            throw MeshError(.spiffeNoPath, "a trust-domain ID cannot identify a workload: \(text.debugDescription)")
        }
        return id
    }

    /// The conventional workload ID `spiffe://<td>/ns/<namespace>/sa/<service>`.
    public static func service(trustDomain: TrustDomain, namespace: String, name: String) throws -> SPIFFEID {
        try SPIFFEID(parsing: "spiffe://\(trustDomain.name)/ns/\(namespace)/sa/\(name)")
    }

    private static func validatePath(_ path: [UInt8], whole: String) throws {
        if path.isEmpty { return }
        // path starts with "/"; split into segments after it.
        var segment: [UInt8] = []
        var index = 1
        func check(_ seg: [UInt8], last: Bool) throws {
            if seg.isEmpty {
                throw MeshError(last ? .spiffeTrailingSlash : .spiffeEmptySegment,
                                last ? "SPIFFE ID path ends with '/': \(whole.debugDescription)"
                                     : "SPIFFE ID path has an empty segment: \(whole.debugDescription)")
            }
            if seg == [0x2E] || seg == [0x2E, 0x2E] {
                throw MeshError(.spiffeDotSegment, "SPIFFE ID path has a '.' or '..' segment: \(whole.debugDescription)")
            }
        }
        while index < path.count {
            let byte = path[index]
            if byte == UInt8(ascii: "/") {
                try check(segment, last: false)
                segment.removeAll(keepingCapacity: true)
            } else if isPathByte(byte) {
                segment.append(byte)
            } else {
                throw MeshError(.spiffeBadPathChar,
                                "SPIFFE ID path has a character outside [a-zA-Z0-9._-] (\(describe(byte))): \(whole.debugDescription)")
            }
            index += 1
        }
        try check(segment, last: true)
    }

    private static func isPathByte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)
            || b == 0x2E || b == 0x2D || b == 0x5F
    }

    static func describe(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }
}

/// A SPIFFE trust domain: non-empty, at most 255 bytes of `a-z 0-9 . - _`. Uppercase is rejected, not folded.
public struct TrustDomain: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public var description: String { name }

    public init(_ name: String) throws {
        try self.init(bytes: Array(name.utf8), whole: name)
    }

    init(bytes: [UInt8], whole: String) throws {
        if bytes.isEmpty {
            throw MeshError(.spiffeEmptyTrustDomain, "SPIFFE trust domain is empty: \(whole.debugDescription)")
        }
        if bytes.count > SPIFFEID.maxTrustDomainLength {
            throw MeshError(.spiffeTrustDomainTooLong,
                            "SPIFFE trust domain is \(bytes.count) bytes; the limit is \(SPIFFEID.maxTrustDomainLength)")
        }
        for b in bytes {
            let ok = (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2E || b == 0x2D || b == 0x5F
            if !ok {
                throw MeshError(.spiffeBadTrustDomainChar,
                                "SPIFFE trust domain has a character outside [a-z0-9._-] (\(SPIFFEID.describe(b))): \(whole.debugDescription)")
            }
        }
        name = String(decoding: bytes, as: UTF8.self)
    }
}
