@testable import MeshTLS
import MeshCore
import Testing
import MeshTestSupport

/// The server's verdict on a client under `policy`: the server's handshake failure reason, or else
/// `verifyPeer()`. The client presents `minted` (nil: no certificate) and trusts `authority`.
private func apiServerOutcome(_ minted: Minted?, policy: ClientCertificatePolicy = .optional, authority: TestCA,
                              sourceLocation: SourceLocation = #_sourceLocation) throws -> Result<SPIFFEID, PeerRejection> {
    let server = try TLSContext.server(identity: authority.identity(serverID.description), clientCertificates: policy)
    let client = try minted.map { try TLSContext(role: .client, identity: authority.uncheckedIdentity($0)) }
        ?? TLSContext.client(trusting: [authority.ca.certificate], trustDomain: meshDomain)
    let connection = try TLSConnection(serverContext: server, clientContext: client)
    let outcome = connection.handshake()
    if let why = outcome.server.rejection { return .failure(why) }
    try #require(outcome.server == .done && outcome.client == .done, "handshake never finished: \(outcome)",
                 sourceLocation: sourceLocation)
    #expect(connection.client.verifyPeer(expecting: serverID) == .success(serverID), sourceLocation: sourceLocation)
    return connection.server.verifyPeer()
}

/// A connection from a certificate-less `client` context to a server presenting `server` (optional client
/// certificates, so the server never refuses the client), handshake driven to the end.
private func connect(_ client: TLSContext, toServerPresenting server: TLSIdentity) throws -> (TLSConnection, HandshakeOutcome) {
    let connection = try TLSConnection(serverContext: TLSContext.server(identity: server, clientCertificates: .optional),
                                       clientContext: client)
    return (connection, connection.handshake())
}

/// The contexts beyond the mesh's own: an HTTPS API server with optional client certificates, a client that
/// trusts a bundle but shows no certificate, and the insecure bootstrap client.
@Suite struct ContextModeTests {
    // MARK: server(identity:clientCertificates: .optional)

    @Test func optionalServerAcceptsClientWithoutCertificateAndSaysSo() throws {
        let authority = try TestCA()
        #expect(try apiServerOutcome(nil, authority: authority) == .failure(.noCertificate))
    }

    @Test func optionalServerIdentifiesClientWithGoodCertificate() throws {
        let authority = try TestCA()
        #expect(try apiServerOutcome(authority.mint(clientID.description), authority: authority) == .success(clientID))
    }

    /// A client that does present a certificate gets the same chain and SVID checks as on the mesh port.
    @Test(arguments: [
        (PeerCert(name: "issued by another CA") { _ in
            try TestCA(commonName: "another root").mint(clientID.description)
        }, PeerRejection.unknownCA),
        (.ours("expired") { t, now in t.notBefore = now - 172_800; t.notAfter = now - 86_400 }, .expired),
        (.ours("EKU serverAuth only") { t, _ in t.extendedKeyUsage = "serverAuth" }, .wrongPurpose),
        (.ours("CA certificate as leaf") { t, _ in t.isCA = true }, .leafIsCA),
        (.ours("two URI SANs") { t, _ in t.uriSANs = [clientID.description, serverID.description] }, .multipleURISANs),
        (.svid("spiffe://other.td/ns/a/sa/b"), .foreignTrustDomain),
    ] as [(PeerCert, PeerRejection)])
    func optionalServerRefusesBadClientCertificate(_ cert: PeerCert, expected: PeerRejection) throws {
        let authority = try TestCA()
        #expect(try apiServerOutcome(cert.mint(authority), authority: authority) == .failure(expected), "\(cert.name)")
    }

    /// A chain failure is a handshake failure, not something left for the caller to notice.
    @Test func optionalServerFailsHandshakeWithAnotherCAsClient() throws {
        let authority = try TestCA()
        let stranger = try TestCA(commonName: "another root").mint(clientID.description)
        let connection = try TLSConnection(
            serverContext: TLSContext.server(identity: authority.identity(serverID.description), clientCertificates: .optional),
            clientContext: TLSContext(role: .client, identity: authority.uncheckedIdentity(stranger)))
        let outcome = connection.handshake()
        #expect(outcome.server.rejection == .unknownCA, "\(outcome)")
        #expect(outcome.client != .done || connection.server.verifyPeer() != .success(clientID))
    }

