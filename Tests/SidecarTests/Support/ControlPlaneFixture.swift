import Foundation
import Glibc
import MeshTestSupport

/// A real `mesh-control` (init + serve) on loopback, and helpers to run `meshctl` against it and to start
/// bootstrapping sidecars. Everything lives in a fresh temporary folder.
final class ControlPlaneFixture {
    let dir: String
    let port = TCP.freePort()
    let passphrase = "test-passphrase-\(UUID().uuidString.prefix(8))"
    let certTTL: Int
    let overlap: Int?
    /// When set, `mesh-control serve` runs under `prlimit --nofile=N:N` (soft and hard fd limit).
    let nofile: Int?
    /// More `serve` options.
    let extraArgs: [String]
    var process: Spawned?
    var sidecars: [SidecarProcess] = []
    var apps: [TestApp] = []

    /// `importing` (cert PEM, key PEM): the CA to import at init (a test CA whose key the test holds).
    init(certTTL: Int = 3600, overlap: Int? = nil, importing: (cert: [UInt8], key: [UInt8])? = nil, nofile: Int? = nil,
         extraArgs: [String] = []) throws {
        self.certTTL = certTTL
        self.overlap = overlap
        self.nofile = nofile
        self.extraArgs = extraArgs
        dir = NSTemporaryDirectory() + "mesh-cp-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var initArgs = ["init", "--data-dir", "\(dir)/data", "--trust-domain", "mesh.local"]
        if let importing {
            try Data(importing.cert).write(to: URL(fileURLWithPath: "\(dir)/import-ca.crt"))
            try Data(importing.key).write(to: URL(fileURLWithPath: "\(dir)/import-ca.key"))
            initArgs += ["--import-ca-cert", "\(dir)/import-ca.crt", "--import-ca-key", "\(dir)/import-ca.key",
                         "--import-anchors", "\(dir)/import-ca.crt"]
        }
        let r = try run("mesh-control", initArgs)
        guard r.status == 0 else { throw TestFailure("mesh-control init: \(r.stderr)") }
        try start()
    }

    var dataDir: String { "\(dir)/data" }
    var logPath: String { "\(dir)/control.log" }

    func start() throws {
        let binary = "\(SidecarProcess.binDir)/mesh-control"
        var args = ["serve", "--data-dir", dataDir, "--listen", "127.0.0.1:\(port)", "--cert-ttl", "\(certTTL)s"]
        if let overlap { args += ["--rotation-overlap", "\(overlap)s"] }
        args += extraArgs
        if let nofile { args = ["--nofile=\(nofile):\(nofile)", "--", binary] + args }  // prlimit execs: same pid
        let p = try Spawned(nofile == nil ? binary : "/usr/bin/prlimit", args, environment: ["MESH_CA_PASSPHRASE": passphrase],
                            stderr: .file(logPath))
        process = p
        let deadline = Date().addingTimeInterval(10)
        while (try? TCP.connect(port: port)).map({ close($0) }) == nil {
            if Date() > deadline || !p.isRunning { throw TestFailure("mesh-control did not start: \((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")") }
            usleep(20_000)
        }
    }

    /// `kill -9`: no chance to clean up.
    func kill9() {
        guard let p = process, p.isRunning else { return }
        p.signal(SIGKILL)
        p.waitForExit()
    }

    /// Runs a built executable to completion.
    func run(_ tool: String, _ args: [String], env: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        try ChildProcess.run("\(SidecarProcess.binDir)/\(tool)", args, environment: ["MESH_CA_PASSPHRASE": passphrase].merging(env) { $1 })
    }

    func meshctl(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try run("meshctl", ["--server", "127.0.0.1:\(port)", "--data-dir", dataDir] + args)
    }

    /// A join token for `ns/name`, written to a file; returns the file's path.
    func tokenFile(_ service: String, ttl: String = "1h") throws -> String {
        let r = try meshctl(["token", "create", "--service", service, "--ttl", ttl])
        guard r.status == 0 else { throw TestFailure("token create: \(r.stderr)") }
        let path = "\(dir)/\(service.replacingOccurrences(of: "/", with: "-"))-\(UUID().uuidString.prefix(4)).token"
        try r.stdout.writeReplacing(toFile: path)
        return path
    }

    /// The config of a sidecar named `name` (its folder under `dir`) that bootstraps the identity of `service`
    /// (default `shop/<name>`) from a fresh join token, trusting our bundle file; with `managed` its policy comes
    /// from us too. One loop, allowed connections logged; `extra` members are merged over these.
    func bootstrapConfig(_ name: String, service: String? = nil, managed: Bool, extra: [String: Any] = [:]) throws -> [String: Any] {
        let token = try tokenFile(service ?? "shop/\(name)")
        try FileManager.default.createDirectory(atPath: "\(dir)/\(name)", withIntermediateDirectories: true)
        var cfg: [String: Any] = [
            "identity": ["trustDomain": "mesh.local", "certificate": "\(name)/svid.crt", "key": "\(name)/svid.key",
                         "trustBundle": "\(name)/bundle.crt",
                         "bootstrap": ["controlPlane": "127.0.0.1:\(port)", "tokenFile": token, "trustAnchor": "\(dataDir)/bundle.pem"]],
            "loops": 1, "log": ["logAllowed": true],
        ]
        if managed { cfg["policy"] = ["fromControlPlane": true, "lastKnownGood": "\(name)/policy.json"] }
        return cfg.merging(extra) { $1 }
    }

    /// A sidecar that bootstraps from a join token (trust anchor: the bundle file) and keeps renewing.
    func sidecar(_ service: String, inbound: [[String: Any]] = [], outbound: [[String: Any]] = []) throws -> SidecarProcess {
        let name = service.split(separator: "/").last.map(String.init)!
        var listeners: [String: Any] = [:]
        if !inbound.isEmpty { listeners["inbound"] = inbound }
        if !outbound.isEmpty { listeners["outbound"] = outbound }
        let s = try SidecarProcess(name: name, config: try bootstrapConfig(name, service: service, managed: false, extra: listeners), dir: dir)
        sidecars.append(s)
        return s
    }

    func auditRecords() throws -> [[String: Any]] {
        let r = try meshctl(["-o", "json", "audit"])
        guard r.status == 0, let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else {
            throw TestFailure("audit: \(r.stderr)")
        }
        return doc["records"] as? [[String: Any]] ?? []
    }

    func stop() {
        for s in sidecars { s.stop() }
        for a in apps { a.stop() }
        if let p = process, p.isRunning { p.terminate(); p.waitForExit() }
        try? FileManager.default.removeItem(atPath: dir)
    }
}
