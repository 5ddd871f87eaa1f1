#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshEtcd
import MeshNet
import MeshTLS

/// `mesh-control … --store etcd` and `mesh-control migrate` (issue 11: replicas over etcd).
extension ControlCommand {
    static let etcdUsage = """
    Store (init and serve): --store file (default: everything under --data-dir) or --store etcd with
           --etcd-endpoints http(s)://IP:PORT,… [--etcd-prefix P (default /mesh/<trust-domain>/)]
           [--etcd-ca F --etcd-cert F --etcd-key F]. serve --store etcd needs --trust-domain or --etcd-prefix;
           it registers as --replica-id (default HOSTNAME-PID) with --advertise-address (default: the bound
           listen address), holds an etcd lease of --leader-lease-ttl (default 5s) renewed every
           --leader-renew (default 1s); the replica holding the leader key alone runs CA rotation phases and
           quarantine/throttle expiry. --data-dir still holds the replica's admin.token (init) and telemetry.
    migrate --from DIR --to etcd:URL,… | --from etcd:URL,… --to DIR  [--etcd-prefix P] [--trust-domain TD]
           Copies policy (version, epoch), tokens, identities, CA state, admin hash and audit records (the
           chain still verifies) into an empty target; refuses a non-empty one. Stop the control plane first.
    """

    static func etcdClient(_ urls: String, _ opts: [String: String]) throws -> EtcdClient {
        var s = EtcdClientSettings(endpoints: urls.split(separator: ",").map { String($0).trimming(" ") })
        s.caFile = opts["etcd-ca"]
        s.certFile = opts["etcd-cert"]
        s.keyFile = opts["etcd-key"]
        return try EtcdClient(s)
    }

    static func etcdPrefix(_ opts: [String: String], trustDomain: String?) throws -> String {
        if let p = opts["etcd-prefix"] { return p }
        guard let td = trustDomain ?? opts["trust-domain"] else {
            throw MeshError(.usage, "--store etcd needs --etcd-prefix or --trust-domain (the default prefix is /mesh/<trust-domain>/)")
        }
        return EtcdStore.defaultPrefix(trustDomain: td)
    }

    static func initializeEtcd(dataDir: String, opts: [String: String], passphrase: [UInt8], trustDomain: TrustDomain,
                               imported: (cert: Certificate, key: PrivateKey, chain: [Certificate], anchors: [Certificate])?) -> Int32 {
        guard let urls = opts["etcd-endpoints"] else { err("mesh-control init: --store etcd needs --etcd-endpoints"); return 64 }
        do {
            let store = EtcdStore(kv: try etcdClient(urls, opts), prefix: try etcdPrefix(opts, trustDomain: trustDomain.name))
            let secret = try EtcdStoreSetup.initialize(store: store, trustDomain: trustDomain, passphrase: passphrase,
                                                       now: SystemClock().wallSeconds(), imported: imported)
            try DurableFile.makeDirectory(dataDir)
            try DurableFile.write("\(dataDir)/admin.token", Array((secret + "\n").utf8), mode: 0o600)
            out("initialized etcd \(store.prefix) for trust domain \(trustDomain)")
            out("admin credential written to \(dataDir)/admin.token (0600); meshctl reads it with --data-dir or --token-file")
            return 0
        } catch let e as MeshError where e.errorCode == .caExists || e.errorCode == .usage {
            err("mesh-control init: \(e.reason)")
            return 64
        } catch {
            err("mesh-control init: \(error)")
            return 70
        }
    }

    /// The control plane `serve` runs: over the data directory, or a replica over etcd.
    static func controlPlane(dataDir: String, opts: [String: String], passphrase: [UInt8], settings: ControlSettings,
                             listen: String) throws -> ControlPlane {
        guard opts["store"] == "etcd" else {
            if let s = opts["store"], s != "file" { throw MeshError(.usage, "--store must be file or etcd") }
            return try ControlPlane(dataDir: dataDir, passphrase: passphrase, settings: settings)
        }
        guard let urls = opts["etcd-endpoints"] else { throw MeshError(.usage, "--store etcd needs --etcd-endpoints") }
        var lead = ReplicaLeadership.Settings()
        if let t = opts["leader-lease-ttl"] { lead.ttlSeconds = Int(try duration(t, min: 2)) }
        if let r = opts["leader-renew"] { lead.renewSeconds = try duration(r, min: 0.1) }
        guard lead.renewSeconds * 2 <= Double(lead.ttlSeconds) else { throw MeshError(.usage, "--leader-renew must be at most half of --leader-lease-ttl") }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let hostName = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let id = opts["replica-id"] ?? "\(hostName)-\(getpid())"
        try DurableFile.makeDirectory(dataDir)
        return try ControlPlane(etcd: try etcdClient(urls, opts), prefix: try etcdPrefix(opts, trustDomain: nil), passphrase: passphrase,
                                settings: settings, telemetryDir: "\(dataDir)/telemetry", replicaID: id,
                                address: opts["advertise-address"] ?? listen, leadership: lead)
    }

    static func migrate(opts: [String: String], passphrase: [UInt8]) -> Int32 {
        guard let from = opts["from"], let to = opts["to"], from.hasPrefix("etcd:") != to.hasPrefix("etcd:") else {
            err("mesh-control migrate: needs --from DIR --to etcd:URLS or --from etcd:URLS --to DIR")
            return 64
        }
        do {
            let summary: StoreMigration.Summary
            if to.hasPrefix("etcd:") {
                let td = try FileCAStateRepository(dataDir: from, passphrase: passphrase).load().trustDomain.name
                let store = EtcdStore(kv: try etcdClient(String(to.dropFirst(5)), opts), prefix: try etcdPrefix(opts, trustDomain: td))
                summary = try StoreMigration.fileToEtcd(dataDir: from, store: store, passphrase: passphrase)
            } else {
                let store = EtcdStore(kv: try etcdClient(String(from.dropFirst(5)), opts), prefix: try etcdPrefix(opts, trustDomain: nil))
                summary = try StoreMigration.etcdToFile(store: store, dataDir: to, passphrase: passphrase)
            }
            out("migrated \(from) to \(to): policy version \(summary.policyVersion), \(summary.tokens) tokens, "
                + "\(summary.identities) identities, \(summary.auditRecords) audit records")
            return 0
        } catch let e as MeshError where e.errorCode == .caExists || e.errorCode == .usage {
            err("mesh-control migrate: \(e.reason)")
            return 64
        } catch {
            err("mesh-control migrate: \(error)")
            return 70
        }
    }
}
