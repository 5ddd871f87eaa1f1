@testable import ControlPlaneKit
import MeshTestSupport
import MeshCore
import MeshPolicy
import MeshNet
import Synchronization
import Testing

/// The mesh configuration use cases over injected repositories: compare-and-set on If-Match, all-or-nothing
/// validation, the audit before anything is acknowledged (undone when it fails), and the change notification.
@Suite struct ControlPlanePolicyTests {
    private let t0 = wholeSecondsNow()
    static let services = """
    {"trustDomain": "mesh.local", "services": [
      {"namespace": "shop", "name": "frontend", "labels": {"tier": "web"}, "ports": [8080]},
      {"namespace": "shop", "name": "payments", "ports": [8080]}]}
    """
    static let rule = #"{"rules": [{"name": "web-to-payments", "action": "allow", "from": {"services": ["shop/frontend"]}, "to": {"services": ["shop/payments"]}, "ports": [8080]}]}"#
    static let mesh = [PolicyFile(name: "services.json", content: services), PolicyFile(name: "rules.json", content: rule)]

    /// An audit sink that refuses on request, to see what an unaudited change leaves behind.
    final class FlakyAudit: AuditSink {
        let inner: AuditLog
        let refuse = Mutex(false)
        init(_ inner: AuditLog) { self.inner = inner }
        func record(time: Double, actor: String, action: String, _ fields: [(String, JSONValue)]) throws {
            if refuse.withLock({ $0 }) { throw MeshError(.storeIo, "fsync audit.log: no space left on device") }
            try inner.record(time: time, actor: actor, action: action, fields)
        }
        func records() throws -> [JSONValue] { try inner.records() }
        func verify() throws -> Int { try inner.verify() }
        var count: Int { inner.count }
    }

    struct Fixture {
        let dir: TempDir
        let repository: FilePolicyRepository
        let audit: FlakyAudit
        let cp: ControlPlane
    }

