@testable import MeshTLS
import MeshCore
import Testing
import MeshTestSupport

/// Our own identity is checked when loaded: a bad one must fail at start (or at reload), never at the peer.
@Suite struct TLSIdentityTests {
    @Test func loadsProperSVIDAndKnowsItsID() throws {
        let authority = try TestCA()
        let identity = try authority.identity(serverID.description)
        #expect(identity.spiffeID == serverID)
        #expect(identity.trustDomain == meshDomain)
        #expect(identity.leaf.uriSANs == [serverID.description])
    }

    @Test func loadsFromPEMTexts() throws {
        let authority = try TestCA()
        let minted = try authority.mintThrough(intermediates: 1, uri: serverID.description)
        let identity = try TLSIdentity(certificatePEM: Array(minted.chain.map { $0.pem() }.joined()),
                                       keyPEM: minted.key.pem(), bundlePEM: authority.ca.certificate.pem(),
                                       trustDomain: meshDomain)
        #expect(identity.spiffeID == serverID)
        #expect(identity.chain.count == 2)
        _ = try TLSContext(role: .server, identity: identity)
    }

    @Test(arguments: [TLSRole.server, .client])
    func contextRefusesKeyThatDoesNotMatchCertificate(role: TLSRole) throws {
        let authority = try TestCA()
        let minted = try authority.mint(serverID.description)
        let identity = try TLSIdentity(chain: minted.chain, key: try PrivateKey.generateP256(),
                                       trustBundle: [authority.ca.certificate], trustDomain: meshDomain)
        expectMeshError("tls.key-mismatch") { _ = try TLSContext(role: role, identity: identity) }
    }

    @Test(arguments: [
        PeerCert.ours("no URI SAN") { t, _ in t.uriSANs = []; t.commonName = serverID.description },
        .ours("CA certificate") { t, _ in t.isCA = true },
        .ours("no digitalSignature") { t, _ in t.keyUsage = "critical,keyEncipherment" },
        .ours("EKU clientAuth only") { t, _ in t.extendedKeyUsage = "clientAuth" },
        .ours("malformed SPIFFE ID", uri: "spiffe://mesh.local/a//b"),
        .ours("another trust domain", uri: "spiffe://other.td/ns/shop/sa/payments"),
    ])
    func refusesNonSVIDOwnCertificate(_ cert: PeerCert) throws {
        let authority = try TestCA()
        let minted = try cert.mint(authority)
        expectMeshError("tls.bad-own-certificate") {
            _ = try TLSIdentity(chain: minted.chain, key: minted.key, trustBundle: [authority.ca.certificate],
                                trustDomain: meshDomain)
        }
    }

    @Test func refusesEmptyChainAndEmptyBundle() throws {
        let authority = try TestCA()
        let minted = try authority.mint(serverID.description)
        expectMeshError("tls.no-certificate") {
            _ = try TLSIdentity(chain: [], key: minted.key, trustBundle: [authority.ca.certificate], trustDomain: meshDomain)
        }
        expectMeshError("tls.empty-bundle") {
            _ = try TLSIdentity(chain: minted.chain, key: minted.key, trustBundle: [], trustDomain: meshDomain)
        }
    }

    @Test func refusesGarbagePEMTexts() throws {
        let authority = try TestCA()
        let minted = try authority.mint(serverID.description)
        let cert = minted.chain[0].pem(), key = minted.key.pem(), bundle = authority.ca.certificate.pem()
        let junk = Array("junk".utf8)
        expectMeshError("tls.bad-certificate") {
            _ = try TLSIdentity(certificatePEM: junk, keyPEM: key, bundlePEM: bundle, trustDomain: meshDomain)
        }
        expectMeshError("tls.bad-key") {
            _ = try TLSIdentity(certificatePEM: cert, keyPEM: junk, bundlePEM: bundle, trustDomain: meshDomain)
        }
        expectMeshError("tls.bad-certificate") {
            _ = try TLSIdentity(certificatePEM: cert, keyPEM: key, bundlePEM: junk, trustDomain: meshDomain)
        }
    }
}
