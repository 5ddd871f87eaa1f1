import ControlPlaneKit
import Foundation
import Glibc
import MeshAPI
import MeshControlClient
import MeshHTTP
import MeshCore
import MeshNet
import MeshTLS
import Synchronization
import Testing

/// `mesh-control serve` on several event loops: connections land on every loop, a policy change wakes the
/// parked polls of every loop, the limits are global, and a reconnecting channel resumes its TLS session.
@Suite struct ControlServingTests {
    func firstSlice(_ client: ControlPlaneClient) throws -> (version: Int, epoch: String) {
        guard case .slice(let s) = try client.pollSlice(after: -1) else { throw MeshError(.internalFailure, "no slice") }
        let d = try SliceDocument(bytes: s.documentBytes)
        return (d.slice.version, d.epoch)
    }

    /// `n` polls from the version in force, each on a channel (a connection) of its own, each on a thread;
    /// returns the versions they were answered with (or -1: unchanged, -2: failed) once all are in.
    final class Polls: @unchecked Sendable {
        let results = Mutex<[Int]>([])
        let done = DispatchGroup()
        var channels: [ControlChannel] = []

        init(_ rig: ChannelRig, _ id: TLSIdentity, count: Int, from s: (version: Int, epoch: String), wait: Int) throws {
            for _ in 0..<count {
                let channel = rig.channel(IdentityHolder(id))
                channels.append(channel)
                let client = try rig.client(on: channel, identity: id)
                done.enter()
                Thread { [self] in
                    defer { done.leave() }
                    let v: Int
                    switch try? client.pollSlice(after: s.version, epoch: s.epoch, wait: wait) {
                    case .slice(let signed)?: v = (try? SliceDocument(bytes: signed.documentBytes).slice.version) ?? -2
                    case .unchanged?: v = -1
                    default: v = -2
                    }
                    results.withLock { $0.append(v) }
                }.start()
            }
        }
    }

