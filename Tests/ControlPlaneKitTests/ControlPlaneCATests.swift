@testable import ControlPlaneKit
import MeshTestSupport
import MeshCore
import MeshTLS
import Testing

/// CA rotation as a use case: an unaudited rotation is undone (and its root id is free again), an accepted one
/// is announced once.
@Suite struct ControlPlaneCATests {
    private let t0 = wholeSecondsNow()

    @Test func anUnauditedRotationIsUndoneAndAnAcceptedOneAnnouncedOnce() throws {
        let dir = try TempDir()
        _ = try ControlPlane.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase, now: t0, imported: nil)
        let repository = try FileCAStateRepository(dataDir: dir.path, passphrase: testPassphrase)
        let audit = ControlPlanePolicyTests.FlakyAudit(try AuditLog(path: dir.file("audit.log")))
        let clock = TestClock(t0)
        var settings = ControlSettings()
        settings.certTTL = 3600
        settings.rotationOverlap = 600
        let cp = try ControlPlane(policy: FilePolicyRepository(dataDir: dir.path), tokens: FileTokenRepository(dataDir: dir.path), identities: FileIdentityRepository(dataDir: dir.path),
                                  ca: repository, audit: audit, adminTokenHash: "", settings: settings, now: { clock.wallSeconds() })
        let told = RepositoryContract.Told<Int>()
        let s = cp.caChanges.subscribe { told.record($0.all.count) }
        defer { s.cancel() }

        audit.refuse.withLock { $0 = true }
        expectMeshError("store.io") { _ = try cp.rotate(actor: "operator") }
        #expect(cp.ca.all.count == 1)
        #expect(try repository.load().all.count == 1, "the stored state is put back")
        #expect(try FileCAStateRepository(dataDir: dir.path, passphrase: testPassphrase).load().all.count == 1)
        #expect(told.all.isEmpty)

        audit.refuse.withLock { $0 = false }
        let root = try cp.rotate(actor: "operator")
        #expect(root.id == 2)
        #expect(told.all == [2])
        let reloaded = try FileCAStateRepository(dataDir: dir.path, passphrase: testPassphrase).load()
        #expect(reloaded.all.last?.certificate.sha256Fingerprint == root.certificate.sha256Fingerprint,
                "the accepted root's own files are on disk, not the undone one's")
        #expect(try dir.read("ca/root-2.crt") == root.certificate.pem())

        clock.advance(600)
        #expect(try cp.tick() == true)
        #expect(told.all == [2, 2])
        #expect(try cp.tick() == false, "nothing due: nothing written, nothing announced")
        #expect(told.all == [2, 2])
    }
}