    @Test func requiredServerRefusesClientWithoutCertificate() throws {
        let authority = try TestCA()
        #expect(try apiServerOutcome(nil, policy: .required, authority: authority) == .failure(.noCertificate))
        #expect(try apiServerOutcome(authority.mint(clientID.description), policy: .required, authority: authority)
                == .success(clientID))
    }

    @Test func serverContextKeepsItsIdentity() throws {
        let authority = try TestCA()
        let identity = try authority.identity(serverID.description)
        let context = try TLSContext.server(identity: identity, clientCertificates: .optional)
        #expect(context.role == .server)
        #expect(context.identity.spiffeID == serverID)
    }

    // MARK: client(trusting:trustDomain:)

    @Test func trustingClientVerifiesGoodServerWithSecureNaming() throws {
        let authority = try TestCA()
        let client = try TLSContext.client(trusting: [authority.ca.certificate], trustDomain: meshDomain)
        let (connection, outcome) = try connect(client, toServerPresenting: authority.identity(serverID.description))
        try #require(outcome.server == .done && outcome.client == .done, "\(outcome)")
        #expect(connection.client.verifyPeer(expecting: serverID) == .success(serverID))
        #expect(connection.client.verifyPeer() == .success(serverID))
        #expect(connection.client.verifyPeer(expecting: clientID) == .failure(.wrongServerIdentity))
        #expect(connection.server.verifyPeer() == .failure(.noCertificate))
        let hello = Array("hello".utf8)
        #expect(transfer(hello, from: connection.client, to: connection.server, sockets: connection.sockets) == hello)
    }

    @Test func trustingClientRefusesAnotherCAsServer() throws {
        let authority = try TestCA()
        let client = try TLSContext.client(trusting: [authority.ca.certificate], trustDomain: meshDomain)
        let (_, outcome) = try connect(client, toServerPresenting: TestCA(commonName: "another root").identity(serverID.description))
        // That server also sends its own root (OpenSSL auto-chains from its store), hence "self-signed in chain".
        #expect(outcome.client.rejection == .selfSigned || outcome.client.rejection == .unknownCA, "\(outcome)")
        #expect(outcome.server.rejection != nil && outcome.server != .done, "\(outcome)")
    }

    /// Server purpose and SVID rules, as for the mesh's outbound side.
    @Test(arguments: [
        (PeerCert.ours("EKU clientAuth only") { t, _ in t.extendedKeyUsage = "clientAuth" }, PeerRejection.wrongPurpose),
        (.ours("CA certificate as leaf") { t, _ in t.isCA = true }, .leafIsCA),
        (.ours("identity only in a DNS SAN") { t, _ in t.uriSANs = []; t.dnsSANs = ["payments.shop.mesh.local"] }, .noURISAN),
    ] as [(PeerCert, PeerRejection)])
    func trustingClientAppliesServerRules(_ cert: PeerCert, expected: PeerRejection) throws {
        let authority = try TestCA()
        let client = try TLSContext.client(trusting: [authority.ca.certificate], trustDomain: meshDomain)
        let (connection, outcome) = try connect(client, toServerPresenting: authority.uncheckedIdentity(cert.mint(authority)))
        let verdict = outcome.client.rejection.map { .failure($0) } ?? connection.client.verifyPeer(expecting: serverID)
        #expect(verdict == .failure(expected), "\(cert.name)")
    }

    @Test func trustingClientChecksTheGivenTrustDomain() throws {
        let authority = try TestCA()
        let client = try TLSContext.client(trusting: [authority.ca.certificate], trustDomain: TrustDomain("other.td"))
        let (connection, outcome) = try connect(client, toServerPresenting: authority.identity(serverID.description))
        try #require(outcome.client == .done, "\(outcome)")
        #expect(connection.client.verifyPeer() == .failure(.foreignTrustDomain))
    }

    @Test func trustingClientNeedsABundle() throws {
        expectMeshError("tls.empty-bundle") { _ = try TLSContext.client(trusting: [], trustDomain: meshDomain) }
    }

    /// A certificate-less client cannot get into the mesh port, which requires one.
    @Test func trustingClientIsRefusedByAMeshServer() throws {
        let authority = try TestCA()
        let connection = try TLSConnection(
            serverContext: TLSContext(role: .server, identity: authority.identity(serverID.description)),
            clientContext: TLSContext.client(trusting: [authority.ca.certificate], trustDomain: meshDomain))
        #expect(connection.handshake().server.rejection == .noCertificate)
    }

    // MARK: insecureClientForBootstrap()

    @Test func bootstrapClientReachesAnyServerAndTrustsNothing() throws {
        let stranger = try TestCA(commonName: "a root we have never seen")
        let server = try stranger.identity(serverID.description)
        let (connection, outcome) = try connect(TLSContext.insecureClientForBootstrap(), toServerPresenting: server)
        try #require(outcome.server == .done && outcome.client == .done, "\(outcome)")
        // Leaf first; with no intermediates configured OpenSSL auto-chains the server's root from its store.
        let chain = connection.client.peerChain().map(\.sha256Fingerprint)
        #expect(chain.first == server.leaf.sha256Fingerprint)
        #expect(chain.dropFirst().allSatisfy { $0 == stranger.ca.certificate.sha256Fingerprint }, "\(chain)")
        #expect(connection.client.verifyPeer() == .failure(.unknownCA))
        #expect(connection.client.verifyPeer(expecting: serverID) == .failure(.unknownCA))
        let hello = Array("bundle please".utf8)
        #expect(transfer(hello, from: connection.client, to: connection.server, sockets: connection.sockets) == hello)
    }

    /// Even a server our own CA signed is not "verified" through the bootstrap context: the caller checks the
    /// fingerprint itself.
    @Test func bootstrapClientRefusesToVerifyEvenAGoodServer() throws {
        let authority = try TestCA()
        let (connection, outcome) = try connect(TLSContext.insecureClientForBootstrap(),
                                                toServerPresenting: authority.identity(serverID.description))
        try #require(outcome.client == .done, "\(outcome)")
        #expect(connection.client.verifyPeer(expecting: serverID) == .failure(.unknownCA))
    }

    @Test func bootstrapClientSeesTheWholeChainLeafFirst() throws {
        let stranger = try TestCA(commonName: "another root")
        let minted = try stranger.mintThrough(intermediates: 2, uri: serverID.description)
        let server = try TLSIdentity(chain: minted.chain, key: minted.key, trustBundle: [stranger.ca.certificate],
                                     trustDomain: meshDomain)
        let (connection, outcome) = try connect(TLSContext.insecureClientForBootstrap(), toServerPresenting: server)
        try #require(outcome.client == .done, "\(outcome)")
        #expect(connection.client.peerChain().map(\.sha256Fingerprint) == minted.chain.map(\.sha256Fingerprint))
        #expect(connection.client.peerChain().count == 3)
    }

    // MARK: peerChain()

    @Test func serverSideSeesClientChainLeafFirst() throws {
        let authority = try TestCA()
        let minted = try authority.mintThrough(intermediates: 1, uri: clientID.description)
        let client = try TLSIdentity(chain: minted.chain, key: minted.key, trustBundle: [authority.ca.certificate],
                                     trustDomain: meshDomain)
        let connection = try TLSConnection.established(server: authority.identity(serverID.description), client: client)
        #expect(connection.server.peerChain().map(\.sha256Fingerprint) == minted.chain.map(\.sha256Fingerprint))
        #expect(connection.server.verifyPeer() == .success(clientID))
    }

    @Test func peerChainIsEmptyWithoutPeerCertificate() throws {
        let authority = try TestCA()
        let client = try TLSContext.client(trusting: [authority.ca.certificate], trustDomain: meshDomain)
        let (connection, outcome) = try connect(client, toServerPresenting: authority.identity(serverID.description))
        try #require(outcome.server == .done, "\(outcome)")
        #expect(connection.server.peerChain().isEmpty)
    }
}
