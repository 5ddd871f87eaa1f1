internal import COpenSSL
import MeshCore

/// ECDSA P-256 with SHA-256 over a whole document (the control plane signs the slices it hands out). The
/// signature is DER (`ECDSA-Sig-Value`), as OpenSSL writes it. One `EVP_MD_CTX` per call, owned and freed here.
extension PrivateKey {
    /// Signs `message` (the exact bytes; nothing is canonicalised).
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        guard let md = EVP_MD_CTX_new() else { throw OpenSSLError.error(.tlsSign, "EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(md) }
        guard EVP_DigestSignInit(md, nil, EVP_sha256(), nil, pkey) == 1 else {
            throw OpenSSLError.error(.tlsSign, "cannot start a signature")
        }
        var length = 0
        guard EVP_DigestSign(md, nil, &length, message, message.count) == 1 else {
            throw OpenSSLError.error(.tlsSign, "cannot size the signature")
        }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(md, &signature, &length, message, message.count) == 1 else {
            throw OpenSSLError.error(.tlsSign, "cannot sign")
        }
        return Array(signature.prefix(length))
    }
}

extension Certificate {
    /// True when `signature` is a valid ECDSA P-256/SHA-256 signature of `message` by the certified key. Any
    /// other key type, a malformed signature or one byte changed anywhere gives false.
    public func verifies(_ signature: [UInt8], over message: [UInt8]) -> Bool {
        defer { OpenSSLError.clear() }
        // X509_get0_pubkey returns the key decoded when the certificate was parsed or built: no mutation here.
        guard !signature.isEmpty, let pkey = X509_get0_pubkey(x509), PublicKeyInfo.isP256(pkey),
              let md = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(md) }
        guard EVP_DigestVerifyInit(md, nil, EVP_sha256(), nil, pkey) == 1 else { return false }
        return EVP_DigestVerify(md, signature, signature.count, message, message.count) == 1
    }
}
