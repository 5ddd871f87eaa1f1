internal import COpenSSL
internal import CMeshOpenSSLShims
import MeshCore

/// An ECDSA P-256 private key. Generated here and never sent anywhere; written only as a 0600 file.
public final class PrivateKey: @unchecked Sendable {
    // @unchecked: the EVP_PKEY is never mutated after creation; OpenSSL allows concurrent use of a const key.
    let pkey: OpaquePointer

    init(owning pkey: OpaquePointer) { self.pkey = pkey }

    deinit { EVP_PKEY_free(pkey) }

    /// A fresh P-256 key from OpenSSL's CSPRNG.
    public static func generateP256() throws -> PrivateKey {
        guard let k = CMeshOpenSSLShims_EVP_EC_gen("P-256") else {
            throw OpenSSLError.error(.tlsKeygen, "cannot generate a P-256 key")
        }
        return PrivateKey(owning: k)
    }

    /// Loads a PEM private key (PKCS#8 or SEC1). Only P-256 EC keys are accepted.
    public convenience init(pem: [UInt8]) throws {
        let bio = try MemoryBIO(pem)
        // A password callback that refuses: an encrypted key must fail, never prompt on a terminal.
        guard let k = PEM_read_bio_PrivateKey(bio.bio, nil, { _, _, _, _ in 0 }, nil) else {
            throw OpenSSLError.error(.tlsBadKey, "not an unencrypted PEM private key")
        }
        self.init(owning: k)
        var group = [CChar](repeating: 0, count: 64)
        var len = 0
        let named = EVP_PKEY_get_group_name(k, &group, group.count, &len) == 1
        let curve = named ? group.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } : ""
        guard EVP_PKEY_get_base_id(k) == EVP_PKEY_EC, curve == "prime256v1" || curve == "P-256" else {
            throw MeshError(.tlsBadKey, "private key must be ECDSA P-256 (found \(curve.isEmpty ? "another key type" : curve))")
        }
    }

    /// PKCS#8 PEM text.
    public func pem() -> [UInt8] {
        let bio = MemoryBIO()
        PEM_write_bio_PKCS8PrivateKey(bio.bio, pkey, nil, nil, 0, nil, nil)
        return bio.contents
    }
}
