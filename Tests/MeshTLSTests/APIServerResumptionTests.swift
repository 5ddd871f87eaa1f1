@testable import MeshTLS
import MeshCore
import Testing
import MeshTestSupport

/// The control plane's API server context (`apiServer`: optional client certificates, stateless tickets)
/// resumes a client's session on its second connection, and a new serving context (a renewed serving
/// certificate) resumes none of the old one's.
@Suite struct APIServerResumptionTests {
    @Test func secondConnectionResumesAndANewServingContextDoesNot() throws {
        let authority = try TestCA()
        let server = try TLSContext.apiServer(identity: authority.identity(serverID.description))
        let client = try TLSContext(role: .client, identity: authority.identity(clientID.description), resumption: .stateful)
        let first = try TLSConnection(serverContext: server, clientContext: client)
        let outcome = first.handshake()
        try #require(outcome.server == .done && outcome.client == .done, "\(outcome)")
        let hello = Array("hello".utf8)
        #expect(transfer(hello, from: first.server, to: first.client, sockets: first.sockets) == hello)
        let session = try #require(first.client.takeSession())

        let second = try TLSConnection(serverContext: server, clientContext: client, resume: session)
        #expect(second.handshake().client == .done)
        #expect(second.server.isResumed && second.client.isResumed)
        #expect(second.client.verifyPeer(expecting: serverID) == .success(serverID))

        let renewed = try TLSContext.apiServer(identity: authority.identity(serverID.description))
        let third = try TLSConnection(serverContext: renewed, clientContext: client, resume: session)
        #expect(third.handshake().client == .done)
        #expect(!third.server.isResumed && !third.client.isResumed)
        #expect(third.client.verifyPeer(expecting: serverID) == .success(serverID))
    }

    /// An expired client certificate still completes the handshake (the API decides what it may do): the
    /// ticket issued for it may not be resumable, but it must not break the handshake.
    @Test func anExpiredClientCertificateStillHandshakes() throws {
        let authority = try TestCA()
        let server = try TLSContext.apiServer(identity: authority.identity(serverID.description))
        let now = authority.now
        let m = try authority.mint(clientID.description) { $0.notBefore = now - 7200; $0.notAfter = now - 600 }
        let expired = try TLSIdentity(chain: m.chain, key: m.key, trustBundle: [authority.ca.certificate], trustDomain: meshDomain)
        let client = try TLSContext(role: .client, identity: expired, resumption: .stateful)
        let c = try TLSConnection(serverContext: server, clientContext: client)
        let outcome = c.handshake()
        #expect(outcome.server == .done && outcome.client == .done, "\(outcome)")
        let hello = Array("hello".utf8)
        #expect(transfer(hello, from: c.server, to: c.client, sockets: c.sockets) == hello)
    }
}
