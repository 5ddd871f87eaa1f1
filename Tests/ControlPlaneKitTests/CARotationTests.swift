import ControlPlaneKit
import MeshCore
import MeshTLS
import Testing
import MeshTestSupport

/// CA rotation on its schedule: staged → issuing → retiring → retired, refused while one is under way, and
/// every step durable (checked by reloading the store from disk after each).
@Suite struct CARotationTests {
    private let t0 = wholeSecondsNow()
    private let overlap = 600.0
    private let retireAfter = 3600.0

    /// Each root as `id:phase@nextAt`, for comparing whole states.
    private func describe(_ ca: StoredCA) -> [String] {
        ca.all.map { "\($0.id):\($0.phase.rawValue)@\($0.nextAt.map { String(Int($0)) } ?? "-")" }
    }

    /// Loads the store afresh and checks it matches `ca` (phases, schedule, bundle, the bundle file).
    private func reloaded(_ ca: StoredCA, _ dir: TempDir, sourceLocation: SourceLocation = #_sourceLocation) throws -> StoredCA {
        let again = try StoredCA(dataDir: dir.path, passphrase: testPassphrase)
        #expect(describe(again) == describe(ca), sourceLocation: sourceLocation)
        #expect(again.bundle.map(\.sha256Fingerprint) == ca.bundle.map(\.sha256Fingerprint), sourceLocation: sourceLocation)
        #expect(again.issuing.certificate.sha256Fingerprint == ca.issuing.certificate.sha256Fingerprint, sourceLocation: sourceLocation)
        #expect(try dir.read("bundle.pem") == again.bundlePEM, sourceLocation: sourceLocation)
        return again
    }

