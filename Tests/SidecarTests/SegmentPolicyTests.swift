import Foundation
import MeshTestSupport
import Glibc
import Testing
import MeshCore

/// Black box: segment policies applied with meshctl, distributed by mesh-control, enforced by sidecars.
@Suite("Segment policies")
struct SegmentPolicyTests {
    static let frontendToPayments = #"{"name": "frontend-to-payments", "action": "allow", "from": {"services": ["shop/frontend"]}, "to": {"services": ["shop/payments"]}, "ports": [8080]}"#

    @Test func appliedPolicyIsEnforcedByBothEnds() throws {
        let mesh = try ManagedMesh(rules: Self.frontendToPayments)
        defer { mesh.stop() }
        #expect(mesh.call("frontend").hasSuffix("hello from payments\n"))
        // ledger's own sidecar refuses the egress the mesh does not allow …
        #expect(mesh.call("ledger") == "")
        let egress = mesh.sidecars["ledger"]!.waitForEvent { $0["reason"] as? String == "egress-not-allowed" }
        #expect(egress?["rule"] as? String == "default-deny")
        // … and payments refuses ingress on its own, here from a caller whose sidecar does not check egress
        // (static mode) and whose identity no rule allows.
        let port = TCP.freePort()
        let rogue = try mesh.sidecar("rogue", outbound: [[
            "name": "payments", "listen": "127.0.0.1:\(port)", "upstream": "127.0.0.1:\(mesh.inPort)",
            "expectIdentity": "spiffe://mesh.local/ns/shop/sa/payments"]], managed: false)
        try rogue.waitReady(timeout: 20)
        let before = mesh.app.accepted.load(ordering: .relaxed)
        #expect(TCP.httpGet(port: port) == "")
        let refused = mesh.sidecars["payments"]!.waitForEvent { $0["identity"] as? String == "spiffe://mesh.local/ns/shop/sa/rogue" }
        #expect(refused?["reason"] as? String == "identity-not-allowed")
        #expect(refused?["rule"] as? String == "default-deny")
        #expect(mesh.app.accepted.load(ordering: .relaxed) == before)
    }

