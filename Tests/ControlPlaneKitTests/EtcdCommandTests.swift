@testable import ControlPlaneKit
import MeshCore
import MeshEtcd
import MeshTLS
import MeshTestSupport
import Testing

/// `mesh-control init --store etcd` and `mesh-control migrate`, run as the command runs them (in process).
@Suite(.serialized) struct EtcdCommandTests {
    @Test func initRefusesASecondTimeAndMigrateCopiesBothWays() throws {
        let etcd = try EtcdFixture()
        defer { etcd.stop() }
        let dir = try TempDir(), back = try TempDir()
        try dir.write("pass", String(decoding: EtcdFixture.passphrase, as: UTF8.self))
        let urls = etcd.cluster.endpoints.joined(separator: ",")
        let common = ["--ca-passphrase-file", dir.file("pass"), "--etcd-endpoints", urls]
        #expect(ControlCommand.main(["init", "--store", "etcd", "--trust-domain", "mesh.local", "--data-dir", dir.file("a")] + common) == 0)
        let secret = try dir.text("a/admin.token").trimming("\n")
        let stored = try #require(try etcd.client().get(Array("/mesh/mesh.local/admin/token.sha256".utf8)))
        #expect(String(decoding: stored.value, as: UTF8.self) == SHA256.hex(Array(secret.utf8)), "the admin hash is in etcd, the secret only in the file")
        #expect(ControlCommand.main(["init", "--store", "etcd", "--trust-domain", "mesh.local", "--data-dir", dir.file("b")] + common) == 64,
                "refuses when a control plane exists under the prefix")
        #expect(ControlCommand.main(["migrate", "--from", "etcd:" + urls, "--to", back.file("copy"), "--trust-domain", "mesh.local",
                                     "--ca-passphrase-file", dir.file("pass")]) == 0)
        #expect(back.exists("copy/ca/state.json") && back.exists("copy/audit.log"))
        #expect(ControlCommand.main(["migrate", "--from", back.file("copy"), "--to", "etcd:" + urls, "--ca-passphrase-file", dir.file("pass")]) == 64,
                "refuses a non-empty target")
        #expect(ControlCommand.main(["migrate", "--from", back.file("copy"), "--to", "etcd:" + urls, "--etcd-prefix", "/copy/",
                                     "--ca-passphrase-file", dir.file("pass")]) == 0)
        #expect(try EtcdAuditSink(store: EtcdStore(kv: etcd.client(), prefix: "/copy/")).verify() == 1)
    }
}
