import MeshCore
import MeshTLS

/// Why a proxied connection ended or was refused. One closed set: failure counters keyed by it stay bounded,
/// and logs, `/stats` and the `reason` metric label can only take these values. Raw values are the stable
/// strings those already show; the refusals of the TLS layer and of authorization keep their own raw values.
public enum CloseReason: String, Sendable, CaseIterable, Comparable {
    // The TLS layer refused the peer (`PeerRejection`).
    case noCertificate = "no-client-certificate"
    case expired = "cert-expired"
    case notYetValid = "cert-not-yet-valid"
    case selfSigned = "cert-self-signed"
    case unknownCA = "cert-unknown-ca"
    case wrongPurpose = "cert-wrong-purpose"
    case chainTooLong = "cert-chain-too-long"
    case badSignature = "cert-bad-signature"
    case invalidCertificate = "cert-invalid"
    case leafIsCA = "svid-is-ca"
    case noKeyUsage = "svid-no-key-usage"
    case noDigitalSignature = "svid-no-digital-signature"
    case leafCanSign = "svid-key-cert-sign"
    case wrongEKU = "svid-wrong-eku"
    case noURISAN = "svid-no-uri-san"
    case multipleURISANs = "svid-multiple-uri-sans"
    case badSPIFFEID = "svid-bad-spiffe-id"
    case svidForeignTrustDomain = "svid-foreign-trust-domain"
    case wrongServerIdentity = "server-identity-mismatch"
    case notTLS = "not-tls"
    case plaintextHTTP = "plaintext-http"
    case protocolVersion = "tls-version"
    case handshakeFailed = "handshake-failed"
    case handshakeTimeout = "handshake-timeout"
    case handshakeEOF = "handshake-eof"
    // Authorization refused the peer (`DenyReason`).
    case notAllowed = "identity-not-allowed"
    case foreignTrustDomain = "foreign-trust-domain"
    case noIdentity = "no-identity"
    case noPolicy = "no-policy"
    /// The peer's identity is quarantined (the control plane's deny list): above every allow, both directions.
    case identityQuarantined = "identity-quarantined"
    /// Allowed, but the caller opened new connections faster than the rule's `rateLimit` or its throttle.
    case rateLimited = "rate-limited"
    // The sidecar's own.
    /// Both directions ended normally.
    case closed = "closed"
    case idleTimeout = "idle-timeout"
    /// A TLS read or write failed while pumping.
    case tlsError = "tls-error"
    /// A plaintext read or write failed while pumping.
    case socketError = "socket-error"
    case internalError = "internal-error"
    /// Outbound listener without an upstream.
    case defaultDeny = "default-deny"
    case egressNotAllowed = "egress-not-allowed"
    case ownCertificateExpired = "own-certificate-expired"
    case noAppAddress = "no-app-address"
    case permissionRevoked = "permission-revoked"
    /// The peer's identity or certificate is on the control plane's deny list (revoked).
    case identityRevoked = "identity-revoked"
    case serverIdentityChanged = "server-identity-changed"
    case appUnreachable = "app-unreachable"
    case upstreamUnreachable = "upstream-unreachable"
    /// Outbound listener by service with no endpoint: none registered, no static `upstream`, no mesh address.
    case noEndpoint = "no-endpoint"
    case appConnectTimeout = "app-connect-timeout"
    /// `http` ports: the app's answer was not HTTP/1.1 we can frame (or an unasked-for 101).
    case appProtocolError = "app-protocol-error"
    case upstreamConnectTimeout = "upstream-connect-timeout"
    /// Out of file descriptors: accepting paused.
    case acceptEMFILE = "accept-emfile"
    case maxConnections = "max-connections"
    /// Transparent: the original destination is neither a mesh service nor a declared external destination.
    case egressNotMesh = "egress-not-mesh"
    /// Transparent: the original destination is one of this sidecar's own listeners.
    case transparentLoop = "transparent-loop"
    /// Transparent: the kernel knows no original destination (the connection was not redirected).
    case noOriginalDestination = "no-original-destination"

    public static func < (a: CloseReason, b: CloseReason) -> Bool { a.rawValue < b.rawValue }

    public init(_ r: PeerRejection) {
        switch r {
        case .noCertificate: self = .noCertificate
        case .expired: self = .expired
        case .notYetValid: self = .notYetValid
        case .selfSigned: self = .selfSigned
        case .unknownCA: self = .unknownCA
        case .wrongPurpose: self = .wrongPurpose
        case .chainTooLong: self = .chainTooLong
        case .badSignature: self = .badSignature
        case .invalidCertificate: self = .invalidCertificate
        case .leafIsCA: self = .leafIsCA
        case .noKeyUsage: self = .noKeyUsage
        case .noDigitalSignature: self = .noDigitalSignature
        case .leafCanSign: self = .leafCanSign
        case .wrongEKU: self = .wrongEKU
        case .noURISAN: self = .noURISAN
        case .multipleURISANs: self = .multipleURISANs
        case .badSPIFFEID: self = .badSPIFFEID
        case .foreignTrustDomain: self = .svidForeignTrustDomain
        case .wrongServerIdentity: self = .wrongServerIdentity
        case .notTLS: self = .notTLS
        case .plaintextHTTP: self = .plaintextHTTP
        case .protocolVersion: self = .protocolVersion
        case .handshakeFailed: self = .handshakeFailed
        case .handshakeTimeout: self = .handshakeTimeout
        case .handshakeEOF: self = .handshakeEOF
        }
    }

    public init(_ r: DenyReason) {
        switch r {
        case .notAllowed: self = .notAllowed
        case .foreignTrustDomain: self = .foreignTrustDomain
        case .noIdentity: self = .noIdentity
        case .noPolicy: self = .noPolicy
        case .quarantined: self = .identityQuarantined
        }
    }
}
