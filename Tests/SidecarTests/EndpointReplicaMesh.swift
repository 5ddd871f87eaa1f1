import Foundation
import Glibc

/// A control plane, `replicas` payments sidecars (same service identity, one join token each) each in front of
/// its own backend (`TestApp(.http("r<i>"))`), and a frontend sidecar whose outbound listener names only
/// `to` and `port`: its endpoints come from the slice.
final class EndpointReplicaMesh {
    let cp: ControlPlaneFixture
    var replicas: [SidecarProcess] = []
    var replicaPorts: [UInt16] = []
    var caller: SidecarProcess!
    let callerPort = TCP.freePort()

    init(replicas n: Int = 3) throws {
        cp = try ControlPlaneFixture()
        try EndpointRegistrationTests.apply(cp)
        for i in 0..<n {
            let app = try TestApp(.http("r\(i)"))
            cp.apps.append(app)
            let port = TCP.freePort()
            replicaPorts.append(port)
            replicas.append(try sidecar("payments-\(i)", service: "shop/payments", inbound: [[
                "name": "api", "port": 8080, "listen": "127.0.0.1:\(port)", "forwardTo": "127.0.0.1:\(app.port)", "allow": [String]()]]))
        }
        caller = try sidecar("frontend", service: "shop/frontend", outbound: [[
            "name": "payments", "to": "shop/payments", "port": 8080, "listen": "127.0.0.1:\(callerPort)"]])
        for s in replicas + [caller!] { try s.waitReady(timeout: 20) }
    }

    /// A managed sidecar named `name` (its files and logs) with the identity of `service`.
    func sidecar(_ name: String, service: String, inbound: [[String: Any]] = [], outbound: [[String: Any]] = []) throws -> SidecarProcess {
        var cfg = try cp.bootstrapConfig(name, service: service, managed: true, extra: ["log": ["logAllowed": false]])
        if !inbound.isEmpty { cfg["inbound"] = inbound }
        if !outbound.isEmpty { cfg["outbound"] = outbound }
        let s = try SidecarProcess(name: name, config: cfg, dir: cp.dir)
        cp.sidecars.append(s)
        return s
    }

    /// One call through the frontend's outbound listener: the replica that answered (`r<i>`), nil on failure.
    func call() -> String? {
        let text = TCP.httpGet(port: callerPort)
        guard let r = text.range(of: "hello from ") else { return nil }
        return String(text[r.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Calls until every replica in `names` answered once (bounded).
    func waitServing(_ names: Set<String>, timeout: Double = 15) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var seen = Set<String>()
        while Date() < deadline {
            if let r = call() { seen.insert(r) }
            if names.isSubset(of: seen) { return true }
            usleep(20_000)
        }
        return false
    }

    /// The caller's `mesh_endpoint_<series>` for replica `i`'s endpoint (0 when absent).
    func endpointMetric(_ series: String, replica i: Int) -> Int {
        let endpoint = "127.0.0.1:\(replicaPorts[i])"
        return caller.admin("GET", "/metrics").body.split(separator: "\n")
            .first { $0.hasPrefix("mesh_endpoint_\(series){") && $0.contains("\"\(endpoint)\"") }
            .flatMap { Int($0.split(separator: " ").last!) } ?? 0
    }

    func stop() { cp.stop() }
}
