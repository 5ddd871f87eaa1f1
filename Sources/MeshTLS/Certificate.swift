internal import COpenSSL
internal import CMeshOpenSSLShims
import MeshCore

/// One X.509 certificate, owned. Immutable after creation, so safe to share between threads.
public final class Certificate: @unchecked Sendable {
    // @unchecked: the X509 is not mutated after it is built or parsed (extension flags are cached at init).
    let x509: OpaquePointer

    init(owning x509: OpaquePointer) {
        self.x509 = x509
        _ = X509_get_extension_flags(x509)  // computes and caches extensions now, on one thread
    }

    deinit { X509_free(x509) }

    /// Parses every certificate in a PEM text, in order (leaf first for a chain). Throws when none is found
    /// or the chain is deeper or larger than the limits.
    public static func parseChain(pem: [UInt8], maxCount: Int = 4, maxBytes: Int = 65_536) throws -> [Certificate] {
        if pem.count > maxBytes {
            throw MeshError(.tlsChainTooLarge, "certificate file is \(pem.count) bytes; the limit is \(maxBytes)")
        }
        let bio = try MemoryBIO(pem)
        var out: [Certificate] = []
        while let x = PEM_read_bio_X509(bio.bio, nil, nil, nil) {
            out.append(Certificate(owning: x))
            if out.count > maxCount {
                throw MeshError(.tlsChainTooLong, "more than \(maxCount) certificates in one file")
            }
        }
        // The loop ends with "no start line" when the text is used up; any other error is a corrupt block,
        // which must fail the load rather than quietly drop an intermediate or a bundle root.
        let last = ERR_peek_last_error()
        let cleanEnd = last == 0 || (ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE)
        if !cleanEnd {
            throw OpenSSLError.error(.tlsBadCertificate, "certificate \(out.count + 1) in the file is corrupt or cut short")
        }
        OpenSSLError.clear()
        if out.isEmpty { throw MeshError(.tlsBadCertificate, "no PEM certificate found") }
        return out
    }

    /// PEM text.
    public func pem() -> [UInt8] {
        let bio = MemoryBIO()
        PEM_write_bio_X509(bio.bio, x509)
        return bio.contents
    }

    /// DER bytes.
    public func der() -> [UInt8] {
        let n = i2d_X509(x509, nil)
        guard n > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: Int(n))
        out.withUnsafeMutableBufferPointer { buf in
            var p: UnsafeMutablePointer<UInt8>? = buf.baseAddress
            _ = i2d_X509(x509, &p)
        }
        return out
    }

    /// SHA-256 of the DER encoding, lowercase hex (the trust-bundle fingerprint).
    public var sha256Fingerprint: String {
        var md = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 0
        X509_digest(x509, EVP_sha256(), &md, &len)
        return md.prefix(Int(len)).map { String(format2: $0) }.joined()
    }

    /// Serial number, uppercase hex.
    public var serialHex: String {
        guard let bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509), nil) else { return "" }
        defer { BN_free(bn) }
        guard let s = BN_bn2hex(bn) else { return "" }
        defer { CMeshOpenSSLShims_OPENSSL_free(s) }
        return String(cString: s)
    }

    /// Validity as seconds since the epoch.
    public var notBefore: Double { Self.seconds(X509_get0_notBefore(x509)) }
    public var notAfter: Double { Self.seconds(X509_get0_notAfter(x509)) }

    static func seconds(_ t: UnsafePointer<ASN1_TIME>?) -> Double {
        var tm = tm()
        guard let t, ASN1_TIME_to_tm(t, &tm) == 1 else { return 0 }
        return Double(timegm(&tm))
    }

    /// Every URI subjectAltName, as raw text (not validated).
    public var uriSANs: [String] {
        guard let raw = X509_get_ext_d2i(x509, NID_subject_alt_name, nil, nil) else { return [] }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        var out: [String] = []
        for i in 0..<CMeshOpenSSLShims_sk_GENERAL_NAME_num(names) {
            guard let gn = CMeshOpenSSLShims_sk_GENERAL_NAME_value(names, i), gn.pointee.type == GEN_URI else { continue }
            let s = gn.pointee.d.uniformResourceIdentifier
            guard let data = ASN1_STRING_get0_data(s) else { out.append(""); continue }
            let n = Int(ASN1_STRING_length(s))
            out.append(String(decoding: UnsafeBufferPointer(start: data, count: n), as: UTF8.self))
        }
        return out
    }

    /// The subject's common name, for display only: identity never comes from it.
    public var commonName: String {
        guard let name = X509_get_subject_name(x509) else { return "" }
        var buf = [CChar](repeating: 0, count: 256)
        let n = X509_NAME_get_text_by_NID(name, NID_commonName, &buf, Int32(buf.count))
        return n > 0 ? buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } : ""
    }

    var extensionFlags: UInt32 { X509_get_extension_flags(x509) }
    var keyUsageBits: UInt32 { X509_get_key_usage(x509) }
    var extendedKeyUsageBits: UInt32 { X509_get_extended_key_usage(x509) }
}

extension String {
    /// Two lowercase hex digits.
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
    }
}
