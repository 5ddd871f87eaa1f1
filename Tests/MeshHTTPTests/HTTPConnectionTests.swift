#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
@testable import MeshHTTP
import MeshHTTP1
import MeshNet
import MeshCore

/// The keep-alive client connection against the real server on loopback: several exchanges on one socket,
/// `Connection: close` honoured, and a connection the server closed while idle is seen before it is reused.
@Suite struct HTTPConnectionTests {
    typealias Running = HTTPServerDeadlineTests.Running

    /// A server that answers each request with the caller's address (host:port), so a test sees which socket
    /// carried it.
    static func echoPeer(_ limits: HTTPServerLimits = HTTPServerLimits()) throws -> Running {
        try Running(limits: limits) { req, respond in respond(.text(req.peer.description)) }
    }

    @Test func severalExchangesRideOneSocket() throws {
        let s = try Self.echoPeer()
        defer { s.stop() }
        let c = try HTTPConnection(connecting: s.server.address, tls: nil, timeoutMs: 2000)
        defer { c.close() }
        let peers = try (0..<3).map { _ in try c.send(method: "GET", path: "/", timeoutMs: 2000).text }
        #expect(Set(peers).count == 1)
        #expect(c.requests == 3)
        #expect(c.reusable)
        #expect(c.canCarry(maxAgeMs: 60_000, maxIdleMs: 60_000))
        #expect(!c.canCarry(maxAgeMs: 0, maxIdleMs: 60_000))  // older than its max age
        #expect(s.open == 1)
    }

    @Test func connectionCloseIsHonoured() throws {
        let s = try Self.echoPeer()
        defer { s.stop() }
        let c = try HTTPConnection(connecting: s.server.address, tls: nil, timeoutMs: 2000)
        defer { c.close() }
        let r = try c.send(method: "GET", path: "/", headers: HTTPHeaders([("Connection", "close")]), timeoutMs: 2000)
        #expect(r.status == 200)
        #expect(!r.head.keepAlive)
        #expect(!c.reusable)
        #expect(!c.canCarry(maxAgeMs: 60_000, maxIdleMs: 60_000))
    }

    @Test func anIdleCloseByTheServerIsSeenBeforeReuse() throws {
        var limits = HTTPServerLimits()
        limits.idleTimeoutMs = 200
        let s = try Self.echoPeer(limits)
        defer { s.stop() }
        let c = try HTTPConnection(connecting: s.server.address, tls: nil, timeoutMs: 2000)
        defer { c.close() }
        _ = try c.send(method: "GET", path: "/", timeoutMs: 2000)
        #expect(c.canCarry(maxAgeMs: 60_000, maxIdleMs: 60_000))
        usleep(500_000)
        #expect(!c.canCarry(maxAgeMs: 60_000, maxIdleMs: 60_000))
        #expect(!c.reusable)
    }

    @Test func aTimeoutLeavesTheConnectionUnusable() throws {
        let s = try Running(limits: HTTPServerLimits()) { _, _ in }  // never answers
        defer { s.stop() }
        let c = try HTTPConnection(connecting: s.server.address, tls: nil, timeoutMs: 2000)
        defer { c.close() }
        #expect(throws: MeshError.self) { _ = try c.send(method: "GET", path: "/", timeoutMs: 300) }
        #expect(!c.answerStarted)
        #expect(!c.reusable)
    }
}
