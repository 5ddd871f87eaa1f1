import Foundation
import Glibc
import Testing

/// Black box, slower: renewal, CA rotation and a control-plane outage with short-lived certificates.
@Suite("Certificates over time")
struct ControlPlaneLifecycleTests {
    /// Opens a new connection through `port` every `everyMs` until `stop`; counts successes and failures.
    final class TrafficProbe: @unchecked Sendable {
        // @unchecked: counters behind `lock`.
        let lock = NSLock()
        var ok = 0
        var failed: [String] = []
        var running = true
        init(port: UInt16, everyMs: UInt32 = 250) {
            Thread { [self] in
                while lock.withLock({ running }) {
                    let r = TCP.httpGet(port: port)
                    lock.withLock {
                        if r.hasSuffix("hello from payments\n") { ok += 1 } else { failed.append("\(Date()): \(r.prefix(60))") }
                    }
                    usleep(everyMs * 1000)
                }
            }.start()
        }
        func stop() -> (ok: Int, failed: [String]) {
            lock.withLock { running = false; return (ok, failed) }
        }
    }

    static func metric(_ s: SidecarProcess, _ series: String) -> Int {
        s.admin("GET", "/metrics").body.split(separator: "\n").first { $0.hasPrefix(series + " ") }
            .flatMap { Int($0.split(separator: " ").last!) } ?? -1
    }

    /// 20 s certificates renew at about 10 s: a SHA-256-checked transfer keeps going over several renewals.
    @Test func renewalKeepsTrafficFlowingOverSeveralRenewals() throws {
        let cp = try ControlPlaneFixture(certTTL: 20)
        defer { cp.stop() }
        let mesh = try ControlPlaneTests.threeServices(cp, app: .echo)
        let result = BulkResults()
        let done = DispatchSemaphore(value: 0)
        let port = mesh.fePort
        Thread {
            result.record(0, BulkTransfer.run(port: port, bytes: 40 << 20, seed: 7, paceMs: 900))  // ~36 s
            done.signal()
        }.start()
        #expect(done.wait(timeout: .now() + 120) == .success)
        let r = try #require(result.get(0))
        #expect(r.error == nil)
        #expect(r.receivedBytes == 40 << 20)
        #expect(r.sentHash == r.receivedHash)
        for s in [mesh.payments, mesh.frontend] {
            #expect(Self.metric(s, "mesh_certificate_renewals_total{result=\"success\"}") >= 2)
        }
    }

    /// A CA rotation while connections keep opening: not one fails, and at the end every sidecar holds a
    /// certificate from the new root and the old root has left the bundle.
    @Test func caRotationInTheMiddleOfTrafficFailsNoConnection() throws {
        let cp = try ControlPlaneFixture(certTTL: 16)
        defer { cp.stop() }
        let mesh = try ControlPlaneTests.threeServices(cp)
        let probe = TrafficProbe(port: mesh.fePort)
        usleep(1_000_000)
        let rotate = try cp.meshctl(["ca", "rotate"])
        #expect(rotate.status == 0, "\(rotate.stderr)")
        #expect(rotate.stdout.contains("staged"))
        // overlap 16 s (staged), then 16 s retiring, then retired.
        let deadline = Date().addingTimeInterval(60)
        var status = ""
        while Date() < deadline {
            status = try cp.meshctl(["ca", "status"]).stdout
            if status.contains("retired") { break }
            usleep(1_000_000)
        }
        #expect(status.contains("retired"), "\(status)")
        usleep(10_000_000)  // every sidecar renews once more under the new root
        let traffic = probe.stop()
        #expect(traffic.failed.isEmpty, "\(traffic.failed)")
        #expect(traffic.ok > 50)
        let bundle = (mesh.payments.adminJSON("/config")?["trustBundle"] as? [[String: Any]]) ?? []
        #expect(bundle.count == 1 || bundle.count == 2)
        let audit = try cp.auditRecords()
        #expect(audit.contains { $0["action"] as? String == "ca.rotate" })
        #expect(audit.filter { $0["action"] as? String == "ca.schedule" }.count >= 2)
    }

    /// Control plane gone: traffic continues on current certificates; after they expire, connections fail
    /// closed with `own-certificate-expired`; control plane back: the sidecars recover by themselves.
    @Test func controlPlaneOutageFailsClosedAtExpiryAndRecoversWithoutRestart() throws {
        let cp = try ControlPlaneFixture(certTTL: 12)
        defer { cp.stop() }
        let mesh = try ControlPlaneTests.threeServices(cp)
        #expect(TCP.httpGet(port: mesh.fePort).hasSuffix("hello from payments\n"))
        cp.kill9()
        #expect(TCP.httpGet(port: mesh.fePort).hasSuffix("hello from payments\n"))
        // Wait past the expiry of every certificate (12 s life): then calls fail, closed.
        let deadline0 = Date().addingTimeInterval(30)
        var failing = false
        while Date() < deadline0 && !failing {
            failing = TCP.httpGet(port: mesh.fePort).isEmpty
            if !failing { usleep(500_000) }
        }
        #expect(failing)
        // The first failures may be the peer's expired certificate; once ours has expired too, every new
        // connection is refused with our own distinct reason.
        var distinct = false
        let deadline1 = Date().addingTimeInterval(15)
        while Date() < deadline1 && !distinct {
            _ = TCP.httpGet(port: mesh.fePort)
            distinct = mesh.frontend.logEvents().contains { $0["reason"] as? String == "own-certificate-expired" }
            if !distinct { usleep(300_000) }
        }
        #expect(distinct)
        #expect(mesh.frontend.admin("GET", "/ready").status == 503)
        try cp.start()
        // Renewal retries (backoff capped at a sixth of the life) find it again, within the grace period.
        let deadline = Date().addingTimeInterval(30)
        var back = false
        while Date() < deadline && !back {
            back = TCP.httpGet(port: mesh.fePort).hasSuffix("hello from payments\n")
            if !back { usleep(500_000) }
        }
        #expect(back)
        #expect(mesh.frontend.admin("GET", "/ready").status == 200)
    }
}
