import Foundation
import Glibc
import Testing
import MeshCore
import MeshHTTP
import MeshNet
@testable import MeshTLS

/// Black box: the control plane keeps serving bootstraps and renewals while idle sockets, reset long polls and
/// fd exhaustion try to take its one loop away.
@Suite("Control plane under load")
struct ControlPlaneLoadTests {
    static func token(_ cp: ControlPlaneFixture, _ service: String) throws -> String {
        try String(contentsOfFile: try cp.tokenFile(service), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A workload certificate issued by the control plane, as an mTLS client context (what a sidecar polls with).
    static func workloadClient(_ cp: ControlPlaneFixture, _ service: String) throws -> TLSContext {
        let key = try PrivateKey.generateP256()
        let csr = String(decoding: try CertificateSigningRequest.create(key: key).pem(), as: UTF8.self)
        let r = try ControlPlaneTests.requestIdentity(cp, token: try token(cp, service), csrPEM: csr)
        guard r.status == 200 else { throw TestFailure("identity: \(r.status) \(r.text)") }
        let doc = try StrictJSON.parse(r.body)
        let chain = try Certificate.parseChain(pem: Array((doc["certificateChain"]?.stringValue ?? "").utf8))
        let bundle = try Certificate.parseChain(pem: Array(try Data(contentsOf: URL(fileURLWithPath: "\(cp.dataDir)/bundle.pem"))), maxCount: 16)
        let identity = try TLSIdentity(chain: chain, key: key, trustBundle: bundle, trustDomain: TrustDomain("mesh.local"))
        return try TLSContext(role: .client, identity: identity)
    }

    /// 300 connections that never say a word must not lock bootstraps out.
    @Test func idleConnectionsDoNotLockOutBootstraps() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        let token = try Self.token(cp, "shop/late")
        var idle: [Int32] = []
        defer { for fd in idle { close(fd) } }
        for _ in 0..<300 { idle.append(try TCP.connect(port: cp.port)) }
        usleep(300_000)  // the server has accepted them all by now
        let started = Date()
        let r = try ControlPlaneTests.requestIdentity(cp, token: token)
        #expect(r.status == 200)
        #expect(Date().timeIntervalSince(started) < 5)
    }

    /// 20 parked long polls whose clients reset: the loop must not spin on their error and hang-up events.
    @Test func resetLongPollsCostNoCPU() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        let ctx = try Self.workloadClient(cp, "shop/poller")
        let later = try Self.token(cp, "shop/later")
        let polls = try (0..<20).map { _ in
            try TLSTestConnection(port: cp.port, context: ctx, send: "GET /v1/slice?version=0 HTTP/1.1\r\nHost: cp\r\n\r\n")
        }
        usleep(500_000)
        #expect(polls.allSatisfy { !$0.hasAnswer }, "the polls are parked (no mesh applied, version 0)")
        for p in polls { p.reset() }
        let pid = try #require(cp.process?.pid)
        let cpu = ProcessCPU.used(by: pid, during: 3)
        #expect(cpu < 0.3, "mesh-control used \(cpu) s of CPU in 3 s after 20 long polls were reset")
        #expect(try ControlPlaneTests.requestIdentity(cp, token: later).status == 200)
    }

    /// Long polls have a budget of their own: one beyond it is answered 503 at once instead of taking a slot.
    @Test func longPollsBeyondTheirBudgetAreRefusedAtOnce() throws {
        let cp = try ControlPlaneFixture(extraArgs: ["--max-long-polls", "2"])
        defer { cp.stop() }
        let ctx = try Self.workloadClient(cp, "shop/poller")
        let poll = "GET /v1/slice?version=0 HTTP/1.1\r\nHost: cp\r\n\r\n"
        let parked = try (0..<2).map { _ in try TLSTestConnection(port: cp.port, context: ctx, send: poll) }
        defer { for p in parked { p.reset() } }
        let third = try BlockingTLSClient.connect(port: cp.port, context: ctx, send: Array(poll.utf8), timeout: 2)
        let text = String(decoding: third.received, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 503 ") && text.contains("control.long-polls-full"), "\(text)")
        #expect(parked.allSatisfy { !$0.hasAnswer })
        let log = (try? String(contentsOfFile: cp.logPath, encoding: .utf8)) ?? ""
        #expect(log.contains("\"reason\":\"long-polls-full\""))
    }

    /// Out of file descriptors: accept backs off instead of spinning, and serving recovers when fds free up.
    @Test func outOfFileDescriptorsBacksOffAndRecovers() throws {
        let cp = try ControlPlaneFixture(nofile: 64)
        defer { cp.stop() }
        let token = try Self.token(cp, "shop/after")
        var flood: [Int32] = []
        for _ in 0..<120 { if let fd = try? TCP.connect(port: cp.port, timeoutSeconds: 2) { flood.append(fd) } }
        usleep(300_000)
        let pid = try #require(cp.process?.pid)
        let cpu = ProcessCPU.used(by: pid, during: 2)
        #expect(cpu < 0.3, "mesh-control used \(cpu) s of CPU in 2 s while out of file descriptors")
        for fd in flood { close(fd) }
        // Recovery, not its speed, is the point: the full suite on two cores (etcd clusters, many sidecars) once
        // took longer than 10 s to get a control plane that had been starved of fds serving again.
        let deadline = Date().addingTimeInterval(30)
        var status = 0
        while status != 200 && Date() < deadline {
            status = (try? ControlPlaneTests.requestIdentity(cp, token: token).status) ?? 0
            if status != 200 { usleep(200_000) }
        }
        #expect(status == 200)
        let log = (try? String(contentsOfFile: cp.logPath, encoding: .utf8)) ?? ""
        #expect(log.contains("accept-emfile"))
    }
}
