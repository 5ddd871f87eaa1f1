import Foundation
import Glibc

/// A control plane with a mesh configuration applied, and sidecars that take their identity and their
/// policy from it: `payments` (inbound, port 8080) and outbound sidecars for `frontend` and `ledger`.
final class ManagedMesh {
    let cp: ControlPlaneFixture
    let app: TestApp
    let meshDir: String
    let inPort = TCP.freePort()
    var ports: [String: UInt16] = [:]
    var sidecars: [String: SidecarProcess] = [:]

    static let services = """
    {"trustDomain": "mesh.local", "services": [
      {"namespace": "shop", "name": "frontend", "labels": {"tier": "web"}, "ports": [8080]},
      {"namespace": "shop", "name": "payments", "labels": {"pci": "true"}, "ports": [8080, 9090]},
      {"namespace": "shop", "name": "ledger", "labels": {"pci": "true"}, "ports": [8080]}],
     "segments": [{"name": "web", "selector": {"tier": "web"}}]}
    """

    init(rules: String, app mode: TestApp.Mode = .http("payments"), callers: [String] = ["frontend", "ledger"],
         certTTL: Int = 3600) throws {
        cp = try ControlPlaneFixture(certTTL: certTTL)
        app = try TestApp(mode)
        cp.apps.append(app)
        meshDir = "\(cp.dir)/mesh"
        try FileManager.default.createDirectory(atPath: meshDir, withIntermediateDirectories: true)
        try apply(rules: rules)
        sidecars["payments"] = try sidecar("payments", inbound: [[
            "name": "api", "port": 8080, "listen": "127.0.0.1:\(inPort)", "forwardTo": "127.0.0.1:\(app.port)", "allow": [String]()]])
        for c in callers {
            let port = TCP.freePort()
            ports[c] = port
            sidecars[c] = try sidecar(c, outbound: [[
                "name": "payments", "to": "shop/payments", "port": 8080, "listen": "127.0.0.1:\(port)",
                "upstream": "127.0.0.1:\(inPort)", "expectIdentity": "spiffe://mesh.local/ns/shop/sa/payments"]])
        }
        for s in sidecars.values { try s.waitReady(timeout: 20) }
    }

    /// Writes services.json + rules.json and applies them; returns meshctl's result.
    @discardableResult
    func apply(rules: String) throws -> (status: Int32, stdout: String, stderr: String) {
        try Self.services.writeReplacing(toFile: "\(meshDir)/services.json")
        try "{\"rules\": [\(rules)]}".writeReplacing(toFile: "\(meshDir)/rules.json")
        return try cp.meshctl(["apply", "-f", meshDir])
    }

    /// `extra`: more top-level config members (e.g. `telemetry`).
    func sidecar(_ name: String, inbound: [[String: Any]] = [], outbound: [[String: Any]] = [], managed: Bool = true,
                 extra: [String: Any] = [:]) throws -> SidecarProcess {
        var cfg = try cp.bootstrapConfig(name, managed: managed, extra: extra)
        if !inbound.isEmpty { cfg["inbound"] = inbound }
        if !outbound.isEmpty { cfg["outbound"] = outbound }
        let s = try SidecarProcess(name: name, config: cfg, dir: cp.dir)
        cp.sidecars.append(s)
        return s
    }

    func call(_ caller: String) -> String { TCP.httpGet(port: ports[caller]!) }

    /// Waits (bounded) until `sidecar` reports policy `version` in its metrics.
    func waitVersion(_ name: String, _ version: Int, timeout: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if ControlPlaneLifecycleTests.metric(sidecars[name]!, "mesh_policy_version") == version { return true }
            usleep(20_000)
        }
        return false
    }

    func stop() { cp.stop() }
}
