import Foundation
import Glibc
import Testing
import MeshCore
import MeshTLS

/// Black box: changing a sidecar's material while traffic flows.
@Suite("Hot reload")
struct ReloadTests {
    /// A long SHA-256-checked transfer keeps going while payments' certificate is rotated 10 times and its
    /// allow list changes; new connections see the new allow list at once.
    @Test func longTransferSurvivesTenRotationsAndAllowListChanges() throws {
        let mesh = try MeshFixture(app: .echo)
        defer { mesh.stop() }
        let bytes = 64 << 20
        let result = BulkResults()
        let done = DispatchSemaphore(value: 0)
        let port = mesh.frontendPort
        Thread {
            result.record(0, BulkTransfer.run(port: port, bytes: bytes, seed: 42, paceMs: 20))
            done.signal()
        }.start()
        usleep(200_000)
        var serials: Set<String> = []
        for round in 0..<10 {
            try mesh.pki.issue("payments")  // a new key and certificate, written over the old files
            let allowIntruder = round % 2 == 0
            try mesh.payments.rewriteConfig { cfg in
                var inbound = cfg["inbound"] as! [[String: Any]]
                inbound[0]["allow"] = ["spiffe://mesh.local/ns/shop/sa/frontend"]
                    + (allowIntruder ? ["spiffe://mesh.local/ns/shop/sa/intruder"] : [])
                cfg["inbound"] = inbound
            }
            let r = mesh.payments.admin("POST", "/reload")
            #expect(r.status == 200, "round \(round): \(r.body)")
            let config = try #require(mesh.payments.adminJSON("/config"))
            serials.insert(((config["identity"] as? [String: Any])?["certificateSerial"] as? String) ?? "")
            // New connections see the new allow list at once.
            let intruderAnswer = TCP.httpGet(port: mesh.intruderPort)
            #expect(intruderAnswer.isEmpty != allowIntruder, "round \(round): intruder allowed=\(allowIntruder) got \(intruderAnswer.prefix(40))")
        }
        #expect(serials.count == 10)
        #expect(done.wait(timeout: .now() + 300) == .success)
        let r = try #require(result.get(0))
        #expect(r.error == nil)
        #expect(r.receivedBytes == bytes)
        #expect(r.sentHash == r.receivedHash)
        // The file watcher may have reloaded too (and may have caught a half-written file): at least our 10.
        let metrics = mesh.payments.admin("GET", "/metrics").body
        #expect(Self.value(metrics, "mesh_reloads_total{result=\"success\"}") ?? 0 >= 10)
        #expect(Self.value(metrics, "mesh_config_generation") ?? 0 >= 11)
    }

    static func value(_ metrics: String, _ series: String) -> Int? {
        metrics.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Int($0.split(separator: " ").last!) }
    }

    @Test func corruptCertificateOnReloadKeepsTheOldOne() throws {
        let mesh = try MeshFixture()
        defer { mesh.stop() }
        let before = try #require((mesh.payments.adminJSON("/config")?["identity"] as? [String: Any])?["certificateSerial"] as? String)
        // A half-written certificate file.
        let certPath = "\(mesh.pki.dir)/payments.crt"
        let pem = try String(contentsOfFile: certPath, encoding: .utf8)
        try String(pem.prefix(pem.count / 2)).write(toFile: certPath, atomically: false, encoding: .utf8)
        let r = mesh.payments.admin("POST", "/reload")
        #expect(r.status == 422)
        #expect(r.body.contains("admin.reload-failed"))
        let config = try #require(mesh.payments.adminJSON("/config"))
        #expect((config["identity"] as? [String: Any])?["certificateSerial"] as? String == before)
        #expect((config["lastReload"] as? [String: Any])?["ok"] as? Bool == false)
        #expect(config["generation"] as? Int == 1)
        #expect(mesh.payments.admin("GET", "/metrics").body.contains("mesh_reloads_total{result=\"failure\"} 1"))
        #expect(mesh.payments.waitForEvent { $0["event"] as? String == "reload-failed" } != nil)
        // Still serving with the old material.
        #expect(TCP.httpGet(port: mesh.frontendPort).hasSuffix("hello from payments\n"))
    }

    @Test func sighupAndFileChangesReloadToo() throws {
        let mesh = try MeshFixture()
        defer { mesh.stop() }
        kill(mesh.payments.pid, SIGHUP)
        #expect(mesh.payments.waitForEvent { $0["event"] as? String == "reloaded" && $0["trigger"] as? String == "SIGHUP" } != nil)
        try mesh.pki.issue("payments")
        #expect(mesh.payments.waitForEvent { $0["event"] as? String == "reloaded" && $0["trigger"] as? String == "file-change" } != nil)
    }

    /// Continuous verification: taking frontend off the allow list ends the connection it had opened.
    @Test func revokedPermissionEndsLiveConnectionsWithinASecond() throws {
        let mesh = try MeshFixture(app: .echo)
        defer { mesh.stop() }
        let fd = try TCP.connect(port: mesh.frontendPort)
        defer { close(fd) }
        #expect(TCP.sendAll(fd, Array("ping".utf8)))
        var buf = [UInt8](repeating: 0, count: 4)
        #expect(recv(fd, &buf, 4, Int32(MSG_WAITALL)) == 4)
        try mesh.payments.rewriteConfig { cfg in
            var inbound = cfg["inbound"] as! [[String: Any]]
            inbound[0]["allow"] = [String]()
            cfg["inbound"] = inbound
        }
        let start = Date()
        #expect(mesh.payments.admin("POST", "/reload").status == 200)
        let rest = TCP.readToEOF(fd)
        #expect(rest.bytes.isEmpty)
        #expect(Date().timeIntervalSince(start) < 1.0)
        let revoked = mesh.payments.waitForEvent { $0["reason"] as? String == "permission-revoked" }
        #expect(revoked?["identity"] as? String == "spiffe://mesh.local/ns/shop/sa/frontend")
        #expect(TCP.httpGet(port: mesh.frontendPort) == "")
    }
}