    static func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = monotonicSeconds() + seconds
        while !condition() {
            if monotonicSeconds() > deadline { return false }
            usleep(20_000)
        }
        return true
    }

    @Test func connectionsLandOnEveryLoopAndAChangeWakesParkedPollsOnEach() throws {
        let rig = try ChannelRig(loops: 2)
        let id = try rig.workload()
        let s = try firstSlice(try rig.client(on: rig.channel(IdentityHolder(id)), identity: id))
        let n = 24
        let polls = try Polls(rig, id, count: n, from: s, wait: 20)
        #expect(Self.waitUntil(10) { rig.controlPlane.serverStats.read().longPollsParked == n })
        let r = rig.controlPlane.serverStats.read()
        #expect(r.connectionsPerLoop.count == 2)
        // 24 connections hashed over 2 listening sockets: all on one has probability 2^-23.
        #expect(r.connectionsPerLoop.allSatisfy { $0 > 0 }, "connections by loop: \(r.connectionsPerLoop)")
        #expect(r.acceptedPerLoop.allSatisfy { $0 > 0 })
        let t = monotonicSeconds()
        try rig.apply(rules: ChannelRig.rule.replacingOccurrences(of: "web-to-payments", with: "frontend-to-payments"))
        #expect(polls.done.wait(timeout: .now() + 10) == .success)
        #expect(monotonicSeconds() - t < 3)
        #expect(polls.results.withLock { $0 } == Array(repeating: s.version + 1, count: n))
        #expect(rig.controlPlane.serverStats.read().longPollsParked == 0)
    }

    /// A poll parked for 20 s on a raw TLS connection, whose client then resets it (RST) or closes it (FIN):
    /// what a sidecar that crashed or re-dialled in a storm leaves behind.
    /// With FIN the socket is only shut for writing (a close with unread bytes, like the session tickets, would be
    /// a reset): the returned descriptor is the caller's to close.
    @discardableResult
    static func parkAndDrop(_ rig: ChannelRig, _ id: TLSIdentity, from s: (version: Int, epoch: String), reset: Bool) throws -> Int32? {
        let fd = try Socket.connect(rig.address).fd
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let tls = try TLSStream(context: try TLSContext(role: .client, identity: id, resumption: .off), fd: fd)
        let deadline = monotonicSeconds() + 5
        while tls.handshake() != .done {
            guard monotonicSeconds() < deadline else { close(fd); throw MeshError(.internalFailure, "handshake timed out") }
            var p = pollfd(fd: fd, events: Int16(POLLIN | POLLOUT), revents: 0)
            _ = poll(&p, 1, 50)
        }
        let request = "GET /v1/slice?version=\(s.version)&epoch=\(s.epoch)&wait=20 HTTP/1.1\r\nHost: cp\r\n\r\n"
        _ = Array(request.utf8).withUnsafeBytes { tls.write($0) }
        usleep(300_000)  // parked by now (the caller checks the gauge)
        withExtendedLifetime(tls) {}
        guard reset else {
            shutdown(fd, Int32(SHUT_WR))
            return fd
        }
        var l = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        close(fd)
        return nil
    }

    /// A parked poll whose client hung up (reset or FIN) gives its long-poll slot and its connection slot back at
    /// once, not at the end of its wait: after a reconnect storm, the dead polls must not hold the slots the
    /// re-dialled sidecars need.
    @Test func aHungUpPollFreesItsSlotAtOnce() throws {
        var settings = ControlSettings()
        settings.maxLongPolls = 2
        let rig = try ChannelRig(settings: settings, loops: 2)
        let id = try rig.workload()
        let s = try firstSlice(try rig.client(on: rig.channel(IdentityHolder(id)), identity: id))
        let before = rig.server.openConnections
        try Self.parkAndDrop(rig, id, from: s, reset: true)
        let halfClosed = try Self.parkAndDrop(rig, id, from: s, reset: false)
        defer { if let fd = halfClosed { close(fd) } }
        // Both slots are free again well before the 20 s wait of the dead polls, and so are their connections.
        #expect(Self.waitUntil(3) { rig.controlPlane.serverStats.read().longPollsParked == 0 })
        #expect(Self.waitUntil(5) { rig.server.openConnections <= before }, "the two hung-up connections are closed")
        let polls = try Polls(rig, id, count: 2, from: s, wait: 2)
        #expect(Self.waitUntil(5) { rig.controlPlane.serverStats.read().longPollsParked == 2 })
        #expect(polls.done.wait(timeout: .now() + 10) == .success)
        #expect(polls.results.withLock { $0 } == [-1, -1])
        #expect(rig.controlPlane.serverStats.read().refusals["long-polls-full"] ?? 0 == 0)
    }

    @Test func connectionAndLongPollLimitsHoldAcrossLoops() throws {
        var settings = ControlSettings()
        settings.maxLongPolls = 3
        settings.maxConnections = 8
        let rig = try ChannelRig(settings: settings, loops: 2)
        let id = try rig.workload()
        let firstClient = try rig.client(on: rig.channel(IdentityHolder(id)), identity: id)
        let s = try firstSlice(firstClient)
        let polls = try Polls(rig, id, count: 3, from: s, wait: 6)
        #expect(Self.waitUntil(10) { rig.controlPlane.serverStats.read().longPollsParked == 3 })
        // A fourth poll, whichever loop it lands on, is refused at once.
        let fourth = try rig.client(on: rig.channel(IdentityHolder(id)), identity: id)
        let e = meshError { _ = try fourth.pollSlice(after: s.version, epoch: s.epoch, wait: 6) }
        #expect(e?.errorCode == .controlLongPollsFull)
        #expect(rig.controlPlane.serverStats.read().refusals["long-polls-full"] == 1)
        // Connections: the first poll's channel, three polls and the fourth are open (5 of 8); 12 more raw ones,
        // spread over both loops, get the last 3 slots and 9 are closed at once.
        #expect(Self.waitUntil(5) { rig.server.openConnections == 5 })
        var raw: [Int32] = []
        defer { for fd in raw { close(fd) } }
        for _ in 0..<12 { raw.append(try Socket.connect(rig.address).fd) }
        #expect(Self.waitUntil(5) { rig.controlPlane.serverStats.read().refusals["max-connections"] == 9 })
        usleep(200_000)
        let r = rig.controlPlane.serverStats.read()
        #expect(r.refusals["max-connections"] == 9)
        #expect(r.connectionsOpen == 8)
        #expect(r.connectionsPerLoop.reduce(0, +) == 8)
        let closedByServer = raw.filter { fd in
            var b: UInt8 = 0
            return recv(fd, &b, 1, Int32(MSG_DONTWAIT)) == 0
        }.count
        #expect(closedByServer == 9)
        #expect(polls.done.wait(timeout: .now() + 10) == .success)
        #expect(polls.results.withLock { $0 } == [-1, -1, -1])
        withExtendedLifetime((firstClient, fourth)) {}
    }

    @Test func aReconnectingChannelResumesItsSessionAndARenewalStartsAfresh() throws {
        let rig = try ChannelRig(loops: 2)
        let id = try rig.workload()
        let holder = IdentityHolder(id)
        let channel = rig.channel(holder)
        let client = try rig.client(on: channel, identity: id)
        _ = try firstSlice(client)
        let before = rig.controlPlane.serverStats.read()
        channel.close()
        #expect(try client.bundle().trustDomain.name == "mesh.local")
        #expect(channel.connectsTotal == 2)
        #expect(channel.resumedConnects.load(ordering: .relaxed) == 1)
        let after = rig.controlPlane.serverStats.read()
        #expect(after.handshakesResumed - before.handshakesResumed == 1)
        #expect(after.handshakes - before.handshakes == 1)
        // Our certificate renewed: a new client context, no session offered, a full handshake.
        holder.set(try rig.issue(token: nil, client: client))
        #expect(try client.bundle().trustDomain.name == "mesh.local")
        #expect(channel.connectsTotal == 3)
        #expect(channel.resumedConnects.load(ordering: .relaxed) == 1)
    }

    /// The serving certificate renews (here every 5 s: a 10 s TTL, renewed at half): the new serving context
    /// knows no session of the old one, so the reconnect is a full handshake that checks the new certificate.
    @Test func noSessionSurvivesARenewalOfTheServingCertificate() throws {
        var settings = ControlSettings()
        settings.certTTL = 10
        let rig = try ChannelRig(settings: settings, loops: 2)
        let id = try rig.workload()
        let channel = rig.channel(IdentityHolder(id))
        let client = try rig.client(on: channel, identity: id)
        _ = try firstSlice(client)
        let servingBefore = try servingLeaf(rig)
        channel.close()
        _ = try client.bundle()
        #expect(channel.resumedConnects.load(ordering: .relaxed) == 1)
        #expect(Self.waitUntil(8) { (try? servingLeaf(rig)) != servingBefore }, "the serving certificate renewed")
        channel.close()
        #expect(try client.bundle().trustDomain.name == "mesh.local")
        #expect(channel.connectsTotal == 3)
        #expect(channel.resumedConnects.load(ordering: .relaxed) == 1, "no resumption across the renewal")
    }

    /// The serving certificate's fingerprint, from a fresh full handshake.
    func servingLeaf(_ rig: ChannelRig) throws -> String {
        let c = try HTTPConnection(connecting: rig.address, tls: try TLSContext.client(trusting: rig.roots, trustDomain: rig.bundle.trustDomain),
                                   expectServer: rig.bundle.controlPlane, timeoutMs: 5_000)
        defer { c.close() }
        return try #require(c.serverLeafFingerprint)
    }
}
