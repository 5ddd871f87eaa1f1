internal import COpenSSL
internal import CMeshOpenSSLShims
import MeshCore

/// A PKCS#10 CSR. The control plane uses only its public key and its self-signature (proof of possession);
/// it never reads the CSR's subject or SANs.
public final class CertificateSigningRequest: @unchecked Sendable {
    // @unchecked: the X509_REQ is never mutated after it is built or parsed, and its public key is decoded at
    // parse time, so concurrent reads are safe.
    let req: OpaquePointer
    /// The largest PEM text `init(pem:)` reads.
    static let maxPEMBytes = 16 * 1024

    /// Takes ownership of a request whose self-signature has been verified and whose key is P-256.
    private init(owning req: OpaquePointer) { self.req = req }

    deinit { X509_REQ_free(req) }

    /// A CSR for `key`'s public half, signed with `key` (SHA-256). Subject CN = `commonName` if given
    /// (informational).
    public static func create(key: PrivateKey, commonName: String? = nil) throws -> CertificateSigningRequest {
        guard let req = X509_REQ_new() else { throw OpenSSLError.error(.tlsCsr, "X509_REQ_new") }
        let csr = CertificateSigningRequest(owning: req)  // frees req if anything below throws
        guard X509_REQ_set_version(req, 0) == 1, X509_REQ_set_pubkey(req, key.pkey) == 1 else {
            throw OpenSSLError.error(.tlsCsr, "cannot set the CSR's version or key")
        }
        if let commonName {
            guard X509_NAME_add_entry_by_NID(X509_REQ_get_subject_name(req), NID_commonName, MBSTRING_UTF8,
                                             commonName, -1, -1, 0) == 1 else {
                throw OpenSSLError.error(.tlsCsr, "bad common name \(commonName)")
            }
        }
        guard X509_REQ_sign(req, key.pkey, EVP_sha256()) > 0 else {
            throw OpenSSLError.error(.tlsCsr, "X509_REQ_sign")
        }
        return csr
    }

    /// Parses PEM and verifies the self-signature; throws MeshError(.tlsBadCsr, …) when not a CSR, the
    /// signature does not verify, or the key is not ECDSA P-256. Max 16 KiB.
    public convenience init(pem: [UInt8]) throws {
        if pem.count > Self.maxPEMBytes {
            throw MeshError(.tlsBadCsr, "CSR is \(pem.count) bytes; the limit is \(Self.maxPEMBytes)")
        }
        let bio = try MemoryBIO(pem)
        guard let req = PEM_read_bio_X509_REQ(bio.bio, nil, nil, nil) else {
            throw OpenSSLError.error(.tlsBadCsr, "not a PEM certificate request")
        }
        self.init(owning: req)
        guard let pkey = X509_REQ_get0_pubkey(req) else {
            throw OpenSSLError.error(.tlsBadCsr, "the CSR's public key cannot be decoded")
        }
        guard PublicKeyInfo.isP256(pkey) else {
            OpenSSLError.clear()
            throw MeshError(.tlsBadCsr, "CSR key must be ECDSA P-256 (found \(PublicKeyInfo.describe(pkey)))")
        }
        guard X509_REQ_verify(req, pkey) == 1 else {
            throw OpenSSLError.error(.tlsBadCsr, "the CSR's self-signature does not verify")
        }
    }

    /// PEM text ("CERTIFICATE REQUEST").
    public func pem() -> [UInt8] {
        let bio = MemoryBIO()
        PEM_write_bio_X509_REQ(bio.bio, req)
        return bio.contents
    }

    /// DER bytes.
    func der() -> [UInt8] {
        let n = i2d_X509_REQ(req, nil)
        guard n > 0 else { OpenSSLError.clear(); return [] }
        var out = [UInt8](repeating: 0, count: Int(n))
        out.withUnsafeMutableBufferPointer { buf in
            var p: UnsafeMutablePointer<UInt8>? = buf.baseAddress
            _ = i2d_X509_REQ(req, &p)
        }
        return out
    }

    /// The requested public key (owned by the request).
    var publicKey: OpaquePointer? { X509_REQ_get0_pubkey(req) }

    /// SHA-256 (hex) of the DER SubjectPublicKeyInfo, to compare keys.
    public var publicKeySHA256: String {
        guard let pkey = publicKey else { OpenSSLError.clear(); return "" }
        return PublicKeyInfo.spkiSHA256(pkey)
    }

    /// What the CSR asks for (for logs only): its URI SANs if any.
    public var requestedURIs: [String] {
        guard let exts = X509_REQ_get_extensions(req) else { OpenSSLError.clear(); return [] }
        defer { CMeshOpenSSLShims_sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free) }
        guard let raw = X509V3_get_d2i(exts, NID_subject_alt_name, nil, nil) else { OpenSSLError.clear(); return [] }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        var out: [String] = []
        for i in 0..<CMeshOpenSSLShims_sk_GENERAL_NAME_num(names) {
            guard let gn = CMeshOpenSSLShims_sk_GENERAL_NAME_value(names, i), gn.pointee.type == GEN_URI else { continue }
            let s = gn.pointee.d.uniformResourceIdentifier
            guard let data = ASN1_STRING_get0_data(s) else { out.append(""); continue }
            out.append(String(decoding: UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(s))), as: UTF8.self))
        }
        return out
    }
}

extension CertificateAuthority {
    /// Signs `template` for the CSR's public key. Nothing from the CSR except the key is used: subject, SANs
    /// and any requested extensions are ignored; the template decides every field. `random` draws the serial.
    public func issue(_ template: CertificateTemplate, for csr: CertificateSigningRequest, random: RandomSource = .system) throws -> Certificate {
        // A CSR object always holds a verified P-256 key (checked in init(pem:), or made by create(key:)).
        guard let pub = csr.publicKey, EVP_PKEY_up_ref(pub) == 1 else {
            throw OpenSSLError.error(.tlsCa, "the CSR has no usable public key")
        }
        // `sign` reads only the public half of `subjectKey` (X509_set_pubkey). This wrapper holds a public key
        // only; it lives for this one call and never leaves this function.
        let subject = PrivateKey(owning: pub)
        return try Self.sign(template, subjectKey: subject, issuer: certificate, issuerKey: key, random: random)
    }
}

extension PrivateKey {
    /// SHA-256 (hex) of the DER SubjectPublicKeyInfo of this key's public half (same as a CSR's or
    /// certificate's `publicKeySHA256` for the same key).
    public var publicKeySHA256: String { PublicKeyInfo.spkiSHA256(pkey) }
}
