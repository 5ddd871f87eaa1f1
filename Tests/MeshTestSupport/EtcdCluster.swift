import Foundation
import MeshCore
import MeshEtcd
import MeshTLS

/// Real `etcd` members on loopback for tests: free client and peer ports, data in a temp folder, fast elections
/// (heartbeat 50 ms, election timeout 500 ms). With `tls`, a CA, server certificates (IP SAN 127.0.0.1) and a
/// client certificate are minted at test time and the members require client certificates. Every process is
/// stopped by `stop()` (also from deinit), so a failing test leaves none behind.
public final class EtcdCluster: @unchecked Sendable {
    // @unchecked: tests drive a cluster from one task; `processes` is guarded by `lock` for kill/restart.
    public static let etcdPath = "/usr/bin/etcd"
    public let dir: TempDir
    public let tls: Bool
    public let clientPorts: [UInt16]
    public let peerPorts: [UInt16]
    private let lock = NSLock()
    private var processes: [Spawned?]
    private let token = UUID().uuidString

    /// Client URLs, one per member.
    public var endpoints: [String] { clientPorts.map { "\(tls ? "https" : "http")://127.0.0.1:\($0)" } }
    public var caFile: String { dir.file("ca.pem") }
    public var clientCertFile: String { dir.file("client.pem") }
    public var clientKeyFile: String { dir.file("client-key.pem") }

    public init(members: Int, tls: Bool = false, timeoutSeconds: Double = 15) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.etcdPath) else {
            throw MeshError(.storeUnavailable, "etcd is not installed at \(Self.etcdPath): run `apt-get install etcd-server etcd-client`")
        }
        precondition(members == 1 || members == 3, "EtcdCluster: 1 or 3 members")
        dir = try TempDir(prefix: "etcd")
        self.tls = tls
        var ports = LoopbackPorts.take(2 * members)
        clientPorts = Array(ports.prefix(members))
        ports.removeFirst(members)
        peerPorts = ports
        processes = Array(repeating: nil, count: members)
        do {
            if tls { try mintCertificates() }
            for i in 0..<members { try start(i) }
            try waitHealthy(timeoutSeconds: timeoutSeconds)
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    /// Settings for an `EtcdClient` of every member (with the CA and client certificate under TLS).
    public func clientSettings(clientCertificate: Bool = true) -> EtcdClientSettings {
        var s = EtcdClientSettings(endpoints: endpoints)
        if tls {
            s.caFile = caFile
            if clientCertificate {
                s.certFile = clientCertFile
                s.keyFile = clientKeyFile
            }
        }
        return s
    }

    private func arguments(_ i: Int) -> [String] {
        let scheme = tls ? "https" : "http"
        let cluster = peerPorts.indices.map { "m\($0)=http://127.0.0.1:\(peerPorts[$0])" }.joined(separator: ",")
        var a = ["--name", "m\(i)", "--data-dir", dir.file("m\(i).etcd"),
                 "--listen-client-urls", "\(scheme)://127.0.0.1:\(clientPorts[i])",
                 "--advertise-client-urls", "\(scheme)://127.0.0.1:\(clientPorts[i])",
                 "--listen-peer-urls", "http://127.0.0.1:\(peerPorts[i])",
                 "--initial-advertise-peer-urls", "http://127.0.0.1:\(peerPorts[i])",
                 "--initial-cluster", cluster, "--initial-cluster-state", "new", "--initial-cluster-token", token,
                 "--heartbeat-interval", "50", "--election-timeout", "500", "--logger", "zap", "--log-level", "warn",
                 "--enable-pprof=false"]
        if tls {
            a += ["--cert-file", dir.file("server\(i).pem"), "--key-file", dir.file("server\(i)-key.pem"),
                  "--trusted-ca-file", caFile, "--client-cert-auth"]
        }
        return a
    }

    private func start(_ i: Int) throws {
        let log = dir.file("m\(i).log")
        let p = try Spawned(Self.etcdPath, arguments(i), stdout: .file(log), stderr: .file(log))
        lock.withLock { processes[i] = p }
    }

    /// SIGKILL of member `i` (its data stays; `restart(i)` brings it back).
    public func kill(_ i: Int) {
        guard let p = lock.withLock({ () -> Spawned? in let p = processes[i]; processes[i] = nil; return p }) else { return }
        p.signal(SIGKILL)
        p.waitForExit()
    }

    /// SIGSTOP of member `i`: alive (its sockets stay open) but silent, like a hung or partitioned member.
    public func pause(_ i: Int) {
        lock.withLock { processes[i] }?.signal(SIGSTOP)
    }

    /// SIGCONT of a paused member.
    public func resume(_ i: Int) {
        lock.withLock { processes[i] }?.signal(SIGCONT)
    }

    /// Starts member `i` again on its ports and data; waits until the cluster is healthy.
    public func restart(_ i: Int, timeoutSeconds: Double = 15) throws {
        kill(i)
        try start(i)
        try waitHealthy(timeoutSeconds: timeoutSeconds)
    }

    /// Stops every member (SIGTERM, then SIGKILL after 3 s).
    public func stop() {
        let all = lock.withLock { () -> [Spawned] in let all = processes.compactMap { $0 }; processes = processes.map { _ in nil }; return all }
        for p in all {
            p.signal(SIGCONT)  // a paused member must see the SIGTERM
            p.terminate()
        }
        for p in all { p.stop(grace: 3) }
    }

    /// Whether member `i` runs.
    public func isRunning(_ i: Int) -> Bool { lock.withLock { processes[i]?.isRunning ?? false } }

    /// Waits until every running member answers and knows a leader.
    public func waitHealthy(timeoutSeconds: Double) throws {
        var s = clientSettings()
        s.requestTimeoutMs = 500
        s.dialTimeoutMs = 500
        let client = try EtcdClient(s)
        defer { client.close() }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var last: [EtcdMemberStatus] = []
        while Date() < deadline {
            last = client.status()
            let running = clientPorts.indices.filter { isRunning($0) }
            if running.allSatisfy({ last[$0].healthy }) { return }
            usleep(50_000)
        }
        let logs = clientPorts.indices.map { (try? dir.text("m\($0).log").suffix(1500)).map(String.init) ?? "" }
        throw MeshError(.storeUnavailable, "etcd cluster not healthy within \(timeoutSeconds) s: \(last); logs: \(logs)")
    }

    private func mintCertificates() throws {
        let ca = try TestCA(commonName: "etcd test CA")
        try dir.write("ca.pem", ca.certificate.pem())
        for i in clientPorts.indices {
            var t = CertificateTemplate(notBefore: ca.now - 60, notAfter: ca.now + 3600)
            t.commonName = "etcd member \(i)"
            t.ipSANs = ["127.0.0.1"]
            t.dnsSANs = ["localhost"]
            let m = try ca.mint(t)
            try dir.write("server\(i).pem", m.chain[0].pem())
            try dir.write("server\(i)-key.pem", m.key.pem())
        }
        var t = CertificateTemplate(notBefore: ca.now - 60, notAfter: ca.now + 3600)
        t.commonName = "mesh-control"
        t.extendedKeyUsage = "clientAuth"
        let m = try ca.mint(t)
        try dir.write("client.pem", m.chain[0].pem())
        try dir.write("client-key.pem", m.key.pem())
    }
}