    @Test func changesPropagateAndRevocationClosesLiveConnections() throws {
        let mesh = try ManagedMesh(rules: Self.frontendToPayments, app: .echo)
        defer { mesh.stop() }
        let fd = try TCP.connect(port: mesh.ports["frontend"]!)
        defer { close(fd) }
        #expect(TCP.sendAll(fd, Array("ping".utf8)))
        var buf = [UInt8](repeating: 0, count: 4)
        #expect(recv(fd, &buf, 4, Int32(MSG_WAITALL)) == 4)
        let start = Date()
        let r = try mesh.apply(rules: "")  // no rule left: everything is denied
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("- rule frontend-to-payments"))
        let rest = TCP.readToEOF(fd)
        let took = Date().timeIntervalSince(start)
        #expect(rest.bytes.isEmpty)
        #expect(took < 1.5, "live connection closed after \(took) s")
        #expect(mesh.sidecars["payments"]!.waitForEvent { $0["reason"] as? String == "permission-revoked" } != nil
                || mesh.sidecars["frontend"]!.waitForEvent { $0["reason"] as? String == "permission-revoked" } != nil)
        #expect(mesh.call("frontend") == "")
        let status = try mesh.cp.meshctl(["-o", "json", "status"])
        #expect(status.stdout.contains("in-sync"))
    }

    @Test func expiringGrantStopsByItself() throws {
        var t = time_t(Date().timeIntervalSince1970 + 4)
        var tm = tm()
        gmtime_r(&t, &tm)
        let expires = String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
        let grant = #"{"name": "temporary", "action": "allow", "from": {"services": ["shop/frontend"]}, "to": {"services": ["shop/payments"]}, "ports": [8080], "expires": "\#(expires)"}"#
        let mesh = try ManagedMesh(rules: grant, app: .echo)
        defer { mesh.stop() }
        let fd = try TCP.connect(port: mesh.ports["frontend"]!)
        defer { close(fd) }
        #expect(TCP.sendAll(fd, Array("ping".utf8)))
        var buf = [UInt8](repeating: 0, count: 4)
        #expect(recv(fd, &buf, 4, Int32(MSG_WAITALL)) == 4)
        let rest = TCP.readToEOF(fd)  // ends when the grant expires
        #expect(rest.bytes.isEmpty)
        #expect(Date().timeIntervalSince1970 >= Double(t) - 0.01)
        #expect(Date().timeIntervalSince1970 < Double(t) + 2.5)
        let fd2 = try TCP.connect(port: mesh.ports["frontend"]!)
        defer { close(fd2) }
        _ = TCP.sendAll(fd2, Array("ping".utf8))
        #expect(TCP.readToEOF(fd2).bytes.isEmpty)
    }

    @Test func auditRuleCountsShadowVerdictsWithoutTouchingTraffic() throws {
        let shadowDeny = #"{"name": "would-deny-frontend", "action": "deny", "mode": "audit", "from": {"segments": ["web"]}, "to": {"services": ["shop/payments"]}, "ports": [8080]}"#
        let mesh = try ManagedMesh(rules: Self.frontendToPayments + "," + shadowDeny)
        defer { mesh.stop() }
        for _ in 0..<3 { #expect(mesh.call("frontend").hasSuffix("hello from payments\n")) }
        let metrics = mesh.sidecars["payments"]!.admin("GET", "/metrics").body
        #expect(metrics.contains(#"mesh_authz_shadow_decisions_total{direction="inbound",verdict="deny",rule="would-deny-frontend"} 3"#))
        #expect(metrics.contains(#"mesh_authz_decisions_total{direction="inbound",verdict="allow",rule="frontend-to-payments"} 3"#))
    }

    @Test func invalidMeshIsRejectedWholeAndStaleIfMatchConflicts() throws {
        let mesh = try ManagedMesh(rules: Self.frontendToPayments)
        defer { mesh.stop() }
        let bad = try mesh.apply(rules: Self.frontendToPayments + #",{"name": "oops", "action": "allow", "from": {"services": ["shop/nobody"]}, "to": {"services": ["shop/payments"]}}"#)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("shop/nobody"))
        let get = try mesh.cp.meshctl(["-o", "json", "get", "rules"])
        #expect(get.stdout.contains("frontend-to-payments") && !get.stdout.contains("oops"))
        #expect(mesh.call("frontend").hasSuffix("hello from payments\n"))
        // A change based on an old version is refused with a conflict.
        let body = #"{"files": [{"name": "m.json", "content": "{\"trustDomain\": \"mesh.local\"}"}]}"#
        let r = try Self.put(mesh.cp, body: body, ifMatch: "0")
        #expect(r.contains("409") && r.contains("policy.conflict"))
        let missing = try Self.put(mesh.cp, body: body, ifMatch: nil)
        #expect(missing.contains("428"))
    }

    /// One section replaced on its own (rules here); the rest of the mesh is kept and the change is enforced.
    @Test func replacingOnlyTheRulesKeepsServicesAndIsEnforced() throws {
        let mesh = try ManagedMesh(rules: Self.frontendToPayments)
        defer { mesh.stop() }
        #expect(mesh.call("ledger") == "")
        let rules = #"{"rules": [{"name": "ledger-to-payments", "action": "allow", "from": {"services": ["shop/ledger"]}, "to": {"services": ["shop/payments"]}, "ports": [8080]}]}"#
        let r = try Self.put(mesh.cp, body: rules, ifMatch: "1", path: "/v1/mesh/rules")
        #expect(r.contains("200 OK") && r.contains("\"version\":2"), "\(r)")
        #expect(mesh.waitVersion("ledger", 2))
        #expect(mesh.call("ledger").hasSuffix("hello from payments\n"))
        #expect(mesh.call("frontend") == "")
        let services = try mesh.cp.meshctl(["-o", "json", "get", "services"])
        #expect(services.stdout.contains("shop/payments") || services.stdout.contains("\"payments\""))
        #expect(try Self.put(mesh.cp, body: rules, ifMatch: "1", path: "/v1/mesh/rules").contains("409"))
    }

    /// PUT with curl (status line and body).
    static func put(_ cp: ControlPlaneFixture, body: String, ifMatch: String?, path: String = "/v1/mesh") throws -> String {
        let token = try String(contentsOfFile: "\(cp.dataDir)/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        var args = ["-s", "-i", "-m", "5", "--cacert", "\(cp.dataDir)/bundle.pem", "--resolve", "ignored:1:127.0.0.1", "-k",
                    "-X", "PUT", "-H", "Authorization: Bearer \(token)", "-H", "Content-Type: application/json", "--data", body]
        if let ifMatch { args += ["-H", "If-Match: \"\(ifMatch)\""] }
        args.append("https://127.0.0.1:\(cp.port)\(path)")
        return try ChildProcess.run("/usr/bin/curl", args).stdout
    }
}

/// Black box: what survives a crash of the control plane, and what the sidecars do while it is gone.
@Suite("Segment policies under failure")
struct SegmentPolicyFailureTests {
    /// `kill -9` in the middle of a stream of applies: every acknowledged version is there after a restart,
    /// and the audit chain verifies.
    @Test func everyAcknowledgedApplySurvivesKill9() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        let dir = "\(cp.dir)/mesh"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try ManagedMesh.services.writeReplacing(toFile: "\(dir)/services.json")
        var acknowledged = 0
        nonisolated(unsafe) let target = cp
        let killer = Thread { usleep(UInt32.random(in: 400_000...900_000)); target.kill9() }
        killer.start()
        for i in 0..<200 {
            let rule = #"{"rules": [{"name": "r\#(i)", "action": "allow", "from": {"services": ["shop/frontend"]}, "to": {"services": ["shop/payments"]}}]}"#
            try rule.writeReplacing(toFile: "\(dir)/rules.json")
            let r = try cp.meshctl(["-o", "json", "apply", "-f", dir])
            guard r.status == 0, let v = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["version"] as? Int else { break }
            acknowledged = v
        }
        #expect(acknowledged >= 1)
        try cp.start()
        let get = try cp.meshctl(["-o", "json", "get", "rules"])
        #expect(get.status == 0)
        let mesh = try cp.meshctl(["-o", "json", "audit"])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(mesh.stdout.utf8)) as? [String: Any])
        #expect(doc["verified"] as? Bool == true)
        let applies = (doc["records"] as? [[String: Any]] ?? []).filter { $0["action"] as? String == "policy.apply" }
        let last = applies.last?["newVersion"] as? Int ?? 0
        // The store is at least at the last acknowledged version, and every version up to it is in the log.
        #expect(last >= acknowledged)
        #expect(applies.compactMap { $0["newVersion"] as? Int } == Array(1...max(1, last)))
    }

    /// Control plane gone: sidecars keep enforcing the last-known-good policy, also after a sidecar restart.
    @Test func lastKnownGoodIsEnforcedWhileTheControlPlaneIsDownAlsoAcrossARestart() throws {
        let mesh = try ManagedMesh(rules: SegmentPolicyTests.frontendToPayments)
        defer { mesh.stop() }
        #expect(mesh.call("frontend").hasSuffix("hello from payments\n"))
        mesh.cp.kill9()
        #expect(mesh.call("frontend").hasSuffix("hello from payments\n"))
        #expect(mesh.call("ledger") == "")
        // Restart frontend and ledger: they come back on their stored certificates and last-known-good slices.
        for name in ["frontend", "ledger"] {
            let old = mesh.sidecars[name]!
            old.stop()
            let again = try SidecarProcess(name: name, config: old.config, dir: mesh.cp.dir)
            mesh.cp.sidecars.append(again)
            mesh.sidecars[name] = again
            try again.waitReady(timeout: 10)
            #expect(again.waitForEvent { $0["event"] as? String == "policy-last-known-good" } != nil)
        }
        #expect(mesh.call("frontend").hasSuffix("hello from payments\n"))
        #expect(mesh.call("ledger") == "")
        #expect(mesh.sidecars["ledger"]!.waitForEvent { $0["reason"] as? String == "egress-not-allowed" } != nil)
    }
}

