import Foundation
import Glibc
import MeshTestSupport
import Testing

/// What a sidecar and meshctl do with a list of control-plane addresses, against one real `mesh-control`
/// (file store) and a dead port. Failover between replicas that share state is in `HAClusterTests`.
@Suite(.serialized) struct HAFailoverTests {
    static let noRules = "{\"rules\": []}"
    static let webToPayments = #"{"rules": [{"name": "web-to-payments", "action": "allow", "from": {"services": ["shop/frontend"]}, "to": {"services": ["shop/payments"]}, "ports": [8080]}]}"#

    /// Applies ManagedMesh's services with `rules` through meshctl.
    static func apply(_ cp: ControlPlaneFixture, rules: String) throws {
        let dir = "\(cp.dir)/mesh"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try ManagedMesh.services.writeReplacing(toFile: "\(dir)/services.json")
        try rules.writeReplacing(toFile: "\(dir)/rules.json")
        let r = try cp.meshctl(["apply", "-f", dir])
        guard r.status == 0 else { throw TestFailure("apply: \(r.stderr)") }
    }

    /// A managed `payments` sidecar whose `bootstrap.controlPlane` is `addresses`.
    static func sidecar(_ cp: ControlPlaneFixture, addresses: [String]) throws -> SidecarProcess {
        var cfg = try cp.bootstrapConfig("payments", managed: true)
        var identity = cfg["identity"] as! [String: Any]
        var bootstrap = identity["bootstrap"] as! [String: Any]
        bootstrap["controlPlane"] = addresses
        identity["bootstrap"] = bootstrap
        cfg["identity"] = identity
        cfg["inbound"] = [["name": "api", "port": 8080, "listen": "127.0.0.1:\(TCP.freePort())", "forwardTo": "127.0.0.1:\(TCP.freePort())",
                           "allow": [String]()]]
        let s = try SidecarProcess(name: "payments", config: cfg, dir: cp.dir)
        cp.sidecars.append(s)
        return s
    }

    static func metricLine(_ s: SidecarProcess, _ prefix: String) -> String? {
        s.admin("GET", "/metrics").body.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init)
    }

    /// Bootstrap (join token, one-shot), the first slice, the long poll: all skip the dead first address, and the
    /// metrics name the address in use and count the one failover.
    @Test func aSidecarWhoseFirstAddressIsDeadUsesTheSecond() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        try Self.apply(cp, rules: Self.noRules)
        let dead = "127.0.0.1:\(TCP.freePort())", live = "127.0.0.1:\(cp.port)"
        let s = try Self.sidecar(cp, addresses: [dead, live])
        try s.waitReady(timeout: 20)
        #expect(Self.metricLine(s, "mesh_control_channel_address{") == "mesh_control_channel_address{address=\"\(live)\"} 1")
        #expect(ControlPlaneLifecycleTests.metric(s, "mesh_control_channel_failovers_total") == 1)
        let before = ControlPlaneLifecycleTests.metric(s, "mesh_policy_version")
        try Self.apply(cp, rules: Self.webToPayments)
        let deadline = Date().addingTimeInterval(5)
        while ControlPlaneLifecycleTests.metric(s, "mesh_policy_version") != before + 1 && Date() < deadline { usleep(20_000) }
        #expect(ControlPlaneLifecycleTests.metric(s, "mesh_policy_version") == before + 1, "the long poll is parked at \(live)")
        #expect(ControlPlaneLifecycleTests.metric(s, "mesh_control_channel_failovers_total") == 1, "it stays where it works")
    }

    /// `meshctl --control-plane dead,live status`: the control plane (replica, store, replicas) above the sidecars.
    @Test func meshctlStatusShowsTheReplicaAndTheStore() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        try Self.apply(cp, rules: Self.noRules)
        let live = "127.0.0.1:\(cp.port)"
        let args = ["--control-plane", "127.0.0.1:\(TCP.freePort()),\(live)", "--data-dir", cp.dataDir]
        let text = try cp.run("meshctl", args + ["status"])
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("replica \(live) at \(live) (leader): mesh version 1, epoch ") == true, "\(text.stdout)")
        #expect(lines.contains("store file: healthy"))
        #expect(lines.contains { $0.hasPrefix("REPLICA") } && lines.contains { $0.hasPrefix(live) && $0.hasSuffix("yes") })
        #expect(lines.contains("mesh version 1") && lines.contains { $0.hasPrefix("SIDECAR") })
        let json = try cp.run("meshctl", args + ["-o", "json", "status"])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stdout)")
        let replica = (doc["controlPlane"] as? [String: Any])?["replica"] as? [String: Any]
        #expect(replica?["address"] as? String == live && replica?["leader"] as? Bool == true)
        #expect(((doc["controlPlane"] as? [String: Any])?["store"] as? [String: Any])?["kind"] as? String == "file")
        #expect(doc["version"] as? Int == 1 && doc["sidecars"] is [Any])
    }
}
