@testable import MeshTLS
import MeshCore
import Testing
import MeshTestSupport

/// The X.509-SVID rules of SECURITY.md §2, applied directly to minted leaves (no TLS, no chain check): each rule
/// in isolation, the first broken one named.
@Suite struct SVIDValidatorTests {
    @Test(arguments: [PeerRole.client, .server])
    func acceptsProperSVIDForEitherRole(role: PeerRole) throws {
        let authority = try TestCA()
        let leaf = try authority.mint(clientID.description).chain[0]
        #expect(SVIDValidator.validate(leaf, role: role, trustDomain: meshDomain) == .success(clientID))
    }

    @Test(arguments: [
        (PeerCert.ours("cA=true") { t, _ in t.isCA = true }, PeerRole.client, PeerRejection.leafIsCA),
        (.ours("cA=true, even with a good key usage") { t, _ in t.isCA = true; t.keyUsage = "critical,digitalSignature" }, .server, .leafIsCA),
        (.ours("no key usage") { t, _ in t.keyUsage = nil }, .client, .noKeyUsage),
        (.ours("no digitalSignature") { t, _ in t.keyUsage = "critical,keyEncipherment" }, .client, .noDigitalSignature),
        (.ours("keyAgreement only") { t, _ in t.keyUsage = "critical,keyAgreement" }, .server, .noDigitalSignature),
        (.ours("keyCertSign") { t, _ in t.keyUsage = "critical,digitalSignature,keyCertSign" }, .client, .leafCanSign),
        (.ours("cRLSign") { t, _ in t.keyUsage = "critical,digitalSignature,cRLSign" }, .server, .leafCanSign),
        (.ours("EKU serverAuth only, inbound") { t, _ in t.extendedKeyUsage = "serverAuth" }, .client, .wrongEKU),
        (.ours("EKU clientAuth only, outbound") { t, _ in t.extendedKeyUsage = "clientAuth" }, .server, .wrongEKU),
        (.ours("EKU codeSigning only") { t, _ in t.extendedKeyUsage = "codeSigning" }, .client, .wrongEKU),
        (.ours("no URI SAN, identity in the CN") { t, _ in t.uriSANs = []; t.commonName = clientID.description }, .client, .noURISAN),
        (.ours("only a DNS SAN") { t, _ in t.uriSANs = []; t.dnsSANs = ["frontend.shop.mesh.local"] }, .client, .noURISAN),
        (.ours("two URI SANs") { t, _ in t.uriSANs = [clientID.description, clientID.description] }, .client, .multipleURISANs),
        (.ours("a SPIFFE and an https URI") { t, _ in t.uriSANs = [clientID.description, "https://mesh.local/x"] }, .client, .multipleURISANs),
        (.ours("https URI", uri: "https://mesh.local/x"), .client, .badSPIFFEID),
        (.ours("trust-domain ID", uri: "spiffe://mesh.local"), .client, .badSPIFFEID),
        (.ours("empty segment", uri: "spiffe://mesh.local/a//b"), .client, .badSPIFFEID),
        (.ours("uppercase trust domain", uri: "spiffe://MESH.local/a"), .client, .badSPIFFEID),
        (.ours("dot-dot segment", uri: "spiffe://mesh.local/a/.."), .client, .badSPIFFEID),
        (.ours("query", uri: "spiffe://mesh.local/a?b"), .client, .badSPIFFEID),
        (.ours("other trust domain", uri: "spiffe://other.td/ns/a/sa/b"), .client, .foreignTrustDomain),
        (.ours("parent trust domain", uri: "spiffe://local/ns/a/sa/b"), .server, .foreignTrustDomain),
        (.ours("sub trust domain", uri: "spiffe://x.mesh.local/ns/a/sa/b"), .server, .foreignTrustDomain),
    ] as [(PeerCert, PeerRole, PeerRejection)])
    func refusesLeafBreakingARule(_ cert: PeerCert, role: PeerRole, expected: PeerRejection) throws {
        let authority = try TestCA()
        let leaf = try cert.mint(authority).chain[0]
        #expect(SVIDValidator.validate(leaf, role: role, trustDomain: meshDomain) == .failure(expected), "\(cert.name)")
    }

    /// EKU is optional; when present it must name the peer's role (both is fine).
    @Test(arguments: [
        (nil, PeerRole.client), (nil, .server),
        ("clientAuth", .client), ("serverAuth", .server),
        ("serverAuth,clientAuth", .client), ("serverAuth,clientAuth", .server),
        ("clientAuth,codeSigning", .client),
    ] as [(String?, PeerRole)])
    func acceptsEKUThatNamesThePeerRole(eku: String?, role: PeerRole) throws {
        let authority = try TestCA()
        let leaf = try authority.mint(clientID.description) { $0.extendedKeyUsage = eku }.chain[0]
        #expect(SVIDValidator.validate(leaf, role: role, trustDomain: meshDomain) == .success(clientID))
    }

    /// The first broken rule wins: a CA certificate with no URI SAN is reported as a CA.
    @Test func reportsTheFirstBrokenRule() throws {
        let authority = try TestCA()
        let leaf = try authority.mint(clientID.description) { $0.isCA = true; $0.uriSANs = []; $0.keyUsage = nil }.chain[0]
        #expect(SVIDValidator.validate(leaf, role: .client, trustDomain: meshDomain) == .failure(.leafIsCA))
    }

    /// OpenSSL's chain-verification results map to our reasons (values from x509_vfy.h).
    @Test(arguments: [
        (10, PeerRejection.expired), (9, .notYetValid), (18, .selfSigned), (19, .selfSigned),
        (2, .unknownCA), (20, .unknownCA), (21, .unknownCA), (26, .wrongPurpose), (22, .chainTooLong),
        (7, .badSignature), (4, .invalidCertificate), (50, .invalidCertificate),
    ])
    func mapsVerifyResultToReason(code: Int, expected: PeerRejection) {
        #expect(SVIDValidator.rejection(forVerifyResult: code) == expected)
    }

    /// Raw values are metric labels: they must stay stable and distinct.
    @Test func rejectionLabelsAreDistinct() {
        let labels = PeerRejection.allCases.map(\.rawValue)
        #expect(Set(labels).count == labels.count)
        #expect(PeerRejection.noCertificate.rawValue == "no-client-certificate")
        #expect(PeerRejection.wrongServerIdentity.rawValue == "server-identity-mismatch")
    }
}
