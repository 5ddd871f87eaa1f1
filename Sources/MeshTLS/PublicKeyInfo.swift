internal import COpenSSL
import MeshCore

/// Facts about an EVP_PKEY (a private key, or the public key of a certificate or CSR) that keys, certificates
/// and CSRs share: the curve check and the SubjectPublicKeyInfo digest used to compare keys.
enum PublicKeyInfo {
    /// The curve's name ("prime256v1" for P-256), or "" when the key is not a named-curve EC key.
    static func curveName(_ pkey: OpaquePointer) -> String {
        var group = [CChar](repeating: 0, count: 64)
        var len = 0
        guard EVP_PKEY_get_group_name(pkey, &group, group.count, &len) == 1 else { return "" }
        return group.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// True for an ECDSA P-256 key, the only kind the mesh uses.
    static func isP256(_ pkey: OpaquePointer) -> Bool {
        guard EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC else { return false }
        let curve = curveName(pkey)
        return curve == "prime256v1" || curve == "P-256"
    }

    /// What to say about a key that is not P-256.
    static func describe(_ pkey: OpaquePointer) -> String {
        let curve = curveName(pkey)
        return curve.isEmpty ? "another key type" : curve
    }

    /// SHA-256 (lowercase hex) of the DER SubjectPublicKeyInfo of the key's public half; "" if it cannot be
    /// encoded. The same key gives the same digest whether it came from a key, a certificate or a CSR.
    static func spkiSHA256(_ pkey: OpaquePointer) -> String {
        let n = i2d_PUBKEY(pkey, nil)
        guard n > 0 else { OpenSSLError.clear(); return "" }
        var der = [UInt8](repeating: 0, count: Int(n))
        let written = der.withUnsafeMutableBufferPointer { buf -> Int32 in
            var p: UnsafeMutablePointer<UInt8>? = buf.baseAddress
            return i2d_PUBKEY(pkey, &p)
        }
        guard written == n else { OpenSSLError.clear(); return "" }
        return SHA256.hex(der)
    }
}

extension Certificate {
    /// SHA-256 (lowercase hex) of the DER SubjectPublicKeyInfo of the certified key, to compare keys (same
    /// definition as `CertificateSigningRequest.publicKeySHA256`).
    public var publicKeySHA256: String {
        // X509_get0_pubkey returns the key decoded when the certificate was parsed or built: no mutation here.
        guard let pkey = X509_get0_pubkey(x509) else { OpenSSLError.clear(); return "" }
        return PublicKeyInfo.spkiSHA256(pkey)
    }
}
