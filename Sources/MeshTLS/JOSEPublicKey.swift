internal import COpenSSL
import MeshCore

/// A public key that verifies end-user token signatures (issue 13: ES256, RS256, EdDSA). It is decoded from a
/// DER SubjectPublicKeyInfo, which MeshJWT builds from a JWK, so no OpenSSL key-building API is needed and
/// nothing outside MeshTLS sees OpenSSL. Sole owner of its `EVP_PKEY`, freed in deinit.
public final class JOSEPublicKey: @unchecked Sendable {
    // @unchecked: the EVP_PKEY is never mutated after decoding; OpenSSL 3 allows concurrent verifies with it.
    let pkey: OpaquePointer

    /// The three key types a token may be signed with.
    public enum Kind: Sendable, Equatable {
        case p256
        case rsa(bits: Int)
        case ed25519
    }

    public let kind: Kind

    /// RSA moduli accepted: at least 2048 bits (weaker is forgeable), at most 8192 (verify cost is bounded).
    public static let rsaBits = 2048...8192

    /// Decodes a DER SubjectPublicKeyInfo; refuses (`jwt.bad-key`) anything but P-256, RSA in `rsaBits`, Ed25519.
    public init(subjectPublicKeyInfo der: [UInt8]) throws(MeshError) {
        defer { OpenSSLError.clear() }
        let decoded: OpaquePointer? = der.withUnsafeBufferPointer { buf in
            var p: UnsafePointer<UInt8>? = buf.baseAddress
            return d2i_PUBKEY(nil, &p, buf.count)
        }
        guard let pkey = decoded else { throw MeshError(.jwtBadKey, "not a public key OpenSSL can decode") }
        let kind: Kind
        switch EVP_PKEY_get_base_id(pkey) {
        case EVP_PKEY_EC where PublicKeyInfo.isP256(pkey): kind = .p256
        case EVP_PKEY_RSA: kind = .rsa(bits: Int(EVP_PKEY_get_bits(pkey)))
        case EVP_PKEY_ED25519: kind = .ed25519
        default:
            EVP_PKEY_free(pkey)
            throw MeshError(.jwtBadKey, "unsupported key type (only EC P-256, RSA and Ed25519)")
        }
        if case .rsa(let bits) = kind, !Self.rsaBits.contains(bits) {
            EVP_PKEY_free(pkey)
            throw MeshError(.jwtBadKey, "RSA modulus of \(bits) bits; \(Self.rsaBits.lowerBound)...\(Self.rsaBits.upperBound) allowed")
        }
        self.pkey = pkey
        self.kind = kind
    }

    deinit { EVP_PKEY_free(pkey) }

    /// True when `signature` verifies over `message`: ECDSA/SHA-256 (DER `ECDSA-Sig-Value`) for P-256, PKCS#1
    /// v1.5/SHA-256 for RSA, pure Ed25519 (raw 64 bytes). Anything malformed gives false.
    public func verifies(_ signature: [UInt8], over message: [UInt8]) -> Bool {
        defer { OpenSSLError.clear() }
        guard !signature.isEmpty, let md = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(md) }
        let digest = kind == .ed25519 ? nil : EVP_sha256()  // Ed25519 hashes internally; one-shot only
        guard EVP_DigestVerifyInit(md, nil, digest, nil, pkey) == 1 else { return false }
        return EVP_DigestVerify(md, signature, signature.count, message, message.count) == 1
    }
}
