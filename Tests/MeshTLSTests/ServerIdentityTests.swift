@testable import MeshTLS
import MeshCore
import Testing
import MeshTestSupport

/// Outbound secure naming: our client checks that the server is the workload expected for the destination,
/// not merely "signed by our CA".
@Suite struct ServerIdentityTests {
    @Test func acceptsServerWithExpectedID() throws {
        let authority = try TestCA()
        let server = try authority.mint(serverID.description)
        #expect(try outboundOutcome(server.chain, server.key, expecting: serverID, authority: authority) == .success(serverID))
    }

    @Test func refusesValidServerWithAnotherID() throws {
        let authority = try TestCA()
        let impostor = try authority.mint("spiffe://mesh.local/ns/shop/sa/impostor")
        let outcome = try outboundOutcome(impostor.chain, impostor.key, expecting: serverID, authority: authority)
        #expect(outcome == .failure(.wrongServerIdentity))
    }

    /// Without an expectation, the same server is accepted with its own ID: the mismatch above is secure
    /// naming, not a certificate problem.
    @Test func reportsServerIDWhenNothingIsExpected() throws {
        let authority = try TestCA()
        let other = try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/impostor")
        let server = try authority.mint(other.description)
        let identity = authority.uncheckedIdentity(server)
        let connection = try TLSConnection(
            serverContext: TLSContext(role: .server, identity: identity),
            clientContext: TLSContext(role: .client, identity: try authority.identity(clientID.description)))
        let outcome = connection.handshake()
        try #require(outcome.client == .done && outcome.server == .done, "\(outcome)")
        #expect(connection.client.verifyPeer() == .success(other))
        #expect(connection.client.verifyPeer(expecting: other) == .success(other))
        #expect(connection.client.verifyPeer(expecting: serverID) == .failure(.wrongServerIdentity))
    }

    @Test(arguments: [
        (PeerCert.ours("EKU clientAuth only") { t, _ in t.extendedKeyUsage = "clientAuth" }, PeerRejection.wrongPurpose),
        (PeerCert(name: "issued by another CA") { _ in
            try TestCA(commonName: "another root").mint(serverID.description)
        }, .unknownCA),
        (.ours("expired") { t, now in t.notBefore = now - 172_800; t.notAfter = now - 86_400 }, .expired),
        (.ours("another trust domain", uri: "spiffe://other.td/ns/shop/sa/payments"), .foreignTrustDomain),
        (.ours("identity only in a DNS SAN") { t, _ in t.uriSANs = []; t.dnsSANs = ["payments.shop.mesh.local"] }, .noURISAN),
        (.ours("CA certificate as leaf") { t, _ in t.isCA = true }, .leafIsCA),
        (.ours("leaf with keyCertSign") { t, _ in t.keyUsage = "critical,digitalSignature,keyCertSign" }, .leafCanSign),
    ] as [(PeerCert, PeerRejection)])
    func refusesBadServerCertificate(_ cert: PeerCert, expected: PeerRejection) throws {
        let authority = try TestCA()
        let server = try cert.mint(authority)
        let outcome = try outboundOutcome(server.chain, server.key, expecting: serverID, authority: authority)
        #expect(outcome == .failure(expected), "\(cert.name)")
    }

    /// When our client refuses the server's chain, the server sees only a generic failure, never our reason.
    @Test func serverSeesOnlyAGenericFailureWhenRefused() throws {
        let authority = try TestCA()
        let stranger = try TestCA(commonName: "another root").mint(serverID.description)
        let connection = try TLSConnection(
            serverContext: TLSContext(role: .server, identity: authority.uncheckedIdentity(stranger)),
            clientContext: TLSContext(role: .client, identity: try authority.identity(clientID.description)))
        let outcome = connection.handshake()
        #expect(outcome.client.rejection == .unknownCA)
        #expect(outcome.server.rejection == .handshakeFailed, "\(outcome.server)")
    }
}
