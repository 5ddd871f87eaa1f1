#if canImport(Glibc)
import Glibc
#endif
import ControlPlaneKit
import Foundation
import MeshAPI
import MeshControlClient
import MeshCore
import MeshNet
import MeshTLS
import Testing

/// Failover between control-plane replicas, against a real control plane over real mTLS: each "replica" is a
/// proxy to it that the test kills (refuses new connections, resets open ones) and revives.
@Suite struct FailoverTests {
    /// A port nothing listens on (bound, then closed).
    static func deadAddress() throws -> SocketAddress {
        let p = try ReplicaProxy(upstream: try SocketAddress(HostPort(host: "127.0.0.1", port: 1)))
        p.kill()
        return p.address
    }

    func firstSlice(_ client: ControlPlaneClient) throws -> (version: Int, epoch: String) {
        guard case .slice(let s) = try client.pollSlice(after: -1) else { throw MeshError(.internalFailure, "no slice") }
        let d = try SliceDocument(bytes: s.documentBytes)
        return (d.slice.version, d.epoch)
    }

    @Test func aDeadFirstAddressIsSkipped() throws {
        let rig = try ChannelRig()
        let id = try rig.workload()
        let dead = try Self.deadAddress()
        let channel = ControlChannel(addresses: [dead, rig.address], expectServer: rig.bundle.controlPlane) { id }
        let client = try rig.client(on: channel, identity: id)
        _ = try firstSlice(client)
        #expect(channel.activeAddress == rig.address)
        #expect(channel.failovers == 1)
        #expect(channel.failures.load(ordering: .relaxed) == 0)
        // Sticky: a reconnect without a failure does not try the dead one again.
        channel.close()
        #expect(try client.bundle().trustDomain.name == "mesh.local")
        #expect(channel.failovers == 1 && channel.connectsTotal == 2)
    }

    /// Kill the replica in use: the next call lands on the other; revive it: the channel stays where it works;
    /// kill that one: back to the first.
    @Test func killTheReplicaInUseAndTheChannelMovesAndStays() throws {
        let rig = try ChannelRig()
        let id = try rig.workload()
        let a = try ReplicaProxy(upstream: rig.address), b = try ReplicaProxy(upstream: rig.address)
        defer { a.kill(); b.kill() }
        let channel = ControlChannel(addresses: [a.address, b.address], expectServer: rig.bundle.controlPlane) { id }
        let client = try rig.client(on: channel, identity: id)
        let s = try firstSlice(client)
        #expect(channel.activeAddress == a.address && a.accepted.load(ordering: .relaxed) == 1)

        a.kill()
        // The poll on the reset keep-alive is sent once more, on a connection to b (a refuses).
        #expect(try client.pollSlice(after: s.version, epoch: s.epoch, wait: 1) == .unchanged)
        #expect(channel.activeAddress == b.address && channel.failovers == 1)
        #expect(b.accepted.load(ordering: .relaxed) == 1)

        a.revive()
        channel.close()  // a reconnect that follows no failure
        #expect(try client.bundle().trustDomain.name == "mesh.local")
        #expect(channel.activeAddress == b.address && channel.failovers == 1)
        #expect(a.accepted.load(ordering: .relaxed) == 1 && b.accepted.load(ordering: .relaxed) == 2)

        b.kill()
        #expect(try client.bundle().trustDomain.name == "mesh.local")
        #expect(channel.activeAddress == a.address && channel.failovers == 2)
        #expect(a.accepted.load(ordering: .relaxed) == 2)
    }

    /// A long poll parked at a replica that dies (its keep-alive reset before any answer byte) is parked again
    /// at the other replica, and answered there when a version is applied: the caller sees only the new slice.
    @Test func aParkedPollFollowsToTheOtherReplica() throws {
        let rig = try ChannelRig()
        let id = try rig.workload()
        let a = try ReplicaProxy(upstream: rig.address), b = try ReplicaProxy(upstream: rig.address)
        defer { a.kill(); b.kill() }
        let channel = ControlChannel(addresses: [a.address, b.address], expectServer: rig.bundle.controlPlane) { id }
        let client = try rig.client(on: channel, identity: id, timeoutMs: 20_000)
        let s = try firstSlice(client)
        let events = Thread {
            usleep(300_000)
            a.kill()
            usleep(700_000)
            try? rig.apply(rules: ChannelRig.rule.replacingOccurrences(of: "web-to-payments", with: "web-pay"))
        }
        events.start()
        let started = monotonicSeconds()
        let next = try client.pollSlice(after: s.version, epoch: s.epoch, wait: 10)
        #expect(monotonicSeconds() - started < 5)
        guard case .slice(let signed) = next else { Issue.record("no new slice: \(next)"); return }
        #expect(try SliceDocument(bytes: signed.documentBytes).slice.version == s.version + 1)
        #expect(channel.activeAddress == b.address && channel.failovers == 1)
        #expect(channel.connects().first { $0.reason == .stale }?.count == 1)
    }

    /// Without a channel (meshctl, a join token): a dead address and one that accepts but never completes a
    /// TLS handshake (timeout on connect) are skipped; the single-use token is sent once and accepted.
    @Test func oneShotCallsMoveOnOnlyWhileConnecting() throws {
        let rig = try ChannelRig()
        // Listens, never accepts: the handshake times out.
        let silent = try Socket.listen(try SocketAddress(HostPort(host: "127.0.0.1", port: 0)), reusePort: false, backlog: 4)
        defer { close(silent) }
        let hung = try #require(Socket.localAddress(silent))
        let token = try rig.admin().createToken(TokenRequest(service: "shop/payments", ttlSeconds: 600))
        var client = ControlPlaneClient(addresses: [try Self.deadAddress(), hung, rig.address],
                                        tls: try TLSContext.client(trusting: rig.roots, trustDomain: rig.bundle.trustDomain),
                                        expectServer: rig.bundle.controlPlane)
        client.connectTimeoutMs = 500
        let started = monotonicSeconds()
        let issued = try rig.issue(token: token.token, client: client)
        #expect(issued.spiffeID.description == "spiffe://mesh.local/ns/shop/sa/payments")
        #expect(monotonicSeconds() - started < 3)
        // Used once: a second use is refused.
        #expect(meshError { _ = try rig.issue(token: token.token, client: client) }?.code == "token.used")
    }
}
