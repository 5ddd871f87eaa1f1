import MeshTLS

/// Randomness for secrets (OpenSSL's CSPRNG).
public enum Random {
    public static func fill(_ bytes: inout [UInt8]) -> Bool {
        guard let b = SecureRandom.bytes(bytes.count) else { return false }
        bytes = b
        return true
    }

    public static func hex(_ count: Int) -> String? {
        SecureRandom.bytes(count).map { $0.map { String(format2hex: $0) }.joined() }
    }
}

extension String {
    init(format2hex byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
    }
}
