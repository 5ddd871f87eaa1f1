import MeshCore
import MeshTLS

/// One verification key of an issuer, read from a JWK (RFC 7517/7518/8037): EC P-256 (`x`, `y`), RSA (`n`,
/// `e`, at least 2048 bits) or OKP Ed25519 (`x`). The key is turned into a DER SubjectPublicKeyInfo and
/// decoded by OpenSSL (which also checks an EC point is on the curve). Private members are refused: a
/// configuration that carries them leaks a signing key.
public struct JWK: Sendable {
    /// Selects this key from a token's header.
    public let kid: String
    /// When the JWK names `alg`, only that algorithm may be used with the key.
    public let algorithm: JWSAlgorithm?
    public let key: JOSEPublicKey

    public init(kid: String, algorithm: JWSAlgorithm?, key: JOSEPublicKey) {
        self.kid = kid
        self.algorithm = algorithm
        self.key = key
    }

    private static let privateMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

    /// Reads one JWK object. Errors: `jwt.bad-key` with the reason.
    public static func parse(_ value: JSONValue) throws(MeshError) -> JWK {
        guard case .object(let members) = value else { throw MeshError(.jwtBadKey, "a JWK must be an object") }
        if let leaked = members.first(where: { privateMembers.contains($0.0) }) {
            throw MeshError(.jwtBadKey, "the JWK carries the private member \"\(leaked.0)\"; give public keys only")
        }
        func string(_ name: String) throws(MeshError) -> String? {
            guard let v = value[name] else { return nil }
            guard case .string(let s) = v else { throw MeshError(.jwtBadKey, "\"\(name)\" must be a string") }
            return s
        }
        func bytes(_ name: String) throws(MeshError) -> [UInt8] {
            guard let text = try string(name) else { throw MeshError(.jwtBadKey, "missing \"\(name)\"") }
            guard let b = Base64URL.decode(text.utf8), !b.isEmpty else {
                throw MeshError(.jwtBadKey, "\"\(name)\" is not unpadded base64url")
            }
            return b
        }
        guard let kid = try string("kid"), !kid.isEmpty else { throw MeshError(.jwtBadKey, "missing \"kid\"") }
        if let use = try string("use"), use != "sig" { throw MeshError(.jwtBadKey, "kid \(kid): \"use\" is \(use), not sig") }
        var algorithm: JWSAlgorithm?
        if let alg = try string("alg") {
            guard let a = JWSAlgorithm(rawValue: alg) else { throw MeshError(.jwtBadKey, "kid \(kid): unsupported alg \(alg)") }
            algorithm = a
        }
        let spki: [UInt8]
        switch try string("kty") {
        case "EC":
            guard try string("crv") == "P-256" else { throw MeshError(.jwtBadKey, "kid \(kid): EC keys must be crv P-256") }
            let x = try bytes("x"), y = try bytes("y")
            guard x.count == 32, y.count == 32 else { throw MeshError(.jwtBadKey, "kid \(kid): x and y must be 32 bytes") }
            spki = DER.sequence(DER.sequence(oidECPublicKey, oidP256), DER.bitString([0x04] + x + y))
        case "OKP":
            guard try string("crv") == "Ed25519" else { throw MeshError(.jwtBadKey, "kid \(kid): OKP keys must be crv Ed25519") }
            let x = try bytes("x")
            guard x.count == 32 else { throw MeshError(.jwtBadKey, "kid \(kid): x must be 32 bytes") }
            spki = DER.sequence(DER.sequence(oidEd25519), DER.bitString(x))
        case "RSA":
            let n = try bytes("n"), e = try bytes("e")
            guard e.count <= 8, let last = e.last, last & 1 == 1, e.contains(where: { $0 != 0 }), e != [1] else {
                throw MeshError(.jwtBadKey, "kid \(kid): e must be an odd exponent above 1")
            }
            let rsaPublicKey = DER.sequence(DER.unsignedInteger(n), DER.unsignedInteger(e))
            spki = DER.sequence(DER.sequence(oidRSAEncryption, [0x05, 0x00]), DER.bitString(rsaPublicKey))
        case let other:
            throw MeshError(.jwtBadKey, "kid \(kid): unsupported kty \(other ?? "(missing)")")
        }
        let key: JOSEPublicKey
        do { key = try JOSEPublicKey(subjectPublicKeyInfo: spki) } catch {
            throw MeshError(.jwtBadKey, "kid \(kid): \(error.reason)")
        }
        if let algorithm, !algorithm.fits(key.kind) {
            throw MeshError(.jwtBadKey, "kid \(kid): alg \(algorithm.rawValue) does not fit the key type")
        }
        return JWK(kid: kid, algorithm: algorithm, key: key)
    }

    /// Reads a JWK Set (`{"keys": [...]}`), refusing a repeated `kid`.
    public static func parseSet(_ value: JSONValue) throws(MeshError) -> [JWK] {
        guard case .array(let keys)? = value["keys"] else { throw MeshError(.jwtBadKey, "a JWK Set needs a \"keys\" array") }
        var out = [JWK]()
        var seen = Set<String>()
        for k in keys {
            let jwk = try parse(k)
            guard seen.insert(jwk.kid).inserted else { throw MeshError(.jwtBadKey, "kid \(jwk.kid) appears twice") }
            out.append(jwk)
        }
        return out
    }

    private static let oidECPublicKey: [UInt8] = [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
    private static let oidP256: [UInt8] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
    private static let oidEd25519: [UInt8] = [0x06, 0x03, 0x2B, 0x65, 0x70]
    private static let oidRSAEncryption: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]
}
