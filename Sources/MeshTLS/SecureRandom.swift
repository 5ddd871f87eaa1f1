internal import COpenSSL
import MeshCore

/// Bytes from OpenSSL's CSPRNG, for secrets (tokens, credentials).
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8]? {
        try? RandomSource.system.bytes(count)
    }
}

/// Where random bytes come from: OpenSSL's CSPRNG (`system`), or what a test passes in (a source that fails,
/// to show that nothing goes ahead without randomness). `RAND_bytes` can fail (no entropy, a broken
/// provider); its result is always checked.
public struct RandomSource: Sendable {
    private let fill: @Sendable (UnsafeMutableRawBufferPointer) -> Bool

    /// `fill` writes every byte of the buffer and returns true, or returns false when it cannot.
    public init(fill: @escaping @Sendable (UnsafeMutableRawBufferPointer) -> Bool) {
        self.fill = fill
    }

    public static let system = RandomSource { b in
        b.isEmpty || RAND_bytes(b.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(b.count)) == 1
    }

    /// `count` random bytes, or `tls.random` when the source has none.
    public func bytes(_ count: Int) throws -> [UInt8] {
        var b = [UInt8](repeating: 0, count: count)
        guard b.withUnsafeMutableBytes(fill) else {
            throw MeshError(.tlsRandom, "no randomness available (RAND_bytes failed): refusing to go on without it")
        }
        return b
    }
}