    private func freshCA(_ dir: TempDir) throws -> StoredCA {
        try FileCAStateRepository.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase, now: t0)
        return try StoredCA(dataDir: dir.path, passphrase: testPassphrase)
    }

    @Test func rotatingStagesANewRootBesideTheIssuingOne() throws {
        let dir = try TempDir()
        var ca = try freshCA(dir)
        let first = ca.issuing.certificate.sha256Fingerprint
        let staged = try ca.rotate(now: t0, overlap: overlap)
        #expect(staged.id == 2)
        #expect(staged.phase == .staged)
        #expect(staged.nextAt == t0 + overlap)
        #expect(staged.certificate.commonName == "mesh.local root 2")
        #expect(ca.issuing.id == 1)
        #expect(ca.issuing.certificate.sha256Fingerprint == first)
        #expect(ca.bundle.count == 2)
        #expect(try dir.text("ca/root-2.key").hasPrefix("-----BEGIN " + "ENCRYPTED PRIVATE KEY-----"))
        ca = try reloaded(ca, dir)
        #expect(describe(ca) == ["1:issuing@-", "2:staged@\(Int(t0 + overlap))"])
    }

    @Test func refusesASecondRotationWhileOneIsUnderWay() throws {
        let dir = try TempDir()
        var ca = try freshCA(dir)
        _ = try ca.rotate(now: t0, overlap: overlap)
        expectMeshError("ca.rotation-in-progress") { _ = try ca.rotate(now: t0 + 1, overlap: overlap) }
        ca = try reloaded(ca, dir)
        expectMeshError("ca.rotation-in-progress") { _ = try ca.rotate(now: t0 + 2, overlap: overlap) }
        // Still refused while the old root is retiring.
        _ = try ca.advance(now: t0 + overlap, retireAfter: retireAfter)
        ca = try reloaded(ca, dir)
        expectMeshError("ca.rotation-in-progress") { _ = try ca.rotate(now: t0 + overlap + 1, overlap: overlap) }
        #expect(ca.all.count == 2, "no root was added by a refused rotation")
        #expect(!dir.exists("ca/root-3.crt"))
    }

    @Test func advancingBeforeTheScheduleChangesNothing() throws {
        let dir = try TempDir()
        let ca = try freshCA(dir)
        #expect(try ca.advance(now: t0 + 10 * retireAfter, retireAfter: retireAfter).isEmpty, "nothing to do without a rotation")
        _ = try ca.rotate(now: t0, overlap: overlap)
        let state = try dir.read("ca/state.json")
        #expect(try ca.advance(now: t0 + overlap - 1, retireAfter: retireAfter).isEmpty)
        #expect(describe(ca) == ["1:issuing@-", "2:staged@\(Int(t0 + overlap))"])
        #expect(try dir.read("ca/state.json") == state, "no write when nothing changed")
        _ = try reloaded(ca, dir)
    }

    @Test func walksTheWholeScheduleAndSurvivesReloadsAtEachStep() throws {
        let dir = try TempDir()
        var ca = try freshCA(dir)
        let oldRoot = ca.issuing.certificate.sha256Fingerprint
        _ = try ca.rotate(now: t0, overlap: overlap)
        ca = try reloaded(ca, dir)

        // The new root starts issuing; the old one stops and is kept for one leaf lifetime.
        let switched = try ca.advance(now: t0 + overlap, retireAfter: retireAfter)
        #expect(switched.count == 2)
        #expect(describe(ca) == ["1:retiring@\(Int(t0 + overlap + retireAfter))", "2:issuing@-"])
        #expect(ca.bundle.count == 2)
        ca = try reloaded(ca, dir)
        #expect(ca.issuing.id == 2)

        // Just before the old root's time: nothing.
        #expect(try ca.advance(now: t0 + overlap + retireAfter - 1, retireAfter: retireAfter).isEmpty)
        ca = try reloaded(ca, dir)

        // The old root leaves the bundle.
        let retired = try ca.advance(now: t0 + overlap + retireAfter, retireAfter: retireAfter)
        #expect(retired == ["root 1 retired (out of the bundle)"])
        #expect(describe(ca) == ["1:retired@-", "2:issuing@-"])
        #expect(ca.bundle.map(\.sha256Fingerprint) == [ca.issuing.certificate.sha256Fingerprint])
        #expect(!ca.bundle.contains { $0.sha256Fingerprint == oldRoot })
        ca = try reloaded(ca, dir)

        // And the next rotation may start.
        let third = try ca.rotate(now: t0 + 10_000, overlap: overlap)
        #expect(third.id == 3)
        ca = try reloaded(ca, dir)
        #expect(ca.bundle.count == 2)
    }

    @Test func aLateTickDoesBothStepsAtOnce() throws {
        let dir = try TempDir()
        let ca = try freshCA(dir)
        _ = try ca.rotate(now: t0, overlap: overlap)
        // The control plane was down through the whole schedule: the switch happens now, the retirement later.
        let changes = try ca.advance(now: t0 + 100 * retireAfter, retireAfter: retireAfter)
        #expect(changes.count == 2)
        #expect(describe(ca) == ["1:retiring@\(Int(t0 + 100 * retireAfter + retireAfter))", "2:issuing@-"])
        _ = try reloaded(ca, dir)
    }

    @Test func leavesSignedAfterTheSwitchChainToTheNewRoot() throws {
        let dir = try TempDir()
        var ca = try freshCA(dir)
        let id = try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/cart")
        let before = try ca.sign(.svid(id, now: t0, lifetime: 3600), for: CertificateSigningRequest.create(key: PrivateKey.generateP256()))
        _ = try ca.rotate(now: t0, overlap: overlap)
        let staged = try ca.sign(.svid(id, now: t0, lifetime: 3600), for: CertificateSigningRequest.create(key: PrivateKey.generateP256()))
        #expect(try dir.issuerCommonName(of: staged[0]) == "mesh.local root 1", "a staged root does not issue yet")
        _ = try ca.advance(now: t0 + overlap, retireAfter: retireAfter)
        ca = try reloaded(ca, dir)
        let after = try ca.sign(.svid(id, now: t0, lifetime: 3600), for: CertificateSigningRequest.create(key: PrivateKey.generateP256()))
        #expect(try dir.issuerCommonName(of: after[0]) == "mesh.local root 2")
        // During the overlap both old and new leaves verify against the bundle.
        #expect(try dir.opensslVerifies(chain: before, bundle: ca.bundle))
        #expect(try dir.opensslVerifies(chain: after, bundle: ca.bundle))
        _ = try ca.advance(now: t0 + overlap + retireAfter, retireAfter: retireAfter)
        #expect(try !dir.opensslVerifies(chain: before, bundle: ca.bundle), "the retired root is no longer trusted")
        #expect(try dir.opensslVerifies(chain: after, bundle: ca.bundle))
    }
}
