#if canImport(Glibc)
import Glibc
#endif
@testable import MeshTLS
import MeshCore
import Testing
import MeshTestSupport

/// Two connected non-blocking AF_UNIX stream sockets; both closed when the pair goes away.
final class SocketPair {
    let serverFD: Int32
    let clientFD: Int32

    init() throws {
        signal(SIGPIPE, SIG_IGN)
        var fds: [Int32] = [-1, -1]
        let r = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
        guard r == 0 else { throw MeshError(ErrorCode("test.socketpair", .internal), "socketpair failed: errno \(errno)") }
        serverFD = fds[0]
        clientFD = fds[1]
    }

    deinit {
        close(serverFD)
        close(clientFD)
    }

    /// Waits up to `milliseconds` for either end to become readable.
    func waitReadable(milliseconds: Int32 = 5) {
        var fds = [pollfd(fd: serverFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: clientFD, events: Int16(POLLIN), revents: 0)]
        _ = poll(&fds, 2, milliseconds)
    }
}

/// What both ends of a handshake ended with.
struct HandshakeOutcome {
    var server: TLSStream.Step
    var client: TLSStream.Step
}

extension TLSStream.Step {
    var isTerminal: Bool {
        switch self {
        case .done, .failed: true
        case .wantRead, .wantWrite: false
        }
    }

    var rejection: PeerRejection? {
        if case .failed(let why, _) = self { return why }
        return nil
    }
}

/// A server stream (our inbound side) and a client stream (our outbound side) over one socket pair.
final class TLSConnection {
    let sockets: SocketPair
    let server: TLSStream
    let client: TLSStream

    init(serverContext: TLSContext, clientContext: TLSContext, resume: TLSSession? = nil) throws {
        precondition(serverContext.role == .server && clientContext.role == .client)
        sockets = try SocketPair()
        server = try TLSStream(context: serverContext, fd: sockets.serverFD)
        client = try TLSStream(context: clientContext, fd: sockets.clientFD, resume: resume)
    }

    /// Drives both handshakes alternately until both are done or failed (a failed side gets a few more rounds
    /// for its peer to read the alert), within `maxRounds`.
    func handshake(maxRounds: Int = 400) -> HandshakeOutcome {
        var outcome = HandshakeOutcome(server: .wantRead, client: .wantWrite)
        var roundsSinceFailure = 0
        for _ in 0..<maxRounds {
            if !outcome.client.isTerminal { outcome.client = client.handshake() }
            if !outcome.server.isTerminal { outcome.server = server.handshake() }
            if outcome.client.isTerminal && outcome.server.isTerminal { break }
            if outcome.client.rejection != nil || outcome.server.rejection != nil {
                roundsSinceFailure += 1
                if roundsSinceFailure > 5 { break }
            }
            sockets.waitReadable()
        }
        return outcome
    }

    /// A fresh connection between `server` and `client` identities with a completed, successful handshake.
    static func established(server: TLSIdentity, client: TLSIdentity, resumption: ResumptionMode = .stateful,
                            sourceLocation: SourceLocation = #_sourceLocation) throws -> TLSConnection {
        let c = try TLSConnection(serverContext: TLSContext(role: .server, identity: server, resumption: resumption),
                                  clientContext: TLSContext(role: .client, identity: client, resumption: resumption))
        let outcome = c.handshake()
        #expect(outcome.server == .done && outcome.client == .done, "\(outcome)", sourceLocation: sourceLocation)
        return c
    }
}

/// The server's (inbound) verdict on a client presenting `chain` with `key`: the handshake failure reason, or
/// else `verifyPeer()`. The server is a proper SVID from `authority`; the client trusts `authority`.
func inboundOutcome(_ chain: [Certificate], _ key: PrivateKey, authority: TestCA,
                    presentCertificate: Bool = true,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> Result<SPIFFEID, PeerRejection> {
    let serverIdentity = try authority.identity(serverID.description)
    let clientIdentity = authority.uncheckedIdentity(Minted(chain: chain, key: key))
    let serverContext = try TLSContext(role: .server, identity: serverIdentity)
    let clientContext = try TLSContext(role: .client, identity: clientIdentity, resumption: .stateful,
                                       sessionCacheSize: 16, sessionLifetimeSeconds: 60,
                                       presentCertificate: presentCertificate)
    let connection = try TLSConnection(serverContext: serverContext, clientContext: clientContext)
    let outcome = connection.handshake()
    if let why = outcome.server.rejection { return .failure(why) }
    try #require(outcome.server == .done, "inbound handshake never finished: \(outcome)", sourceLocation: sourceLocation)
    return connection.server.verifyPeer()
}

func inboundOutcome(_ minted: Minted, authority: TestCA,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> Result<SPIFFEID, PeerRejection> {
    try inboundOutcome(minted.chain, minted.key, authority: authority, sourceLocation: sourceLocation)
}

/// The client's (outbound) verdict on a server presenting `chain` with `key`: the client's handshake failure
/// reason, or else `verifyPeer(expecting:)`. The client is a proper SVID from `authority`.
func outboundOutcome(_ chain: [Certificate], _ key: PrivateKey, expecting expected: SPIFFEID,
                     authority: TestCA,
                     sourceLocation: SourceLocation = #_sourceLocation) throws -> Result<SPIFFEID, PeerRejection> {
    let serverIdentity = authority.uncheckedIdentity(Minted(chain: chain, key: key))
    let clientIdentity = try authority.identity(clientID.description)
    let connection = try TLSConnection(serverContext: TLSContext(role: .server, identity: serverIdentity),
                                       clientContext: TLSContext(role: .client, identity: clientIdentity))
    let outcome = connection.handshake()
    if let why = outcome.client.rejection { return .failure(why) }
    try #require(outcome.client == .done, "outbound handshake never finished: \(outcome)", sourceLocation: sourceLocation)
    return connection.client.verifyPeer(expecting: expected)
}

/// Moves `bytes` from `writer` to `reader` through real TLS records, alternating writes and reads until all
/// arrive, the reader sees EOF or a failure, or `maxRounds` pass. Returns what the reader got.
func transfer(_ bytes: [UInt8], from writer: TLSStream, to reader: TLSStream, sockets: SocketPair,
              maxRounds: Int = 2_000) -> [UInt8] {
    var sent = 0
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    for _ in 0..<maxRounds where received.count < bytes.count {
        if sent < bytes.count {
            let w = bytes[sent...].withUnsafeBytes { writer.write($0) }
            switch w {
            case .wrote(let n): sent += n
            case .wantRead, .wantWrite: break
            case .failed(let why): Issue.record("write failed: \(why)"); return received
            }
        }
        let r = buffer.withUnsafeMutableBytes { reader.read(into: $0) }
        switch r {
        case .bytes(let n): received += buffer[0..<n]
        case .wantRead, .wantWrite: sockets.waitReadable(milliseconds: 2)
        case .eof, .failed: return received
        }
    }
    return received
}

/// Reads from `reader` until something other than a want (bytes, EOF or failure) comes out.
func readOnce(_ reader: TLSStream, sockets: SocketPair, maxRounds: Int = 200) -> TLSStream.ReadResult {
    var buffer = [UInt8](repeating: 0, count: 4096)
    var last = TLSStream.ReadResult.wantRead
    for _ in 0..<maxRounds {
        last = buffer.withUnsafeMutableBytes { reader.read(into: $0) }
        if last != .wantRead && last != .wantWrite { return last }
        sockets.waitReadable(milliseconds: 2)
    }
    return last
}

func randomBytes(_ count: Int) -> [UInt8] {
    var g = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &g) }
}
