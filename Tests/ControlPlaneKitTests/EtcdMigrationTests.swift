@testable import ControlPlaneKit
import MeshCore
import MeshEtcd
import MeshNet
import MeshTLS
import MeshTestSupport
import Testing

/// `mesh-control migrate`: a data directory into etcd and back, equal in every part; a non-empty target refused.
@Suite(.serialized) struct EtcdMigrationTests {
    typealias C = RepositoryContract

    @Test func fileToEtcdToFileRoundTripIsEqual() throws {
        let etcd = try EtcdFixture()
        defer { etcd.stop() }
        let dir = try TempDir(), back = try TempDir()
        let now = wholeSecondsNow()
        _ = try ControlPlane.initialize(dataDir: dir.path, trustDomain: TrustDomain("mesh.local"), passphrase: EtcdFixture.passphrase,
                                        now: now, imported: nil)
        do {
            let cp = try ControlPlane(dataDir: dir.path, passphrase: EtcdFixture.passphrase, settings: ControlSettings())
            _ = try cp.applyPolicy(EtcdReplicaTests.mesh, ifMatch: 0, actor: "operator")
            let t = try cp.createToken(for: C.cart, ttl: 600, actor: "operator")
            _ = try cp.issue(csrPEM: CertificateSigningRequest.create(key: PrivateKey.generateP256(), commonName: "c").pem(), credential: .joinToken(t.secret))
            _ = try cp.createToken(for: C.cart, ttl: 600, actor: "operator")
            _ = try cp.rotate(actor: "operator")
        }
        let p = etcd.freshPrefix()
        let toEtcd = try StoreMigration.fileToEtcd(dataDir: dir.path, store: etcd.store(p), passphrase: EtcdFixture.passphrase)
        #expect(toEtcd == .init(policyVersion: 1, tokens: 2, identities: 1, auditRecords: 6))
        expectMeshError("ca.exists") { _ = try StoreMigration.fileToEtcd(dataDir: dir.path, store: etcd.store(p), passphrase: EtcdFixture.passphrase) }

        // The replica over etcd serves what the file store held.
        let replica = try etcd.replica(p, id: "a")
        defer { replica.stopReplica() }
        let file = try ControlPlane(dataDir: dir.path, passphrase: EtcdFixture.passphrase, settings: ControlSettings())
        #expect(replica.policy.version == 1 && replica.policy.hash == file.policy.hash)
        #expect(replica.distribution.epoch == file.distribution.epoch, "sidecars keep comparing versions")
        #expect(try replica.audit.verify() == 6)

        let fromEtcd = try StoreMigration.etcdToFile(store: etcd.store(p), dataDir: back.path, passphrase: EtcdFixture.passphrase)
        #expect(fromEtcd == toEtcd)
        expectMeshError("ca.exists") { _ = try StoreMigration.etcdToFile(store: etcd.store(p), dataDir: back.path, passphrase: EtcdFixture.passphrase) }
        let restored = try ControlPlane(dataDir: back.path, passphrase: EtcdFixture.passphrase, settings: ControlSettings())
        #expect(try FilePolicyRepository(dataDir: back.path).load() == FilePolicyRepository(dataDir: dir.path).load())
        #expect(restored.distribution.epoch == file.distribution.epoch)
        #expect(try FileIdentityRepository(dataDir: back.path).load() == FileIdentityRepository(dataDir: dir.path).load())
        #expect(try StoreMigration.readFileTokens(back.path).sorted { $0.hash < $1.hash } == StoreMigration.readFileTokens(dir.path).sorted { $0.hash < $1.hash })
        let (ca1, ca2) = (restored.ca, file.ca)
        #expect(ca1.revision == ca2.revision && ca1.all.map(\.phase) == ca2.all.map(\.phase)
                && ca1.all.map(\.certificate.sha256Fingerprint) == ca2.all.map(\.certificate.sha256Fingerprint))
        #expect(try back.text("admin.token.sha256") == dir.text("admin.token.sha256"))
        #expect(try restored.audit.verify() == 6)
        #expect(try back.text("audit.log") == dir.text("audit.log"), "the records byte for byte")
    }
}
