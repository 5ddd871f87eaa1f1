@testable import MeshTLS
import MeshCore
import Testing
import MeshTestSupport

/// TLS 1.3 resumption between two sidecars: a second connection offering the first one's session skips the
/// certificate exchange when resumption is on, and still knows who the peer is.
@Suite struct ResumptionTests {
    /// Contexts for both ends, built once and shared by both connections (the server's cache and ticket keys
    /// live in its context).
    private struct Ends {
        let server: TLSContext
        let client: TLSContext

        init(_ mode: ResumptionMode) throws {
            let authority = try TestCA()
            server = try TLSContext(role: .server, identity: authority.identity(serverID.description), resumption: mode)
            client = try TLSContext(role: .client, identity: authority.identity(clientID.description), resumption: mode)
        }

        /// A full first connection; the session is taken after the client read bytes from the server, so the
        /// ticket that TLS 1.3 sends after the handshake has arrived.
        func firstSession() throws -> (TLSConnection, TLSSession?) {
            let c = try TLSConnection(serverContext: server, clientContext: client)
            let outcome = c.handshake()
            try #require(outcome.server == .done && outcome.client == .done, "\(outcome)")
            let hello = Array("hello".utf8)
            #expect(transfer(hello, from: c.server, to: c.client, sockets: c.sockets) == hello)
            #expect(!c.client.isResumed && !c.server.isResumed)
            return (c, c.client.takeSession())
        }
    }

    @Test(arguments: [ResumptionMode.stateful, .tickets])
    func resumesWithSessionFromFirstConnection(mode: ResumptionMode) throws {
        let ends = try Ends(mode)
        let (first, session) = try ends.firstSession()
        defer { withExtendedLifetime(first) {} }
        try #require(session != nil, "no resumable session after reading from the server")

        let second = try TLSConnection(serverContext: ends.server, clientContext: ends.client, resume: session)
        let outcome = second.handshake()
        try #require(outcome.server == .done && outcome.client == .done, "\(outcome)")
        #expect(second.server.isResumed)
        #expect(second.client.isResumed)
        // The identities survive resumption: both sides still verify their peer.
        #expect(second.server.verifyPeer() == .success(clientID))
        #expect(second.client.verifyPeer(expecting: serverID) == .success(serverID))
        let ping = randomBytes(1_000)
        #expect(transfer(ping, from: second.client, to: second.server, sockets: second.sockets) == ping)
    }

    @Test func offNeverResumes() throws {
        let ends = try Ends(.off)
        let (first, session) = try ends.firstSession()
        defer { withExtendedLifetime(first) {} }
        #expect(session == nil, "with resumption off no resumable session is handed out")

        let second = try TLSConnection(serverContext: ends.server, clientContext: ends.client, resume: session)
        let outcome = second.handshake()
        try #require(outcome.server == .done && outcome.client == .done, "\(outcome)")
        #expect(!second.server.isResumed)
        #expect(!second.client.isResumed)
        #expect(second.server.verifyPeer() == .success(clientID))
    }

    /// A session taken straight after the handshake, before any read, has no ticket yet: nothing to resume.
    @Test(arguments: [ResumptionMode.stateful, .tickets])
    func sessionTakenBeforeAnyReadIsNotResumable(mode: ResumptionMode) throws {
        let ends = try Ends(mode)
        let c = try TLSConnection(serverContext: ends.server, clientContext: ends.client)
        let outcome = c.handshake()
        try #require(outcome.server == .done && outcome.client == .done)
        #expect(c.client.takeSession() == nil)
    }

    /// A session from one server is useless against a server with other keys and cache: a full handshake.
    @Test(arguments: [ResumptionMode.stateful, .tickets])
    func sessionFromAnotherServerDoesNotResume(mode: ResumptionMode) throws {
        let ends = try Ends(mode)
        let (first, session) = try ends.firstSession()
        defer { withExtendedLifetime(first) {} }
        try #require(session != nil)
        let otherServer = try TLSContext(role: .server, identity: ends.server.identity, resumption: mode)
        let second = try TLSConnection(serverContext: otherServer, clientContext: ends.client, resume: session)
        let outcome = second.handshake()
        try #require(outcome.server == .done && outcome.client == .done, "\(outcome)")
        #expect(!second.server.isResumed && !second.client.isResumed)
        #expect(second.server.verifyPeer() == .success(clientID))
    }
}