/// Issue 9 scope 4: an audit rule must be observable at the calling end too. Egress only an audit rule would
/// allow is still refused, but the caller's sidecar counts and logs the shadow verdict (once per connection).
@Suite("Egress shadow verdicts")
struct EgressShadowTests {
    @Test func auditOnlyEgressIsRefusedButItsShadowVerdictIsCounted() throws {
        let audit = #"{"name": "ledger-to-payments", "action": "allow", "mode": "audit", "from": {"services": ["shop/ledger"]}, "to": {"services": ["shop/payments"]}, "ports": [8080]}"#
        let mesh = try ManagedMesh(rules: SegmentPolicyTests.frontendToPayments + "," + audit)
        defer { mesh.stop() }
        for _ in 0..<2 { #expect(mesh.call("ledger") == "") }
        let ledger = mesh.sidecars["ledger"]!
        let shadow = ledger.waitForEvent { $0["event"] as? String == "shadow-decision" }
        #expect(shadow?["shadowVerdict"] as? String == "allow")
        #expect(shadow?["shadowRule"] as? String == "ledger-to-payments")
        #expect(shadow?["enforced"] as? String == "default-deny")
        let metrics = ledger.admin("GET", "/metrics").body
        #expect(metrics.contains(#"mesh_authz_shadow_decisions_total{direction="outbound",verdict="allow",rule="ledger-to-payments"} 2"#), "\(metrics)")
        #expect(metrics.contains(#"mesh_authz_decisions_total{direction="outbound",verdict="deny",rule="default-deny"} 2"#))
        // An enforced allow with no audit rule in play counts no shadow verdict.
        #expect(mesh.call("frontend").hasSuffix("hello from payments\n"))
        #expect(!mesh.sidecars["frontend"]!.admin("GET", "/metrics").body.contains("mesh_authz_shadow_decisions_total{"))
    }
}
