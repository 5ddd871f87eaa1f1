#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshTLS

/// A certificate and the key it was issued for.
public struct Minted: Sendable {
    public let chain: [Certificate]
    public let key: PrivateKey

    public init(chain: [Certificate], key: PrivateKey) {
        self.chain = chain
        self.key = key
    }
}

/// A root CA minted at test time (keys live in memory only, never in the repository), and the workload
/// certificates it signs. Every test makes its own, so tests never share trust by accident.
public struct TestCA: Sendable {
    /// `mesh.local`, the trust domain of every test mesh unless a test says otherwise.
    public static let meshDomain = try! TrustDomain("mesh.local")

    public let now: Double
    public let trustDomain: TrustDomain
    public let ca: CertificateAuthority
    public var certificate: Certificate { ca.certificate }

    public init(trustDomain: TrustDomain = TestCA.meshDomain, commonName: String? = nil,
                now: Double = Double(time(nil))) throws {
        self.now = now
        self.trustDomain = trustDomain
        ca = try CertificateAuthority.selfSignedRoot(trustDomain: trustDomain, now: now, commonName: commonName)
    }

    /// A proper X.509-SVID template for `uri` (raw text, so malformed IDs can be minted too).
    public func template(_ uri: String) -> CertificateTemplate {
        var t = CertificateTemplate(notBefore: now - 60, notAfter: now + 3600)
        t.uriSANs = [uri]
        return t
    }

    /// Issues `template` for a fresh P-256 key.
    public func mint(_ template: CertificateTemplate) throws -> Minted {
        let key = try PrivateKey.generateP256()
        return Minted(chain: [try ca.issue(template, for: key)], key: key)
    }

    /// Issues a proper SVID for `uri`, after `change` has had its say on the template.
    public func mint(_ uri: String, _ change: (inout CertificateTemplate) -> Void = { _ in }) throws -> Minted {
        var t = template(uri)
        change(&t)
        return try mint(t)
    }

    /// A checked identity for a proper SVID named `uri`, trusting this CA.
    public func identity(_ uri: String) throws -> TLSIdentity {
        let m = try mint(uri)
        return try TLSIdentity(chain: m.chain, key: m.key, trustBundle: [ca.certificate], trustDomain: trustDomain)
    }
}

extension TestCA {
    /// An intermediate CA for `trustDomain` signed by `parent`.
    public static func intermediate(of parent: CertificateAuthority, trustDomain: TrustDomain = TestCA.meshDomain,
                                    now: Double, commonName: String = "intermediate",
                                    lifetime: Double = 86_400) throws -> CertificateAuthority {
        let key = try PrivateKey.generateP256()
        let t = CertificateTemplate.ca(trustDomain: trustDomain, commonName: commonName, now: now, lifetime: lifetime)
        return CertificateAuthority(certificate: try parent.issue(t, for: key), key: key)
    }

    /// A proper SVID for `uri` issued at the bottom of `intermediates` CAs below the root; the chain is
    /// leaf first, as a peer sends it.
    public func mintThrough(intermediates: Int, uri: String) throws -> Minted {
        var issuer = ca
        var above: [Certificate] = []
        for level in 0..<intermediates {
            issuer = try Self.intermediate(of: issuer, trustDomain: trustDomain, now: now,
                                           commonName: "intermediate \(level + 1)")
            above.insert(issuer.certificate, at: 0)
        }
        let key = try PrivateKey.generateP256()
        return Minted(chain: [try issuer.issue(template(uri), for: key)] + above, key: key)
    }
}
