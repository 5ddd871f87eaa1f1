internal import COpenSSL

/// Bytes from OpenSSL's CSPRNG, for secrets (tokens, credentials).
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8]? {
        var b = [UInt8](repeating: 0, count: count)
        return RAND_bytes(&b, Int32(count)) == 1 ? b : nil
    }
}
