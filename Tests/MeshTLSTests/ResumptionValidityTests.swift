#if canImport(Glibc)
import Glibc
#endif
@testable import MeshTLS
import MeshCore
import Testing
import MeshTestSupport

/// Hardening #7: a resumed session carries the peer's certificate from the first handshake, and TLS 1.3
/// tickets refresh the session's time on every resumption; neither may outlive that certificate. Real OpenSSL
/// over socket pairs with certificates that live two seconds.
@Suite struct ResumptionValidityTests {
    static let life: Double = 2

    /// Server and client contexts where `shortLived` (the client or the server) has a certificate that
    /// expires in `life` seconds; the other side's certificate lives an hour. Sessions may live 300 s.
    private static func ends(_ mode: ResumptionMode, shortLived: TLSRole) throws -> (server: TLSContext, client: TLSContext, notAfter: Double) {
        let now = Double(time(nil))
        let authority = try TestCA(now: now)
        let notAfter = now + life
        func identity(_ id: SPIFFEID, short: Bool) throws -> TLSIdentity {
            guard short else { return try authority.identity(id.description) }
            let m = try authority.mint(id.description) { $0.notAfter = notAfter }
            return try TLSIdentity(chain: m.chain, key: m.key, trustBundle: [authority.ca.certificate], trustDomain: meshDomain)
        }
        let server = try TLSContext(role: .server, identity: identity(serverID, short: shortLived == .server), resumption: mode,
                                    sessionCacheSize: 64, sessionLifetimeSeconds: 300)
        let client = try TLSContext(role: .client, identity: identity(clientID, short: shortLived == .client), resumption: mode)
        return (server, client, notAfter)
    }

    /// A full handshake, a read (so the ticket arrives), then the session.
    private static func firstSession(_ server: TLSContext, _ client: TLSContext) throws -> (TLSConnection, TLSSession) {
        let c = try TLSConnection(serverContext: server, clientContext: client)
        let outcome = c.handshake()
        try #require(outcome.server == .done && outcome.client == .done, "\(outcome)")
        let hello = Array("hello".utf8)
        #expect(transfer(hello, from: c.server, to: c.client, sockets: c.sockets) == hello)
        return (c, try #require(c.client.takeSession()))
    }

    private static func waitPast(_ t: Double) {
        while Double(time(nil)) <= t + 1 { usleep(100_000) }
    }

    /// Inbound: a client whose certificate expired after the first handshake is refused on resumption.
    @Test(arguments: [ResumptionMode.stateful, .tickets])
    func resumptionAfterClientCertificateExpiredIsRefused(mode: ResumptionMode) throws {
        let e = try Self.ends(mode, shortLived: .client)
        let (first, session) = try Self.firstSession(e.server, e.client)
        defer { withExtendedLifetime(first) {} }
        Self.waitPast(e.notAfter)
        let second = try TLSConnection(serverContext: e.server, clientContext: e.client, resume: session)
        let outcome = second.handshake()
        let verdict = outcome.server.rejection.map { Result<SPIFFEID, PeerRejection>.failure($0) } ?? second.server.verifyPeer()
        #expect(verdict == .failure(.expired), "resumed: \(second.server.isResumed)")
    }

    /// Outbound: a server whose certificate expired after the first handshake is refused on resumption.
    @Test(arguments: [ResumptionMode.stateful, .tickets])
    func resumptionAfterServerCertificateExpiredIsRefused(mode: ResumptionMode) throws {
        let e = try Self.ends(mode, shortLived: .server)
        let (first, session) = try Self.firstSession(e.server, e.client)
        defer { withExtendedLifetime(first) {} }
        Self.waitPast(e.notAfter)
        let second = try TLSConnection(serverContext: e.server, clientContext: e.client, resume: session)
        let outcome = second.handshake()
        let verdict = outcome.client.rejection.map { Result<SPIFFEID, PeerRejection>.failure($0) }
            ?? second.client.verifyPeer(expecting: serverID)
        #expect(verdict == .failure(.expired), "resumed: \(second.client.isResumed)")
    }

    /// Both roles cap a session at the peer certificate's remaining life: the server through the ticket's
    /// lifetime, the client through the session's `expiresAt`.
    @Test(arguments: [ResumptionMode.stateful, .tickets])
    func sessionLifetimeIsCappedAtTheCertificatesRemainingLife(mode: ResumptionMode) throws {
        let c = try Self.ends(mode, shortLived: .client)
        let (first, session) = try Self.firstSession(c.server, c.client)
        defer { withExtendedLifetime(first) {} }
        #expect(session.lifetimeSeconds <= Int(Self.life) + 1, "the server issued a ticket for \(session.lifetimeSeconds) s")
        let s = try Self.ends(mode, shortLived: .server)
        let (other, serverSession) = try Self.firstSession(s.server, s.client)
        defer { withExtendedLifetime(other) {} }
        #expect(serverSession.expiresAt <= s.notAfter)
        #expect(serverSession.isUsable(now: s.notAfter - 1))
        #expect(!serverSession.isUsable(now: s.notAfter))
    }
}
