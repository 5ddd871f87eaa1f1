import ControlPlaneKit
import Foundation
import MeshAPI
import MeshControlClient
import MeshCore
import MeshNet
import MeshTLS
import Synchronization
import Testing

/// The shared keep-alive channel against a real control plane over real mTLS: one handshake for many calls,
/// first-come first-served turns, reconnects (server idle close, renewal) and per-request checks on a reused
/// connection.
@Suite struct ControlChannelTests {
    /// The first poll from nothing: the slice at once, with its version and epoch.
    func firstSlice(_ client: ControlPlaneClient) throws -> (version: Int, epoch: String) {
        guard case .slice(let s) = try client.pollSlice(after: -1) else { throw MeshError(.internalFailure, "no slice") }
        let d = try SliceDocument(bytes: s.documentBytes)
        return (d.slice.version, d.epoch)
    }

    @Test func manyCallsRideOneHandshake() throws {
        let rig = try ChannelRig()
        let id = try rig.workload()
        let channel = rig.channel(IdentityHolder(id))
        let client = try rig.client(on: channel, identity: id)
        let first = try firstSlice(client)
        for _ in 0..<8 { #expect(try client.bundle().trustDomain.name == "mesh.local") }
        #expect(try client.pollSlice(after: first.version, epoch: first.epoch, wait: 1) == .unchanged)
        #expect(channel.connectsTotal == 1)
        #expect(channel.connects().first { $0.reason == .new }?.count == 1)
        #expect(channel.requestsOnNew.load(ordering: .relaxed) == 1)
        #expect(channel.requestsReused.load(ordering: .relaxed) == 9)
        #expect(channel.failures.load(ordering: .relaxed) == 0)
        // The server agrees: one API connection is open (the one-shot bootstrap/admin ones are gone).
        #expect(rig.server.openConnections == 1)
    }

    @Test func aReportIsServedWithinTheParkedPollsWait() throws {
        let rig = try ChannelRig()
        let id = try rig.workload()
        let channel = rig.channel(IdentityHolder(id))
        let client = try rig.client(on: channel, identity: id)
        let s = try firstSlice(client)
        // A poll loop that asks again at once, as the policy agent does; a "report" arrives during its first poll.
        let polls = Mutex<[SlicePoll]>([])
        let loop = Thread {
            for _ in 0..<3 {
                if let r = try? client.pollSlice(after: s.version, epoch: s.epoch, wait: 2) { polls.withLock { $0.append(r) } }
            }
        }
        let started = monotonicSeconds()
        loop.start()
        usleep(300_000)
        let before = monotonicSeconds()
        let answer = try client.bundle()
        let reportLatency = monotonicSeconds() - before
        #expect(answer.trustDomain.name == "mesh.local")
        // It waited for the poll ahead of it (about 1.7 s left of 2 s), not for the polls asked after it.
        #expect(reportLatency > 1.2)
        #expect(reportLatency < 2 + 1)
        while polls.withLock({ $0.count }) < 3 && monotonicSeconds() - started < 15 { usleep(50_000) }
        #expect(polls.withLock { $0 } == [.unchanged, .unchanged, .unchanged])
        #expect(channel.connectsTotal == 1)
    }

    @Test func waitOutOfRangeIsRefusedAndAChangeReachesAParkedPoll() throws {
        let rig = try ChannelRig()
        let id = try rig.workload()
        let client = try rig.client(on: rig.channel(IdentityHolder(id)), identity: id)
        let s = try firstSlice(client)
        for wait in [0, 31, -1] {
            let e = meshError { _ = try client.pollSlice(after: s.version, epoch: s.epoch, wait: wait) }
            #expect(e?.errorCode == .policyBadWait)
            #expect(e?.kind == .badRequest)
        }
        let notANumber = try client.send("GET", "/v1/slice?version=\(s.version)&epoch=\(s.epoch)&wait=five")
        #expect(notANumber.status == 400)
        #expect(notANumber.text.contains("policy.bad-wait"))

        var t = monotonicSeconds()
        #expect(try client.pollSlice(after: s.version, epoch: s.epoch, wait: 1) == .unchanged)
        let waited = monotonicSeconds() - t
        #expect(waited > 0.9 && waited < 2.5)

        // A change while parked (wait 8 s) is answered at once.
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) {
            do { try rig.apply(rules: ChannelRig.rule.replacingOccurrences(of: "web-to-payments", with: "frontend-to-payments")) }
            catch { Issue.record("apply failed: \(error)") }
        }
        t = monotonicSeconds()
        guard case .slice(let next) = try client.pollSlice(after: s.version, epoch: s.epoch, wait: 8) else {
            Issue.record("a parked poll missed the change")
            return
        }
        #expect(try SliceDocument(bytes: next.documentBytes).slice.version == s.version + 1)
        #expect(monotonicSeconds() - t < 3)
    }

