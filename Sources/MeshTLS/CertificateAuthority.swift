internal import COpenSSL
internal import CMeshOpenSSLShims
import MeshCore

/// What to put in a certificate. Defaults describe a proper X.509-SVID; tests change single fields to mint
/// the bad certificates of the SECURITY.md matrix. Extension values use OpenSSL's config syntax.
public struct CertificateTemplate: Sendable {
    public var commonName: String?
    public var uriSANs: [String] = []
    public var dnsSANs: [String] = []
    /// IP address SANs (`127.0.0.1`): for ordinary servers checked by address, e.g. etcd members in tests.
    public var ipSANs: [String] = []
    public var isCA = false
    /// nil leaves the extension out.
    public var keyUsage: String? = "critical,digitalSignature,keyEncipherment"
    /// nil leaves the extension out.
    public var extendedKeyUsage: String? = "serverAuth,clientAuth"
    /// Seconds since the epoch.
    public var notBefore: Double
    public var notAfter: Double

    public init(notBefore: Double, notAfter: Double) {
        self.notBefore = notBefore
        self.notAfter = notAfter
    }

    /// A workload SVID valid for `lifetime` seconds from now, back-dated by a tenth of that (at most 60 s)
    /// for clock skew, so that "half its life" stays close to half of `lifetime` even for short TTLs.
    public static func svid(_ id: SPIFFEID, now: Double, lifetime: Double) -> CertificateTemplate {
        var t = CertificateTemplate(notBefore: now - min(60, lifetime / 10), notAfter: now + lifetime)
        t.uriSANs = [id.description]
        return t
    }

    /// A root or intermediate CA for `trustDomain`.
    public static func ca(trustDomain: TrustDomain, commonName: String, now: Double, lifetime: Double) -> CertificateTemplate {
        var t = CertificateTemplate(notBefore: now - 60, notAfter: now + lifetime)
        t.commonName = commonName
        t.isCA = true
        t.keyUsage = "critical,keyCertSign,cRLSign,digitalSignature"
        t.extendedKeyUsage = nil
        t.uriSANs = ["spiffe://\(trustDomain.name)"]
        return t
    }
}

/// A certificate authority: a CA certificate and its key. It decides every field of what it signs.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    public let key: PrivateKey

    public init(certificate: Certificate, key: PrivateKey) {
        self.certificate = certificate
        self.key = key
    }

    /// A new self-signed root with a fresh P-256 key.
    public static func selfSignedRoot(trustDomain: TrustDomain, now: Double, lifetime: Double = 365 * 86_400,
                                      commonName: String? = nil, random: RandomSource = .system) throws -> CertificateAuthority {
        let key = try PrivateKey.generateP256()
        let t = CertificateTemplate.ca(trustDomain: trustDomain, commonName: commonName ?? "\(trustDomain.name) root CA",
                                       now: now, lifetime: lifetime)
        let cert = try Self.sign(t, subjectKey: key, issuer: nil, issuerKey: key, random: random)
        return CertificateAuthority(certificate: cert, key: key)
    }

    /// Signs `template` for the public half of `subjectKey`. `random` draws the serial number.
    public func issue(_ template: CertificateTemplate, for subjectKey: PrivateKey, random: RandomSource = .system) throws -> Certificate {
        try Self.sign(template, subjectKey: subjectKey, issuer: certificate, issuerKey: key, random: random)
    }

    /// Builds and signs one certificate. `issuer` nil means self-signed.
    static func sign(_ t: CertificateTemplate, subjectKey: PrivateKey, issuer: Certificate?, issuerKey: PrivateKey,
                     random: RandomSource = .system) throws -> Certificate {
        guard let x = X509_new() else { throw OpenSSLError.error(.tlsCa, "X509_new") }
        defer { X509_free(x) }
        X509_set_version(x, 2)
        var serial = try random.bytes(16)  // never a guessable or colliding serial: no randomness, no certificate
        serial[0] &= 0x7f
        let bn = BN_bin2bn(serial, 16, nil)
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))
        BN_free(bn)
        ASN1_TIME_set(X509_getm_notBefore(x), time_t(t.notBefore))
        ASN1_TIME_set(X509_getm_notAfter(x), time_t(t.notAfter))
        X509_set_pubkey(x, subjectKey.pkey)
        let name = X509_get_subject_name(x)
        if let cn = t.commonName {
            X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8, cn, -1, -1, 0)
        }
        X509_set_issuer_name(x, issuer.map { X509_get_subject_name($0.x509) } ?? name)
        var ctx = X509V3_CTX()
        X509V3_set_ctx(&ctx, issuer?.x509 ?? x, x, nil, nil, 0)
        var exts: [(Int32, String)] = [(NID_basic_constraints, t.isCA ? "critical,CA:TRUE" : "critical,CA:FALSE")]
        if let ku = t.keyUsage { exts.append((NID_key_usage, ku)) }
        if let eku = t.extendedKeyUsage { exts.append((NID_ext_key_usage, eku)) }
        exts.append((NID_subject_key_identifier, "hash"))
        if issuer != nil || t.isCA { exts.append((NID_authority_key_identifier, "keyid:always")) }
        let sans = t.uriSANs.map { "URI:\($0)" } + t.dnsSANs.map { "DNS:\($0)" } + t.ipSANs.map { "IP:\($0)" }
        if !sans.isEmpty { exts.append((NID_subject_alt_name, sans.joined(separator: ","))) }
        for (nid, value) in exts {
            guard let ext = X509V3_EXT_conf_nid(nil, &ctx, nid, value) else {
                throw OpenSSLError.error(.tlsCa, "bad extension \(value)")
            }
            X509_add_ext(x, ext, -1)
            X509_EXTENSION_free(ext)
        }
        guard X509_sign(x, issuerKey.pkey, EVP_sha256()) > 0 else {
            throw OpenSSLError.error(.tlsCa, "X509_sign")
        }
        return Certificate(owning: X509_dup(x)!)  // re-cache extension flags on the finished certificate
    }
}
