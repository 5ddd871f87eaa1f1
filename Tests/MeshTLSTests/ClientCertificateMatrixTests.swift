@testable import MeshTLS
import MeshCore
import Testing
import MeshTestSupport

/// A way to mint a peer certificate, named for the test report.
struct PeerCert: Sendable, CustomTestStringConvertible {
    let name: String
    let mint: @Sendable (TestCA) throws -> Minted
    var testDescription: String { name }

    /// Our CA signs the template for `uri` after `change`.
    static func ours(_ name: String, uri: String = clientID.description,
                     _ change: @escaping @Sendable (inout CertificateTemplate, Double) -> Void = { _, _ in }) -> PeerCert {
        PeerCert(name: name) { authority in
            try authority.mint(uri) { change(&$0, authority.now) }
        }
    }

    /// A proper SVID for `uri` from our CA.
    static func svid(_ uri: String) -> PeerCert { ours("URI SAN \(uri)", uri: uri) }
}

private let day = 86_400.0

/// SECURITY.md §3, client certificates, on the inbound side (trust domain `mesh.local`): every row is refused
/// with the exact reason our logs and counters get.
@Suite struct ClientCertificateMatrixTests {
    @Test func acceptsValidClientSVIDWithItsExactID() throws {
        let authority = try TestCA()
        let outcome = try inboundOutcome(try authority.mint(clientID.description), authority: authority)
        #expect(outcome == .success(clientID))
        #expect(try outcome.get().description == "spiffe://mesh.local/ns/shop/sa/frontend")
    }

    /// Unusual but valid SVIDs: EKU is optional, extra DNS SANs are ignored, dotted segments are legal.
    @Test(arguments: [
        PeerCert.ours("EKU clientAuth only") { t, _ in t.extendedKeyUsage = "clientAuth" },
        .ours("no EKU at all") { t, _ in t.extendedKeyUsage = nil },
        .ours("an extra DNS SAN") { t, _ in t.dnsSANs = ["frontend.shop.mesh.local"] },
        .ours("a CN naming someone else") { t, _ in t.commonName = serverID.description },
        .ours("no keyEncipherment") { t, _ in t.keyUsage = "critical,digitalSignature" },
        PeerCert(name: "one intermediate") { try $0.mintThrough(intermediates: 1, uri: clientID.description) },
    ])
    func acceptsValidClientSVIDVariant(_ cert: PeerCert) throws {
        let authority = try TestCA()
        #expect(try inboundOutcome(try cert.mint(authority), authority: authority) == .success(clientID), "\(cert.name)")
    }

    /// Verify depth 4: a leaf with four intermediates above it still chains; five do not.
    @Test(arguments: [(3, true), (4, true), (5, false)])
    func boundsClientChainDepth(intermediates: Int, accepted: Bool) throws {
        let authority = try TestCA()
        let outcome = try inboundOutcome(try authority.mintThrough(intermediates: intermediates, uri: clientID.description),
                                         authority: authority)
        #expect(outcome == (accepted ? .success(clientID) : .failure(.chainTooLong)))
    }

    @Test func acceptsOddButValidSPIFFEPath() throws {
        let authority = try TestCA()
        let id = try SPIFFEID.workload("spiffe://mesh.local/.x/..x/...")
        #expect(try inboundOutcome(try authority.mint(id.description), authority: authority) == .success(id))
    }

    @Test func refusesClientWithoutCertificate() throws {
        let authority = try TestCA()
        let minted = try authority.mint(clientID.description)
        let outcome = try inboundOutcome(minted.chain, minted.key, authority: authority, presentCertificate: false)
        #expect(outcome == .failure(.noCertificate))
    }

    @Test(arguments: [
        // Chain verification (OpenSSL, client purpose)
        (PeerCert.ours("expired") { t, now in t.notBefore = now - 2 * day; t.notAfter = now - day }, PeerRejection.expired),
        (.ours("not yet valid") { t, now in t.notBefore = now + day; t.notAfter = now + 2 * day }, .notYetValid),
        (PeerCert(name: "self-signed leaf") { authority in
            let key = try PrivateKey.generateP256()
            let cert = try CertificateAuthority.sign(authority.template(clientID.description), subjectKey: key,
                                                     issuer: nil, issuerKey: key)
            return Minted(chain: [cert], key: key)
        }, .selfSigned),
        (PeerCert(name: "issued by another CA") { _ in
            try TestCA(commonName: "another root").mint(clientID.description)
        }, .unknownCA),
        (PeerCert(name: "issued by another CA with our CA's name") { _ in
            try TestCA().mint(clientID.description)
        }, .unknownCA),
        (.ours("no digitalSignature") { t, _ in t.keyUsage = "critical,keyEncipherment" }, .wrongPurpose),
        (.ours("EKU serverAuth only") { t, _ in t.extendedKeyUsage = "serverAuth" }, .wrongPurpose),
        (.ours("EKU codeSigning only") { t, _ in t.extendedKeyUsage = "codeSigning" }, .wrongPurpose),
        // X.509-SVID rules (ours, on the verified leaf)
        (.ours("CA certificate as leaf") { t, _ in t.isCA = true }, .leafIsCA),
        (PeerCert(name: "our root CA itself as leaf") { authority in
            Minted(chain: [authority.ca.certificate], key: authority.ca.key)
        }, .leafIsCA),
        (.ours("no key usage") { t, _ in t.keyUsage = nil }, .noKeyUsage),
        (.ours("leaf with keyCertSign") { t, _ in t.keyUsage = "critical,digitalSignature,keyCertSign" }, .leafCanSign),
        (.ours("leaf with cRLSign") { t, _ in t.keyUsage = "critical,digitalSignature,cRLSign" }, .leafCanSign),
        (.ours("identity only in the CN") { t, _ in t.uriSANs = []; t.commonName = clientID.description }, .noURISAN),
        (.ours("only a DNS SAN") { t, _ in t.uriSANs = []; t.dnsSANs = ["frontend.shop.mesh.local"] }, .noURISAN),
        (.ours("two URI SANs") { t, _ in t.uriSANs = [clientID.description, serverID.description] }, .multipleURISANs),
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
    ] as [(PeerCert, PeerRejection)])
    func refusesBadClientCertificate(_ cert: PeerCert, expected: PeerRejection) throws {
        let authority = try TestCA()
        let outcome = try inboundOutcome(try cert.mint(authority), authority: authority)
        #expect(outcome == .failure(expected), "\(cert.name)")
    }
}