    @Test func serverIdleCloseReconnectsTransparently() throws {
        var settings = ControlSettings()
        settings.idleTimeoutMs = 300
        let rig = try ChannelRig(settings: settings)
        let id = try rig.workload()
        let channel = rig.channel(IdentityHolder(id))
        let client = try rig.client(on: channel, identity: id)
        _ = try firstSlice(client)
        usleep(800_000)  // the server closes the idle keep-alive
        _ = try firstSlice(client)
        #expect(channel.connectsTotal == 2)
        #expect(channel.connects().first { $0.reason == .closed }?.count == 1)
        #expect(channel.failures.load(ordering: .relaxed) == 0)
    }

    @Test func channelReplacesAConnectionOlderThanItsMaxAge() throws {
        let rig = try ChannelRig()
        let id = try rig.workload()
        var s = ControlChannel.Settings()
        s.maxAgeSeconds = 0.5
        let channel = rig.channel(IdentityHolder(id), settings: s)
        let client = try rig.client(on: channel, identity: id)
        _ = try client.bundle()
        _ = try client.bundle()
        usleep(700_000)
        _ = try client.bundle()
        #expect(channel.connects().map(\.count) == [1, 0, 1, 0, 0])  // new, renewed, aged, closed, stale
    }

    /// Certificate validity is checked on every request, also on a reused connection: once ours expires the next
    /// request is refused 401 on the same connection; the renewal (within its grace) goes over it too, and the
    /// request after the swap presents the new certificate on a new connection.
    @Test func expiryOnAnOpenConnectionThenRenewalPresentsTheNewCertificate() throws {
        var settings = ControlSettings()
        settings.certTTL = 10
        settings.clockSkew = 0
        let rig = try ChannelRig(settings: settings)
        let old = try rig.workload()
        let holder = IdentityHolder(old)
        let channel = rig.channel(holder)
        let client = try rig.client(on: channel, identity: old)
        _ = try firstSlice(client)
        let left = old.leaf.notAfter - SystemClock().wallSeconds()
        usleep(UInt32(max(0, left + 1.5) * 1_000_000))

        let expired = meshError { _ = try firstSlice(client) }
        #expect(expired?.errorCode == .authCertificateExpired)
        #expect(expired?.kind == .unauthenticated)
        #expect(channel.connectsTotal == 1)  // refused on the open connection, which stays open

        let renewed = try rig.issue(token: nil, client: client)
        #expect(renewed.leaf.serialHex != old.leaf.serialHex)
        #expect(channel.connectsTotal == 1)
        holder.set(renewed)
        _ = try firstSlice(client)
        #expect(channel.connects().first { $0.reason == .renewed }?.count == 1)
        #expect(channel.connectsTotal == 2)
        #expect(channel.requestsReused.load(ordering: .relaxed) == 2)
    }

    /// A request that dies on a reused connection before any byte of its answer is sent once more on a new
    /// connection; the caller sees only the answer.
    @Test func aStaleKeepAliveIsRetriedOnceOnANewConnection() throws {
        let rig = try ChannelRig()
        let id = try rig.workload()
        let proxy = try DroppingProxy(upstream: rig.address)
        defer { proxy.stop() }
        let channel = ControlChannel(addresses: [proxy.address], expectServer: rig.bundle.controlPlane) { id }
        let client = try rig.client(on: channel, identity: id)
        _ = try firstSlice(client)
        proxy.armed.store(true, ordering: .relaxed)
        #expect(try client.bundle().trustDomain.name == "mesh.local")
        let swallowed = !proxy.armed.load(ordering: .relaxed)
        #expect(swallowed)
        #expect(channel.connects().map(\.count) == [1, 0, 0, 0, 1])  // new, renewed, aged, closed, stale
        #expect(proxy.accepted.load(ordering: .relaxed) == 2)
        #expect(channel.failures.load(ordering: .relaxed) == 0)
        #expect(channel.requestsOnNew.load(ordering: .relaxed) == 2)

        // A new connection that dies (here in its handshake) is not retried: the caller hears of it.
        channel.close()
        proxy.waitUntilIdle()  // the closed connection's close_notify must not take the arm
        proxy.armed.store(true, ordering: .relaxed)
        #expect(meshError { _ = try client.bundle() } != nil)
        #expect(channel.failures.load(ordering: .relaxed) == 1)
        #expect(proxy.accepted.load(ordering: .relaxed) == 3)
    }

    /// A join token never rides the channel (single use: a stale-connection retry must not send it twice).
    @Test func joinTokenIssuanceBypassesTheChannel() throws {
        let rig = try ChannelRig()
        let id = try rig.workload()
        let channel = rig.channel(IdentityHolder(id))
        let client = try rig.client(on: channel, identity: id)
        let token = try rig.admin().createToken(TokenRequest(service: "shop/payments", ttlSeconds: 600))
        let issued = try rig.issue(token: token.token, client: client)
        #expect(issued.spiffeID.description == "spiffe://mesh.local/ns/shop/sa/payments")
        #expect(channel.connectsTotal == 0)
        #expect(channel.requestsOnNew.load(ordering: .relaxed) == 0)
    }
}