    private func fixture() throws -> Fixture {
        let dir = try TempDir()
        _ = try ControlPlane.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase, now: t0, imported: nil)
        let repository = try FilePolicyRepository(dataDir: dir.path)
        let audit = FlakyAudit(try AuditLog(path: dir.file("audit.log")))
        let clock = TestClock(t0)
        let cp = try ControlPlane(policy: repository, tokens: FileTokenRepository(dataDir: dir.path), identities: FileIdentityRepository(dataDir: dir.path),
                                  ca: FileCAStateRepository(dataDir: dir.path, passphrase: testPassphrase), audit: audit,
                                  adminTokenHash: "", settings: ControlSettings(), now: { clock.wallSeconds() })
        return Fixture(dir: dir, repository: repository, audit: audit, cp: cp)
    }

    private func told(_ cp: ControlPlane) -> (RepositoryContract.Told<Int>, Subscription) {
        let told = RepositoryContract.Told<Int>()
        return (told, cp.policyChanges.subscribe { told.record($0.version) })
    }

    @Test func applyStoresAuditsSwapsAndNotifies() throws {
        let f = try fixture()
        let (told, s) = told(f.cp)
        defer { s.cancel() }
        let change = try f.cp.applyPolicy(Self.mesh, ifMatch: 0, actor: "operator")
        #expect(change.snapshot.version == 1)
        #expect(change.diff.contains { $0.contains("web-to-payments") })
        #expect(f.cp.policy.version == 1 && f.cp.policy.compiled != nil)
        #expect(try f.repository.load() == change.snapshot.stored)
        let record = try f.audit.records().last
        #expect(record?["action"]?.stringValue == "policy.apply")
        #expect(record?["newVersion"]?.intValue == 1)
        #expect(record?["contentSHA256"]?.stringValue == change.snapshot.hash)
        #expect(told.all == [1], "one notification per accepted change")
    }

    @Test func ofConcurrentAppliesOnOneVersionExactlyOneIsAccepted() throws {
        let f = try fixture()
        let (told, s) = told(f.cp)
        defer { s.cancel() }
        let before = f.audit.count
        let cp = f.cp
        let outcomes = RepositoryContract.concurrently(6) { _ -> String in
            do { _ = try cp.applyPolicy(Self.mesh, ifMatch: 0, actor: "operator"); return "ok" } catch let e as MeshError { return e.code } catch { return "\(error)" }
        }
        #expect(outcomes.filter { $0 == "ok" }.count == 1)
        #expect(outcomes.filter { $0 == "policy.conflict" }.count == 5)
        #expect(f.audit.count == before + 1)
        #expect(told.all == [1])
        #expect(f.cp.policy.version == 1)
        #expect(try f.repository.load().version == 1)
    }

    @Test func aStaleIfMatchConflictsBeforeValidating() throws {
        let f = try fixture()
        _ = try f.cp.applyPolicy(Self.mesh, ifMatch: 0, actor: "operator")
        let (told, s) = told(f.cp)
        defer { s.cancel() }
        expectMeshError("policy.conflict") {
            _ = try f.cp.applyPolicy([PolicyFile(name: "m.json", content: "not json")], ifMatch: 0, actor: "operator")
        }
        #expect(f.cp.policy.version == 1)
        #expect(told.all.isEmpty)
    }

    @Test func anInvalidMeshChangesNothing() throws {
        let f = try fixture()
        let before = f.audit.count
        let bad = [PolicyFile(name: "services.json", content: Self.services),
                   PolicyFile(name: "rules.json", content: Self.rule.replacingOccurrences(of: "shop/frontend", with: "shop/nobody"))]
        expectMeshError("policy.unknown-service") { _ = try f.cp.applyPolicy(bad, ifMatch: 0, actor: "operator") }
        #expect(f.cp.policy.version == 0)
        #expect(try f.repository.load() == .empty)
        #expect(f.audit.count == before)
    }

    @Test func anUnauditedApplyIsUndoneAndNotAnnounced() throws {
        let f = try fixture()
        _ = try f.cp.applyPolicy(Self.mesh, ifMatch: 0, actor: "operator")
        let (told, s) = told(f.cp)
        defer { s.cancel() }
        f.audit.refuse.withLock { $0 = true }
        expectMeshError("store.io") { _ = try f.cp.applyPolicy(Self.mesh, ifMatch: 1, actor: "operator") }
        #expect(try f.repository.load().version == 1, "the stored document is put back")
        #expect(f.cp.policy.version == 1)
        #expect(told.all.isEmpty)
        f.audit.refuse.withLock { $0 = false }
        #expect(try f.cp.applyPolicy(Self.mesh, ifMatch: 1, actor: "operator").snapshot.version == 2, "the next apply takes the version")
    }

    @Test func anUnauditedFirstApplyLeavesNothingApplied() throws {
        let f = try fixture()
        f.audit.refuse.withLock { $0 = true }
        expectMeshError("store.io") { _ = try f.cp.applyPolicy(Self.mesh, ifMatch: 0, actor: "operator") }
        #expect(try f.repository.load() == .empty)
        #expect(!f.dir.exists("policy/current.json"))
    }

    @Test func replacingASectionKeepsTheRest() throws {
        let f = try fixture()
        expectMeshError("policy.nothing-applied") {
            _ = try f.cp.replaceSection("rules", with: .array([]), ifMatch: 0, actor: "operator")
        }
        _ = try f.cp.applyPolicy(Self.mesh, ifMatch: 0, actor: "operator")
        let change = try f.cp.replaceSection("rules", with: .array([]), ifMatch: 1, actor: "operator")
        #expect(change.snapshot.version == 2)
        #expect(change.snapshot.policy?.json()["services"]?.arrayValue?.count == 2)
        #expect(change.snapshot.policy?.json()["rules"]?.arrayValue?.isEmpty == true)
        expectMeshError("policy.conflict") { _ = try f.cp.replaceSection("rules", with: .array([]), ifMatch: 1, actor: "operator") }
        expectMeshError("policy.bad-request") { _ = try f.cp.replaceSection("files", with: .array([]), ifMatch: 2, actor: "operator") }
        expectMeshError("policy.bad-request") { _ = try f.cp.replaceSection("rules", with: .string("x"), ifMatch: 2, actor: "operator") }
    }

    /// A change committed by another writer (what a replicated store's watch delivers) is swapped in and
    /// announced once; our own changes are not announced twice.
    @Test func aChangeCommittedElsewhereIsPickedUp() throws {
        let f = try fixture()
        _ = try f.cp.applyPolicy(Self.mesh, ifMatch: 0, actor: "operator")
        let (told, s) = told(f.cp)
        defer { s.cancel() }
        let elsewhere = StoredPolicy(version: 2, files: [PolicyFile(name: "services.json", content: Self.services)])
        try f.repository.compareAndSet(expected: 1, elsewhere)
        #expect(f.cp.policy.version == 2)
        #expect(f.cp.policy.hash == elsewhere.hash)
        #expect(told.all == [2])
        _ = try f.cp.applyPolicy(Self.mesh, ifMatch: 2, actor: "operator")
        #expect(told.all == [2, 3])
    }

    @Test func aSidecarIsInSyncOnlyOnTheCurrentVersionAndRecently() throws {
        let dir = try TempDir()
        _ = try ControlPlane.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase, now: t0, imported: nil)
        let clock = TestClock(t0)
        var settings = ControlSettings()
        settings.inSyncWindow = 90
        let cp = try ControlPlane(dataDir: dir.path, passphrase: testPassphrase, settings: settings, clock: clock)
        _ = try cp.applyPolicy(Self.mesh, ifMatch: 0, actor: "operator")
        cp.distribution.report(identity: "a", version: 1)
        cp.distribution.report(identity: "b", version: 0)
        #expect(cp.distribution.sidecars.map(\.inSync) == [true, false])
        clock.advance(89)
        #expect(cp.distribution.sidecars.map(\.inSync) == [true, false])
        clock.advance(1)
        #expect(cp.distribution.sidecars.map(\.inSync) == [false, false])
    }

    @Test func aSliceIsHandedOutOnlyForAServiceOfTheMesh() throws {
        let f = try fixture()
        guard case .refused(let none) = f.cp.distribution.slice(for: ServiceKey(namespace: "shop", name: "payments")) else {
            Issue.record("expected a refusal before any apply")
            return
        }
        #expect(none.code == "policy.none" && none.kind.httpStatus == 404)
        _ = try f.cp.applyPolicy(Self.mesh, ifMatch: 0, actor: "operator")
        guard case .slice(let slice) = f.cp.distribution.slice(for: ServiceKey(namespace: "shop", name: "payments")) else {
            Issue.record("expected the slice of shop/payments")
            return
        }
        #expect(slice.version == 1)
        guard case .refused(let unknown) = f.cp.distribution.slice(for: ServiceKey(namespace: "shop", name: "nobody")) else {
            Issue.record("expected a refusal for a service outside the mesh")
            return
        }
        #expect(unknown.code == "policy.service-not-in-mesh" && unknown.kind.httpStatus == 404)
    }
}
