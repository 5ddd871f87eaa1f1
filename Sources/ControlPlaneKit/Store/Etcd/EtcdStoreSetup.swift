import MeshCore
import MeshEtcd
import MeshTLS

/// `mesh-control init --store etcd`: the CA, the admin credential's hash, the epoch and the first audit record,
/// written under the prefix. Refuses (`ca.exists`) when anything is stored there already.
public enum EtcdStoreSetup {
    /// Returns the admin secret (shown once; the command writes it to `DIR/admin.token`, 0600).
    public static func initialize(store: EtcdStore, trustDomain: TrustDomain, passphrase: [UInt8], now: Double,
                                  imported: (cert: Certificate, key: PrivateKey, chain: [Certificate], anchors: [Certificate])?) throws -> String {
        guard try store.isEmpty() else {
            throw MeshError(.caExists, "etcd already holds a control plane under \(store.prefix); refusing to overwrite it")
        }
        let root = try CAState.Root.first(trustDomain: trustDomain, now: now, imported: imported)
        guard let secret = Random.hex(32).map({ "mat_" + $0 }), let epoch = Random.hex(16) else {
            throw MeshError(.initRandom, "no randomness available")
        }
        try EtcdCAStateRepository.create(store: store, CAState(trustDomain: trustDomain, revision: 1, roots: [root]), passphrase: passphrase, extra: [
            .put(store.key("admin/token.sha256"), Array(SHA256.hex(Array(secret.utf8)).utf8), lease: 0),
            .put(store.key("epoch"), Array(epoch.utf8), lease: 0),
        ])
        try EtcdAuditSink(store: store).record(time: now, actor: "mesh-control init", action: "ca.init", [
            ("trustDomain", .string(trustDomain.name)), ("imported", .bool(imported != nil)),
            ("root", .string(root.certificate.sha256Fingerprint)),
        ])
        return secret
    }
}
