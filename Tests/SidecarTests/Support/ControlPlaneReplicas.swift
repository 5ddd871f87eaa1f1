import Foundation
import Glibc
import MeshControlClient
import MeshCore
import MeshNet
import MeshTLS
import MeshTestSupport

/// Replicas of one control plane over an etcd cluster: `mesh-control init --store etcd` once, then `count`
/// `mesh-control serve --store etcd` processes on loopback, each with its own data folder (telemetry journal)
/// and replica id `r<i>`. `kill9(i)` / `start(i)` simulate a crash and a restart; `stop()` ends every process
/// (also from deinit, so a failing test leaves none behind).
final class ControlPlaneReplicas: @unchecked Sendable {
    // @unchecked: a test may kill a replica from another thread; `processes` is guarded by `lock`, the rest is
    // set in init (`sidecars` only from the test's own thread).
    let dir: String
    let endpoints: [String]
    let passphrase = "test-passphrase-\(UUID().uuidString.prefix(8))"
    let ports: [UInt16]
    private var processes: [Spawned?]
    private let lock = NSLock()
    var sidecars: [SidecarProcess] = []

    /// The folder `init` wrote the admin credential and the bundle to (meshctl's `--data-dir`).
    var initDir: String { "\(dir)/init" }
    func dataDir(_ i: Int) -> String { "\(dir)/r\(i)" }
    func logPath(_ i: Int) -> String { "\(dir)/r\(i).log" }
    func address(_ i: Int) -> String { "127.0.0.1:\(ports[i])" }

    init(endpoints: [String], count: Int = 2) throws {
        self.endpoints = endpoints
        dir = NSTemporaryDirectory() + "mesh-ha-\(UUID().uuidString.prefix(8))"
        ports = (0..<count).map { _ in TCP.freePort() }
        processes = Array(repeating: nil, count: count)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let r = try run("mesh-control", ["init"] + storeArgs + ["--trust-domain", "mesh.local", "--data-dir", initDir])
        guard r.status == 0 else { throw TestFailure("mesh-control init --store etcd: \(r.stderr)") }
        for i in 0..<count { try start(i) }
        // The etcd store keeps no bundle.pem on disk: take it from a replica (first use; the test trusts loopback).
        let bundle = try ControlPlaneClient(addresses: [try SocketAddress(HostPort(parsing: address(0)))],
                                            tls: try TLSContext.insecureClientForBootstrap(), expectServer: nil,
                                            skipServerVerification: true).bundle()
        try bundle.bundlePEM.writeReplacing(toFile: "\(initDir)/bundle.pem")
    }

    deinit { stop() }

    /// Whether replicas can run here: etcd is installed and `mesh-control` knows `--store etcd`.
    static let available: Bool = {
        guard FileManager.default.isExecutableFile(atPath: EtcdCluster.etcdPath),
              let help = try? ChildProcess.run("\(SidecarProcess.binDir)/mesh-control", ["--help"]) else { return false }
        return (help.stdout + help.stderr).contains("--store")
    }()

    var storeArgs: [String] { ["--store", "etcd", "--etcd-endpoints", endpoints.joined(separator: ",")] }

    /// Starts replica `i` (again) and waits until it accepts connections.
    func start(_ i: Int) throws {
        try FileManager.default.createDirectory(atPath: dataDir(i), withIntermediateDirectories: true)
        let p = try Spawned("\(SidecarProcess.binDir)/mesh-control",
                            ["serve"] + storeArgs + ["--trust-domain", "mesh.local", "--data-dir", dataDir(i), "--listen", address(i),
                                                     "--replica-id", "r\(i)", "--advertise-address", address(i)],
                            environment: ["MESH_CA_PASSPHRASE": passphrase], stderr: .file(logPath(i)))
        lock.withLock { processes[i] = p }
        let deadline = Date().addingTimeInterval(10)
        while (try? TCP.connect(port: ports[i])).map({ close($0) }) == nil {
            if Date() > deadline || !p.isRunning {
                throw TestFailure("replica \(i) did not start: \((try? String(contentsOfFile: logPath(i), encoding: .utf8)) ?? "")")
            }
            usleep(20_000)
        }
    }

    /// `kill -9` of replica `i`: no chance to clean up (its leadership lease expires by itself).
    func kill9(_ i: Int) {
        guard let p = lock.withLock({ () -> Spawned? in let p = processes[i]; processes[i] = nil; return p }) else { return }
        p.signal(SIGKILL)
        p.waitForExit()
    }

    func isRunning(_ i: Int) -> Bool { lock.withLock { processes[i]?.isRunning ?? false } }

    func stop() {
        for s in sidecars { s.stop() }
        sidecars = []
        let all = lock.withLock { () -> [Spawned] in let all = processes.compactMap { $0 }; processes = processes.map { _ in nil }; return all }
        for p in all where p.isRunning { p.terminate(); p.waitForExit() }
    }

    func run(_ tool: String, _ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try ChildProcess.run("\(SidecarProcess.binDir)/\(tool)", args, environment: ["MESH_CA_PASSPHRASE": passphrase])
    }

    /// meshctl against replica `i` (or a comma-separated list of them).
    func meshctl(_ at: [Int], _ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try run("meshctl", ["--control-plane", at.map(address).joined(separator: ","), "--data-dir", initDir] + args)
    }

    /// A join token for `service` minted at replica `i`, written to a file; returns the path.
    func tokenFile(_ service: String, at i: Int = 0) throws -> String {
        let r = try meshctl([i], ["token", "create", "--service", service, "--ttl", "1h"])
        guard r.status == 0 else { throw TestFailure("token create: \(r.stderr)") }
        let path = "\(dir)/\(service.replacingOccurrences(of: "/", with: "-"))-\(UUID().uuidString.prefix(4)).token"
        try r.stdout.writeReplacing(toFile: path)
        return path
    }

    /// Applies ManagedMesh's services with `rules` (a rules.json document) at replica `i`.
    @discardableResult
    func apply(rules: String, at i: Int) throws -> (status: Int32, stdout: String, stderr: String) {
        let mesh = "\(dir)/mesh-\(UUID().uuidString.prefix(4))"
        try FileManager.default.createDirectory(atPath: mesh, withIntermediateDirectories: true)
        try ManagedMesh.services.writeReplacing(toFile: "\(mesh)/services.json")
        try rules.writeReplacing(toFile: "\(mesh)/rules.json")
        return try meshctl([i], ["apply", "-f", mesh])
    }

    /// A managed `payments` sidecar (inbound 8080 → `app`) polling the replicas `at`, in that order.
    func sidecar(_ name: String, inbound: [[String: Any]], at: [Int]) throws -> SidecarProcess {
        let token = try tokenFile("shop/\(name)", at: at[0])
        try FileManager.default.createDirectory(atPath: "\(dir)/\(name)", withIntermediateDirectories: true)
        let cfg: [String: Any] = [
            "identity": ["trustDomain": "mesh.local", "certificate": "\(name)/svid.crt", "key": "\(name)/svid.key",
                         "trustBundle": "\(name)/bundle.crt",
                         "bootstrap": ["controlPlane": at.map(address), "tokenFile": token, "trustAnchor": "\(initDir)/bundle.pem"]],
            "policy": ["fromControlPlane": true, "lastKnownGood": "\(name)/policy.json"],
            "loops": 1, "log": ["logAllowed": true], "inbound": inbound,
        ]
        let s = try SidecarProcess(name: name, config: cfg, dir: dir)
        sidecars.append(s)
        return s
    }
}
