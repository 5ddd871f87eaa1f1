@testable import MeshTLS
import MeshCore
import Testing

/// A way to mint a client certificate, named for the test report.
struct ClientCert: Sendable, CustomTestStringConvertible {
    let name: String
    let mint: @Sendable (TestAuthority) throws -> Minted
    var testDescription: String { name }

    /// Our CA signs the template for `uri` after `change`.
    static func ours(_ name: String, uri: String = clientID.description,
                     _ change: @escaping @Sendable (inout CertificateTemplate, Double) -> Void = { _, _ in }) -> ClientCert {
        ClientCert(name: name) { authority in
            try authority.mint(uri) { change(&$0, authority.now) }
        }
    }

    /// A proper SVID for `uri` from our CA.
    static func svid(_ uri: String) -> ClientCert { ours("URI SAN \(uri)", uri: uri) }
}

private let day = 86_400.0

/// SECURITY.md §3, client certificates, on the inbound side (trust domain `mesh.local`): every row is refused
/// with the exact reason our logs and counters get.
@Suite struct ClientCertificateMatrixTests {
    @Test func acceptsValidClientSVIDWithItsExactID() throws {
        let authority = try TestAuthority()
        let outcome = try inboundOutcome(try authority.mint(clientID.description), authority: authority)
        #expect(outcome == .success(clientID))
        #expect(try outcome.get().description == "spiffe://mesh.local/ns/shop/sa/frontend")
    }

    @Test func acceptsClientSVIDIssuedByAnIntermediate() throws {
        let authority = try TestAuthority()
        let intermediate = try authority.intermediate()
        let key = try PrivateKey.generateP256()
        let leaf = try intermediate.issue(authority.template(clientID.description), for: key)
        let outcome = try inboundOutcome([leaf, intermediate.certificate], key, authority: authority)
        #expect(outcome == .success(clientID))
    }

    @Test func refusesClientWithoutCertificate() throws {
        let authority = try TestAuthority()
        let minted = try authority.mint(clientID.description)
        let outcome = try inboundOutcome(minted.chain, minted.key, authority: authority, presentCertificate: false)
        #expect(outcome == .failure(.noCertificate))
    }

    @Test(arguments: [
        // Chain verification (OpenSSL, client purpose)
        (ClientCert.ours("expired") { t, now in t.notBefore = now - 2 * day; t.notAfter = now - day }, PeerRejection.expired),
        (.ours("not yet valid") { t, now in t.notBefore = now + day; t.notAfter = now + 2 * day }, .notYetValid),
        (ClientCert(name: "self-signed leaf") { authority in
            let key = try PrivateKey.generateP256()
            let cert = try CertificateAuthority.sign(authority.template(clientID.description), subjectKey: key,
                                                     issuer: nil, issuerKey: key)
            return Minted(chain: [cert], key: key)
        }, .selfSigned),
        (ClientCert(name: "issued by another CA") { _ in
            try TestAuthority(commonName: "another root").mint(clientID.description)
        }, .unknownCA),
        (ClientCert(name: "issued by another CA with our CA's name") { _ in
            try TestAuthority().mint(clientID.description)
        }, .unknownCA),
        (ClientCert(name: "chain of five intermediates") { authority in
            var issuer = authority.ca
            var intermediates: [Certificate] = []
            for _ in 0..<5 {
                issuer = try TestAuthority.intermediate(of: issuer, now: authority.now)
                intermediates.insert(issuer.certificate, at: 0)
            }
            let key = try PrivateKey.generateP256()
            let leaf = try issuer.issue(authority.template(clientID.description), for: key)
            return Minted(chain: [leaf] + intermediates, key: key)
        }, .chainTooLong),
        (.ours("no digitalSignature") { t, _ in t.keyUsage = "critical,keyEncipherment" }, .wrongPurpose),
        (.ours("EKU serverAuth only") { t, _ in t.extendedKeyUsage = "serverAuth" }, .wrongPurpose),
        (.ours("EKU codeSigning only") { t, _ in t.extendedKeyUsage = "codeSigning" }, .wrongPurpose),
        // X.509-SVID rules (ours, on the verified leaf)
        (.ours("CA certificate as leaf") { t, _ in t.isCA = true }, .leafIsCA),
        (ClientCert(name: "our root CA itself as leaf") { authority in
            Minted(chain: [authority.ca.certificate], key: authority.ca.key)
        }, .leafIsCA),
        (.ours("no key usage") { t, _ in t.keyUsage = nil }, .noKeyUsage),
        (.ours("leaf with keyCertSign") { t, _ in t.keyUsage = "critical,digitalSignature,keyCertSign" }, .leafCanSign),
        (.ours("leaf with cRLSign") { t, _ in t.keyUsage = "critical,digitalSignature,cRLSign" }, .leafCanSign),
        (.ours("identity only in the CN") { t, _ in t.uriSANs = []; t.commonName = clientID.description }, .noURISAN),
        (.ours("only a DNS SAN") { t, _ in t.uriSANs = []; t.dnsSANs = ["frontend.shop.mesh.local"] }, .noURISAN),
        (.ours("two URI SANs") { t, _ in t.uriSANs = [clientID.description, serverID.description] }, .multipleURISANs),
        (.ours("SPIFFE URI plus a DNS SAN") { t, _ in t.dnsSANs = ["frontend.shop.mesh.local"] }, nil),
        (.svid("https://mesh.local/x"), .badSPIFFEID),
        (.svid("spiffe://mesh.local/a//b"), .badSPIFFEID),
        (.svid("spiffe://MESH.local/a"), .badSPIFFEID),
        (.svid("spiffe://mesh.local"), .badSPIFFEID),
        (.svid("spiffe://mesh.local/a/"), .badSPIFFEID),
        (.svid("spiffe://mesh.local/./a"), .badSPIFFEID),
        (.svid("spiffe://mesh.local/%41"), .badSPIFFEID),
        (.svid("spiffe://mesh.local:443/a"), .badSPIFFEID),
        (.svid("spiffe://u@mesh.local/a"), .badSPIFFEID),
        (.svid("spiffe://mesh.local/a#b"), .badSPIFFEID),
        (.svid("Spiffe://mesh.local/a"), .badSPIFFEID),
        (.svid("spiffe://other.td/ns/a/sa/b"), .foreignTrustDomain),
    ] as [(ClientCert, PeerRejection?)])
    func refusesBadClientCertificate(_ cert: ClientCert, expected: PeerRejection?) throws {
        let authority = try TestAuthority()
        let outcome = try inboundOutcome(try cert.mint(authority), authority: authority)
        if let expected {
            #expect(outcome == .failure(expected), "\(cert.name)")
        } else {
            #expect(outcome == .success(clientID), "\(cert.name)")
        }
    }
}

extension TestAuthority {
    /// An intermediate CA for `mesh.local` signed by `parent`.
    static func intermediate(of parent: CertificateAuthority, now: Double) throws -> CertificateAuthority {
        let key = try PrivateKey.generateP256()
        let t = CertificateTemplate.ca(trustDomain: meshDomain, commonName: "intermediate", now: now, lifetime: 86_400)
        return CertificateAuthority(certificate: try parent.issue(t, for: key), key: key)
    }

    func intermediate() throws -> CertificateAuthority { try Self.intermediate(of: ca, now: now) }
}
