/// The few DER encodings JOSE needs to hand keys and signatures to OpenSSL: a JWK becomes a
/// SubjectPublicKeyInfo, a JOSE ES256 signature (raw r‖s) becomes an `ECDSA-Sig-Value`. Encoding only; OpenSSL
/// parses the result, so nothing here has to be trusted to read attacker-chosen DER.
enum DER {
    static func length(_ n: Int) -> [UInt8] {
        if n < 0x80 { return [UInt8(n)] }
        var bytes = [UInt8]()
        var v = n
        while v > 0 { bytes.insert(UInt8(v & 0xFF), at: 0); v >>= 8 }
        return [0x80 | UInt8(bytes.count)] + bytes
    }

    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] { [tag] + length(content.count) + content }

    static func sequence(_ parts: [UInt8]...) -> [UInt8] { tlv(0x30, parts.flatMap { $0 }) }

    /// A non-negative INTEGER from big-endian magnitude bytes (leading zeros dropped, a 0x00 added when the
    /// high bit is set).
    static func unsignedInteger(_ magnitude: some Collection<UInt8>) -> [UInt8] {
        var bytes = Array(magnitude.drop { $0 == 0 })
        if bytes.isEmpty || bytes[0] & 0x80 != 0 { bytes.insert(0, at: 0) }
        return tlv(0x02, bytes)
    }

    /// BIT STRING with no unused bits.
    static func bitString(_ bytes: [UInt8]) -> [UInt8] { tlv(0x03, [0] + bytes) }

    /// `ECDSA-Sig-Value` from a JOSE signature: exactly 64 bytes, r then s (RFC 7518 §3.4); nil otherwise,
    /// so a DER signature (70-72 bytes) is never accepted in its place.
    static func ecdsaSignature(fromJOSE raw: [UInt8]) -> [UInt8]? {
        guard raw.count == 64 else { return nil }
        return sequence(unsignedInteger(raw[0..<32]), unsignedInteger(raw[32..<64]))
    }
}
