@testable import ControlPlaneKit
import MeshAPI
import MeshCore
import MeshPolicy
import MeshTLS
import MeshTestSupport
import Testing

/// Each slice is signed once per (epoch, version, service, deny-list revision, signing key): an apply that wakes
/// N parked polls of one service costs one ECDSA signature, not N, and no answer ever carries another service's
/// slice or a signature by a key that has since been renewed.
@Suite struct SliceSignatureCacheTests {
    private let t0 = wholeSecondsNow()
    static let payments = ServiceKey(namespace: "shop", name: "payments")
    static let frontend = ServiceKey(namespace: "shop", name: "frontend")
    static let signerURI = "spiffe://mesh.local/ns/mesh-system/sa/mesh-control"

    struct Fixture {
        let dir: TempDir
        let cp: ControlPlane
        let ca: TestCA
        let signer: Minted
    }

    private func fixture() throws -> Fixture {
        let dir = try TempDir()
        _ = try ControlPlane.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase, now: t0, imported: nil)
        let cp = try ControlPlane(dataDir: dir.path, passphrase: testPassphrase, settings: ControlSettings(), clock: TestClock(t0))
        let ca = try TestCA(now: t0)
        let signer = try ca.mint(Self.signerURI)
        cp.sliceSigner.use(key: signer.key, chain: signer.chain)
        _ = try cp.applyPolicy(ControlPlanePolicyTests.mesh, ifMatch: 0, actor: "operator")
        return Fixture(dir: dir, cp: cp, ca: ca, signer: signer)
    }

    /// The signed answer a poll of `service` gets now, through the route's own `answer`.
    private func answer(_ cp: ControlPlane, _ service: ServiceKey) throws -> SignedSlice {
        let response = PolicyAPI.answer(cp.distribution.slice(for: service), cp)
        #expect(response.status == 200)
        return try SignedSlice(json: try StrictJSON.parse(response.body))
    }

    private func document(_ s: SignedSlice) throws -> SliceDocument { try SliceDocument(bytes: s.documentBytes) }

    @Test func manyAnswersForOneServiceAndVersionAreSignedOnce() throws {
        let f = try fixture()
        let before = f.cp.sliceSigner.signatures
        let answers = try (0..<50).map { _ in try answer(f.cp, Self.payments) }
        #expect(Set(answers.map(\.signature)).count == 1, "identical documents were signed more than once")
        #expect(Set(answers.map(\.document)).count == 1)
        #expect(f.cp.sliceSigner.signatures - before == 1)
        let first = answers[0]
        #expect(f.signer.chain[0].verifies(first.signatureBytes ?? [], over: first.documentBytes))
        #expect(try document(first).slice.version == 1)
    }

    @Test func aNewVersionANewDenyListOrARenewedKeyEachSignAfresh() throws {
        let f = try fixture()
        let v1 = try answer(f.cp, Self.payments)
        let base = f.cp.sliceSigner.signatures

        _ = try f.cp.applyPolicy(ControlPlanePolicyTests.mesh, ifMatch: 1, actor: "operator")
        let v2 = try answer(f.cp, Self.payments)
        #expect(f.cp.sliceSigner.signatures == base + 1, "a new version was not signed afresh")
        #expect(v2.signature != v1.signature && v2.document != v1.document)
        #expect(try document(v2).slice.version == 2)
        #expect(try answer(f.cp, Self.payments).signature == v2.signature)

        _ = try f.cp.revoke(identity: try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/frontend"), serial: nil,
                            reason: "test", actor: "operator")
        let revoked = try answer(f.cp, Self.payments)
        #expect(f.cp.sliceSigner.signatures == base + 2, "a new deny list was not signed afresh")
        #expect(revoked.signature != v2.signature && revoked.document != v2.document)
        #expect(try answer(f.cp, Self.payments).signature == revoked.signature)

        let renewed = try f.ca.mint(Self.signerURI)
        f.cp.sliceSigner.use(key: renewed.key, chain: renewed.chain)
        let fresh = try answer(f.cp, Self.payments)
        #expect(f.cp.sliceSigner.signatures == base + 3, "a renewed key reused a signature by the previous key")
        #expect(fresh.document == revoked.document)
        #expect(renewed.chain[0].verifies(fresh.signatureBytes ?? [], over: fresh.documentBytes))
        #expect(fresh.chain == String(decoding: renewed.chain[0].pem(), as: UTF8.self))
    }

    @Test func differentServicesNeverShareAnEntry() throws {
        let f = try fixture()
        let base = f.cp.sliceSigner.signatures
        for _ in 0..<5 {
            let p = try answer(f.cp, Self.payments), fe = try answer(f.cp, Self.frontend)
            #expect(try document(p).slice.slice["service"]?.stringValue == "shop/payments")
            #expect(try document(fe).slice.slice["service"]?.stringValue == "shop/frontend")
            #expect(p.signature != fe.signature)
        }
        #expect(f.cp.sliceSigner.signatures == base + 2)
    }

    @Test func theCacheHoldsOnlyTheNewestVersionOneEntryPerService() throws {
        let f = try fixture()
        _ = try answer(f.cp, Self.payments)
        _ = try answer(f.cp, Self.frontend)
        #expect(f.cp.sliceSigner.cachedAnswers == 2)
        let v1 = f.cp.distribution.slice(for: Self.frontend)
        _ = try f.cp.applyPolicy(ControlPlanePolicyTests.mesh, ifMatch: 1, actor: "operator")
        _ = try answer(f.cp, Self.payments)
        #expect(f.cp.sliceSigner.cachedAnswers == 1, "entries of the older version were kept")
        // A late answer of the older version is signed but not cached, and does not evict the newer one.
        let before = f.cp.sliceSigner.signatures
        _ = PolicyAPI.answer(v1, f.cp)
        _ = PolicyAPI.answer(v1, f.cp)
        #expect(f.cp.sliceSigner.signatures == before + 2)
        #expect(f.cp.sliceSigner.cachedAnswers == 1)
        _ = try answer(f.cp, Self.payments)
        #expect(f.cp.sliceSigner.signatures == before + 2)
    }
}
