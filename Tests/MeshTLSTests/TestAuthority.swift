#if canImport(Glibc)
import Glibc
#endif
@testable import MeshTLS
import MeshCore
import Testing

/// The trust domain every test sidecar lives in.
let meshDomain = try! TrustDomain("mesh.local")

/// A certificate and the key it was issued for.
struct Minted: Sendable {
    let chain: [Certificate]
    let key: PrivateKey
}

/// A CA for `mesh.local` minted at test time, and the workload certificates it signs. Every test makes its own.
struct TestAuthority: Sendable {
    let now: Double
    let ca: CertificateAuthority
    var trustDomain: TrustDomain { meshDomain }

    init(commonName: String? = nil, now: Double = Double(time(nil))) throws {
        self.now = now
        ca = try CertificateAuthority.selfSignedRoot(trustDomain: meshDomain, now: now, commonName: commonName)
    }

    /// A proper X.509-SVID template for `uri` (raw text, so malformed IDs can be minted too).
    func template(_ uri: String) -> CertificateTemplate {
        var t = CertificateTemplate(notBefore: now - 60, notAfter: now + 3600)
        t.uriSANs = [uri]
        return t
    }

    /// Issues `template` (after `change`) for a fresh P-256 key.
    func mint(_ template: CertificateTemplate) throws -> Minted {
        let key = try PrivateKey.generateP256()
        return Minted(chain: [try ca.issue(template, for: key)], key: key)
    }

    func mint(_ uri: String, _ change: (inout CertificateTemplate) -> Void = { _ in }) throws -> Minted {
        var t = template(uri)
        change(&t)
        return try mint(t)
    }

    /// A checked identity for a proper SVID named `uri`.
    func identity(_ uri: String) throws -> TLSIdentity {
        let m = try mint(uri)
        return try TLSIdentity(chain: m.chain, key: m.key, trustBundle: [ca.certificate], trustDomain: meshDomain)
    }

    /// An identity that skips the SVID check on its own leaf, for peers with broken certificates. It trusts
    /// this authority, so only the other side has a reason to refuse.
    func uncheckedIdentity(_ minted: Minted) -> TLSIdentity {
        TLSIdentity(unchecked: minted.chain, key: minted.key, trustBundle: [ca.certificate], trustDomain: meshDomain,
                    spiffeID: placeholderID)
    }
}

extension TestAuthority {
    /// An intermediate CA for `mesh.local` signed by `parent`.
    static func intermediate(of parent: CertificateAuthority, now: Double,
                             commonName: String = "intermediate") throws -> CertificateAuthority {
        let key = try PrivateKey.generateP256()
        let t = CertificateTemplate.ca(trustDomain: meshDomain, commonName: commonName, now: now, lifetime: 86_400)
        return CertificateAuthority(certificate: try parent.issue(t, for: key), key: key)
    }

    /// A proper SVID for `uri` issued at the bottom of `intermediates` CAs below the root; the chain is
    /// leaf first, as a peer sends it.
    func mintThrough(intermediates: Int, uri: String) throws -> Minted {
        var issuer = ca
        var above: [Certificate] = []
        for level in 0..<intermediates {
            issuer = try Self.intermediate(of: issuer, now: now, commonName: "intermediate \(level + 1)")
            above.insert(issuer.certificate, at: 0)
        }
        let key = try PrivateKey.generateP256()
        return Minted(chain: [try issuer.issue(template(uri), for: key)] + above, key: key)
    }
}

let placeholderID = try! SPIFFEID.workload("spiffe://mesh.local/ns/test/sa/unchecked")
let serverID = try! SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/payments")
let clientID = try! SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/frontend")

/// Runs `body` and expects a `MeshError` with `code`.
@discardableResult
func expectMeshError(_ code: String, sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: () throws -> Void) -> MeshError? {
    do {
        try body()
        Issue.record("expected \(code), but nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as MeshError {
        #expect(error.code == code, "reason: \(error.reason)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected MeshError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
