internal import COpenSSL
import MeshCore

/// Why a peer was refused at the TLS layer. Raw values are stable: logged and used as metric labels.
/// The peer never sees them: it gets one generic failure.
public enum PeerRejection: String, Sendable, CaseIterable, Error {
    // Chain verification (OpenSSL, against the trust bundle)
    case noCertificate = "no-client-certificate"
    case expired = "cert-expired"
    case notYetValid = "cert-not-yet-valid"
    case selfSigned = "cert-self-signed"
    case unknownCA = "cert-unknown-ca"
    case wrongPurpose = "cert-wrong-purpose"
    case chainTooLong = "cert-chain-too-long"
    case badSignature = "cert-bad-signature"
    case invalidCertificate = "cert-invalid"
    // X.509-SVID rules on the verified leaf (ours)
    case leafIsCA = "svid-is-ca"
    case noKeyUsage = "svid-no-key-usage"
    case noDigitalSignature = "svid-no-digital-signature"
    case leafCanSign = "svid-key-cert-sign"
    case wrongEKU = "svid-wrong-eku"
    case noURISAN = "svid-no-uri-san"
    case multipleURISANs = "svid-multiple-uri-sans"
    case badSPIFFEID = "svid-bad-spiffe-id"
    case foreignTrustDomain = "svid-foreign-trust-domain"
    // Secure naming (outbound)
    case wrongServerIdentity = "server-identity-mismatch"
    // Handshake
    case notTLS = "not-tls"
    case plaintextHTTP = "plaintext-http"
    case protocolVersion = "tls-version"
    case handshakeFailed = "handshake-failed"
    case handshakeTimeout = "handshake-timeout"
    case handshakeEOF = "handshake-eof"
}

/// Which side of the connection the peer is: it decides the EKU we require.
public enum PeerRole: Sendable {
    case client  // inbound: the peer must be a TLS client (clientAuth)
    case server  // outbound: the peer must be a TLS server (serverAuth)
}

/// The X.509-SVID rules (SECURITY.md §2) applied in Swift to a leaf that OpenSSL has already chain-verified.
public enum SVIDValidator {
    /// Returns the peer's SPIFFE ID or the first rule it breaks.
    public static func validate(_ leaf: Certificate, role: PeerRole, trustDomain: TrustDomain) -> Result<SPIFFEID, PeerRejection> {
        let flags = leaf.extensionFlags
        if flags & UInt32(EXFLAG_CA) != 0 { return .failure(.leafIsCA) }
        if flags & UInt32(EXFLAG_KUSAGE) == 0 { return .failure(.noKeyUsage) }
        let ku = leaf.keyUsageBits
        if ku & UInt32(KU_DIGITAL_SIGNATURE) == 0 { return .failure(.noDigitalSignature) }
        if ku & UInt32(KU_KEY_CERT_SIGN | KU_CRL_SIGN) != 0 { return .failure(.leafCanSign) }
        if flags & UInt32(EXFLAG_XKUSAGE) != 0 {
            let need = role == .client ? UInt32(XKU_SSL_CLIENT) : UInt32(XKU_SSL_SERVER)
            if leaf.extendedKeyUsageBits & need == 0 { return .failure(.wrongEKU) }
        }
        let uris = leaf.uriSANs
        if uris.isEmpty { return .failure(.noURISAN) }
        if uris.count > 1 { return .failure(.multipleURISANs) }
        guard let id = try? SPIFFEID.workload(uris[0]) else { return .failure(.badSPIFFEID) }
        if id.trustDomain != trustDomain { return .failure(.foreignTrustDomain) }
        return .success(id)
    }

    /// Maps an OpenSSL chain-verification result to our reason.
    static func rejection(forVerifyResult r: Int) -> PeerRejection {
        switch Int32(r) {
        case X509_V_ERR_CERT_HAS_EXPIRED: .expired
        case X509_V_ERR_CERT_NOT_YET_VALID: .notYetValid
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: .selfSigned
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
             X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: .unknownCA
        case X509_V_ERR_INVALID_PURPOSE: .wrongPurpose
        case X509_V_ERR_CERT_CHAIN_TOO_LONG: .chainTooLong
        case X509_V_ERR_CERT_SIGNATURE_FAILURE: .badSignature
        default: .invalidCertificate
        }
    }
}
