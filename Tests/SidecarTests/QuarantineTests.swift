import Foundation
import Glibc
import MeshCore
@testable import MeshTLS
import MeshTestSupport
import Testing

/// Black box: `meshctl quarantine` against a real control plane and real sidecars. The attack each test starts
/// from: a workload that keeps talking (a live connection, new calls, renewals, slice polls) after an operator
/// or an alert rule decided it must stop.
@Suite("Quarantine", .serialized)
struct QuarantineTests {
    static let frontend = "spiffe://mesh.local/ns/shop/sa/frontend"
    static let payments = "spiffe://mesh.local/ns/shop/sa/payments"
    static let rule = """
    {"name": "frontend-to-payments", "action": "allow", "from": {"services": ["shop/frontend"]}, "to": {"services": ["shop/payments"]}, "ports": [8080]}
    """

    static func echoes(_ fd: Int32, _ text: String) -> Bool {
        guard TCP.sendAll(fd, Array(text.utf8)) else { return false }
        var buf = [UInt8](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 && String(decoding: buf[0..<n], as: UTF8.self) == text
    }

    /// A new connection through the frontend's outbound listener echoes.
    static func calls(_ mesh: ManagedMesh) -> Bool {
        guard let fd = try? TCP.connect(port: mesh.ports["frontend"]!) else { return false }
        defer { close(fd) }
        TCP.setTimeout(fd, seconds: 3)
        return echoes(fd, "ping")
    }

    static func waitUntil(_ timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return false
    }

    static func inboundActive(_ s: SidecarProcess) -> Int {
        ControlPlaneLifecycleTests.metric(s, "mesh_connections_active{direction=\"inbound\"}")
    }

    /// Quarantines the frontend with a live echo connection open; returns the seconds from `meshctl quarantine
    /// add` returning to the connection closed at the frontend's sidecar (the app sees EOF or a reset) and at
    /// the payments sidecar (no inbound connection left).
    /// `invoked` is the same from before meshctl started (its process start, TLS handshake and the durable write).
    static func cut(_ mesh: ManagedMesh, extra: [String] = []) throws -> (frontend: Double, payments: Double, invoked: Double) {
        let payments = mesh.sidecars["payments"]!
        let live = try TCP.connect(port: mesh.ports["frontend"]!)
        defer { close(live) }
        TCP.setTimeout(live, seconds: 5)
        guard echoes(live, "before") else { throw TestFailure("the live connection does not echo") }
        let invoked = Date()
        let r = try mesh.cp.meshctl(["quarantine", "add", frontend, "--reason", "probing"] + extra)
        guard r.status == 0 else { throw TestFailure("meshctl quarantine add: \(r.stdout) \(r.stderr)") }
        let added = Date()
        nonisolated(unsafe) var frontendTook = -1.0
        let done = DispatchSemaphore(value: 0)
        spawnThread {
            let ended = TCP.readToEOF(live)
            if ended.bytes.isEmpty { frontendTook = Date().timeIntervalSince(added) }
            done.signal()
        }
        var paymentsTook = -1.0
        while Date().timeIntervalSince(added) < 3 {
            if inboundActive(payments) == 0 { paymentsTook = Date().timeIntervalSince(added); break }
            usleep(10_000)
        }
        _ = done.wait(timeout: .now() + 5)
        return (frontendTook, paymentsTook, added.timeIntervalSince(invoked) + max(frontendTook, paymentsTook))
    }

    /// The live connection is cut at both ends within a second; new calls (resumed handshakes included) are
    /// refused with `identity-quarantined`; the frontend's renewal and slice poll get 403 `identity.quarantined`;
    /// `quarantine list` shows who, why, since; audited; after `release` calls work again.
    @Test func quarantineCutsLiveConnectionsRefusesEverythingAndReleaseRestores() throws {
        let mesh = try ManagedMesh(rules: Self.rule, app: .echo, callers: ["frontend"])
        defer { mesh.stop() }
        let payments = mesh.sidecars["payments"]!
        // Warm resumable sessions: the next handshakes after the quarantine are resumed ones.
        for _ in 0..<3 { #expect(Self.calls(mesh)); usleep(100_000) }
        let resumedBefore = ControlPlaneLifecycleTests.metric(payments, "mesh_tls_handshakes_total{direction=\"inbound\",resumed=\"true\"}")
        #expect(resumedBefore > 0)

        let took = try Self.cut(mesh)
        #expect(took.frontend >= 0 && took.frontend < 1.0, "frontend end closed after \(took.frontend) s")
        #expect(took.payments >= 0 && took.payments < 1.0, "payments end closed after \(took.payments) s")
        #expect(payments.waitForEvent(timeout: 3) { $0["reason"] as? String == "identity-quarantined" && $0["rule"] as? String == "quarantine" } != nil)
        for _ in 0..<3 { #expect(!Self.calls(mesh)) }
        let resumedAfter = ControlPlaneLifecycleTests.metric(payments, "mesh_tls_handshakes_total{direction=\"inbound\",resumed=\"true\"}")
        #expect(resumedAfter > resumedBefore, "a resumed handshake was tried and refused")
        let refusals = payments.logEvents().filter { $0["event"] as? String == "refused" && $0["reason"] as? String == "identity-quarantined" }
        #expect(refusals.count >= 3, "\(refusals)")
        #expect(ControlPlaneLifecycleTests.metric(payments, "mesh_connection_failures_total{direction=\"inbound\",reason=\"identity-quarantined\"}") >= 3)

        // Its renewal and its slice poll are refused.
        let identity = try IdentityLifecycleTests.sidecarIdentity(mesh.cp, "frontend")
        let renewal = try IdentityLifecycleTests.call(mesh.cp.port, identity, "POST", "/v1/identity", body: try IdentityLifecycleTests.renewBody())
        #expect(renewal.status == 403 && renewal.body.contains("identity.quarantined"), "\(renewal)")
        let poll = try IdentityLifecycleTests.call(mesh.cp.port, identity, "GET", "/v1/slice?version=-1")
        #expect(poll.status == 403 && poll.body.contains("identity.quarantined"), "\(poll)")

        let check = try mesh.cp.meshctl(["check", "--from", "shop/frontend", "--to", "shop/payments", "--port", "8080"])
        #expect(check.status == 1 && check.stdout.contains("quarantined"), "\(check.stdout) \(check.stderr)")
        #expect(try mesh.cp.meshctl(["metrics"]).stdout.contains("mesh_control_quarantines 1"))
        let list = try mesh.cp.meshctl(["quarantine", "list"])
        #expect(list.status == 0 && list.stdout.contains(Self.frontend) && list.stdout.contains("probing") && list.stdout.contains("operator"),
                "\(list.stdout) \(list.stderr)")
        let json = try mesh.cp.meshctl(["-o", "json", "quarantine", "list"])
        let doc = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let entry = (doc?["quarantines"] as? [[String: Any]])?.first
        #expect(entry?["identity"] as? String == Self.frontend && entry?["until"] is NSNull && entry?["automatic"] as? Bool == false
                && entry?["since"] is Int, "\(json.stdout)")

        let release = try mesh.cp.meshctl(["quarantine", "release", Self.frontend])
        #expect(release.status == 0, "\(release.stdout) \(release.stderr)")
        #expect(Self.waitUntil(3) { Self.calls(mesh) }, "calls work again after release")
        #expect(try mesh.cp.meshctl(["check", "--from", "shop/frontend", "--to", "shop/payments", "--port", "8080"]).status == 0)
        let audit = try mesh.cp.auditRecords().compactMap { $0["action"] as? String }
        #expect(audit.contains("identity.quarantine") && audit.contains("identity.release"), "\(audit)")
    }

    /// `--for 2s`: the quarantine lifts by itself (the control plane's tick drops it and the slices change).
    @Test func anExpiringQuarantineLiftsByItself() throws {
        let mesh = try ManagedMesh(rules: Self.rule, app: .echo, callers: ["frontend"])
        defer { mesh.stop() }
        #expect(Self.calls(mesh))
        let r = try mesh.cp.meshctl(["quarantine", "add", Self.frontend, "--reason", "cool off", "--for", "2s"])
        #expect(r.status == 0 && r.stdout.contains("until"), "\(r.stdout) \(r.stderr)")
        #expect(Self.waitUntil(2) { !Self.calls(mesh) })
        let started = Date()
        #expect(Self.waitUntil(6) { Self.calls(mesh) }, "lifted by itself")
        #expect(Date().timeIntervalSince(started) > 0.5)
        let list = try mesh.cp.meshctl(["quarantine", "list"])
        #expect(!list.stdout.contains(Self.frontend), "\(list.stdout)")
        let release = try mesh.cp.auditRecords().first { $0["action"] as? String == "identity.release" }
        #expect(release?["why"] as? String == "expired", "\(String(describing: release))")
    }

    /// Persisted: a control-plane restart keeps the quarantine; while the control plane is down a restarted
    /// payments sidecar keeps enforcing it from its last-known-good slice.
    @Test func quarantineSurvivesControlPlaneAndSidecarRestarts() throws {
        let mesh = try ManagedMesh(rules: Self.rule, app: .echo, callers: ["frontend"])
        defer { mesh.stop() }
        #expect(try mesh.cp.meshctl(["quarantine", "add", Self.frontend, "--reason", "leak"]).status == 0)
        #expect(Self.waitUntil(2) { !Self.calls(mesh) })
        mesh.cp.kill9()
        let old = mesh.sidecars["payments"]!
        old.stop()
        let restarted = try SidecarProcess(name: "payments", config: old.config, dir: mesh.cp.dir)
        mesh.cp.sidecars.append(restarted)
        mesh.sidecars["payments"] = restarted
        try restarted.waitReady(timeout: 20)
        #expect(!Self.calls(mesh), "last-known-good keeps the quarantine across a sidecar restart")
        #expect(restarted.waitForEvent(timeout: 3) { $0["reason"] as? String == "identity-quarantined" } != nil)
        try mesh.cp.start()
        let list = try mesh.cp.meshctl(["quarantine", "list"])
        #expect(list.stdout.contains(Self.frontend) && list.stdout.contains("leak"), "\(list.stdout) \(list.stderr)")
        usleep(500_000)
        #expect(!Self.calls(mesh))
        #expect(try mesh.cp.meshctl(["quarantine", "release", Self.frontend]).status == 0)
        #expect(Self.waitUntil(5) { Self.calls(mesh) })
    }

    /// Outbound: a sidecar refuses to dial a quarantined server identity (`identity-quarantined` at the caller),
    /// and cuts its live connection to it. `mesh-system` cannot be quarantined; usage errors exit 64.
    @Test func aQuarantinedServerIsNotDialedAndMeshSystemIsRefused() throws {
        let mesh = try ManagedMesh(rules: Self.rule, app: .echo, callers: ["frontend"])
        defer { mesh.stop() }
        let frontend = mesh.sidecars["frontend"]!
        let live = try TCP.connect(port: mesh.ports["frontend"]!)
        defer { close(live) }
        TCP.setTimeout(live, seconds: 5)
        #expect(Self.echoes(live, "before"))
        #expect(try mesh.cp.meshctl(["quarantine", "add", Self.payments, "--reason", "compromised"]).status == 0)
        #expect(TCP.readToEOF(live).bytes.isEmpty)
        #expect(frontend.waitForEvent(timeout: 3) { $0["reason"] as? String == "identity-quarantined" } != nil)
        #expect(!Self.calls(mesh))
        let refused = frontend.logEvents().filter { $0["event"] as? String == "refused" && $0["reason"] as? String == "identity-quarantined"
            && $0["direction"] as? String == "outbound" }
        #expect(!refused.isEmpty, "\(frontend.logEvents().suffix(5))")

        let system = try mesh.cp.meshctl(["quarantine", "add", "spiffe://mesh.local/ns/mesh-system/sa/mesh-control", "--reason", "x"])
        #expect(system.status == 1 && system.stderr.contains("quarantine.system-identity"), "\(system.stderr)")
        #expect(try mesh.cp.meshctl(["quarantine", "add", Self.frontend]).status == 64, "--reason is required")
        #expect(try mesh.cp.meshctl(["quarantine", "add"]).status == 64)
        #expect(try mesh.cp.meshctl(["quarantine", "release"]).status == 64)
        #expect(try mesh.cp.meshctl(["quarantine", "add", "not-an-id", "--reason", "x"]).status == 64)
        #expect(try mesh.cp.meshctl(["quarantine"]).status == 64)
        let unknown = try mesh.cp.meshctl(["quarantine", "release", Self.frontend])
        #expect(unknown.status == 1 && unknown.stderr.contains("quarantine.not-found"), "\(unknown.stderr)")
    }

    /// Measured: seconds from `meshctl quarantine add` returning to the live connection closed at each end, over
    /// 8 runs (printed; each run asserted under a second).
    @Test func timeToCutLiveConnections() throws {
        let mesh = try ManagedMesh(rules: Self.rule, app: .echo, callers: ["frontend"])
        defer { mesh.stop() }
        var front: [Double] = [], pay: [Double] = [], whole: [Double] = []
        for _ in 0..<8 {
            #expect(Self.waitUntil(3) { Self.calls(mesh) })
            let t = try Self.cut(mesh)
            front.append(t.frontend)
            pay.append(t.payments)
            whole.append(t.invoked)
            #expect(try mesh.cp.meshctl(["quarantine", "release", Self.frontend]).status == 0)
        }
        func summary(_ xs: [Double]) -> String {
            let s = xs.sorted()
            return "p50 \(Int(s[s.count / 2] * 1000)) ms, max \(Int(s.last! * 1000)) ms, all \(xs.map { Int($0 * 1000) })"
        }
        print("quarantine cut after meshctl returned: frontend end \(summary(front)); payments end \(summary(pay)); "
              + "both ends from meshctl invoked: \(summary(whole))")
        #expect(front.allSatisfy { $0 >= 0 && $0 < 1 } && pay.allSatisfy { $0 >= 0 && $0 < 1 }, "\(front) \(pay)")
    }
}
