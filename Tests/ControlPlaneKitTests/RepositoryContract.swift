import MeshTestSupport
import ControlPlaneKit
import Foundation
import MeshCore
import MeshPolicy
import Synchronization
import Testing

/// The repository contracts, written against the protocols only, so another store (etcd) runs the same checks
/// with its own factories. `make` opens a fresh, empty store; `reopen` opens the same storage again (a restart).
enum RepositoryContract {
    static let cart = try! SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/cart")
    static let now = 1_700_000_000.0

    static func document(_ version: Int, _ text: String = "x") -> StoredPolicy {
        StoredPolicy(version: version, files: [PolicyFile(name: "mesh.json", content: "{\"v\": \"\(text)\(version)\"}")])
    }

    /// Runs `body` on `count` threads at once; returns what each produced.
    static func concurrently<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
        let results = Mutex<[T]>([])
        DispatchQueue.concurrentPerform(iterations: count) { i in
            let r = body(i)
            results.withLock { $0.append(r) }
        }
        return results.withLock { $0 }
    }

    /// Counts what a subscriber is told.
    final class Told<Value: Sendable>: Sendable {
        let values = Mutex<[Value]>([])
        func record(_ v: Value) { values.withLock { $0.append(v) } }
        var all: [Value] { values.withLock { $0 } }
    }

    // MARK: policy

    static func policyCompareAndSet(_ make: () throws -> any PolicyRepository, reopen: () throws -> any PolicyRepository) throws {
        let repo = try make()
        #expect(try repo.load() == .empty, "a fresh store holds nothing")
        try repo.compareAndSet(expected: 0, document(1))
        #expect(try repo.load() == document(1))
        expectMeshError("policy.conflict") { try repo.compareAndSet(expected: 0, document(1, "other")) }
        expectMeshError("policy.conflict") { try repo.compareAndSet(expected: 7, document(8)) }
        #expect(try repo.load() == document(1), "a refused compare-and-set changes nothing")
        try repo.compareAndSet(expected: 1, document(2))
        #expect(try reopen().load() == document(2), "durable: a restart sees the last committed document")
    }

    static func policyConcurrentWritersOneWins(_ make: () throws -> any PolicyRepository) throws {
        let repo = try make()
        let outcomes = concurrently(8) { i -> String in
            do { try repo.compareAndSet(expected: 0, document(1, "writer\(i)")); return "ok" } catch let e as MeshError { return e.code } catch { return "\(error)" }
        }
        #expect(outcomes.filter { $0 == "ok" }.count == 1)
        #expect(outcomes.filter { $0 == "policy.conflict" }.count == 7)
        #expect(try repo.load().version == 1)
    }

    static func policyNotifiesOncePerCommit(_ make: () throws -> any PolicyRepository) throws {
        let repo = try make()
        let told = Told<StoredPolicy>()
        let subscription = repo.subscribe { told.record($0) }
        try repo.compareAndSet(expected: 0, document(1))
        #expect(told.all == [document(1)])
        try? repo.compareAndSet(expected: 0, document(1, "late"))
        #expect(told.all == [document(1)], "a refused compare-and-set tells nobody")
        try repo.compareAndSet(expected: 1, document(2))
        #expect(told.all == [document(1), document(2)], "once per commit, in commit order")
        subscription.cancel()
        try repo.compareAndSet(expected: 2, document(3))
        #expect(told.all.count == 2, "a cancelled subscription is told nothing more")
    }

    // MARK: tokens

    static func token(_ secret: String, ttl: Double = 600) -> JoinToken {
        JoinToken(hash: JoinTokenSecret.hash(secret), identity: cart, expiresAt: now + ttl, createdBy: "contract")
    }

    static func tokenConsumeIsSingleUse(_ make: () throws -> any TokenRepository, reopen: () throws -> any TokenRepository) throws {
        let repo = try make()
        try repo.add(token("a"), now: now)
        try repo.add(token("b"), now: now)
        #expect(try repo.consume(hash: JoinTokenSecret.hash("a"), now: now + 1, admit: { _ in }) == cart)
        expectMeshError("token.used") { _ = try repo.consume(hash: JoinTokenSecret.hash("a"), now: now + 2, admit: { _ in }) }
        expectMeshError("token.unknown") { _ = try repo.consume(hash: JoinTokenSecret.hash("c"), now: now, admit: { _ in }) }
        expectMeshError("token.expired") { _ = try repo.consume(hash: JoinTokenSecret.hash("b"), now: now + 600, admit: { _ in }) }
        let again = try reopen()
        expectMeshError("token.used") { _ = try again.consume(hash: JoinTokenSecret.hash("a"), now: now + 3, admit: { _ in }) }
    }

    static func tokenRefusedAdmissionDoesNotSpend(_ make: () throws -> any TokenRepository) throws {
        let repo = try make()
        try repo.add(token("a"), now: now)
        struct NotNow: Error {}
        #expect(throws: NotNow.self) { _ = try repo.consume(hash: JoinTokenSecret.hash("a"), now: now, admit: { _ in throw NotNow() }) }
        let admitted = Told<SPIFFEID>()
        #expect(try repo.consume(hash: JoinTokenSecret.hash("a"), now: now, admit: { admitted.record($0) }) == cart)
        #expect(admitted.all == [cart], "admit is told the bound identity")
    }

    static func tokenConcurrentConsumersOneWins(_ make: () throws -> any TokenRepository) throws {
        let repo = try make()
        try repo.add(token("a"), now: now)
        let outcomes = concurrently(8) { _ -> String in
            do { _ = try repo.consume(hash: JoinTokenSecret.hash("a"), now: now, admit: { _ in }); return "ok" } catch let e as MeshError { return e.code } catch { return "\(error)" }
        }
        #expect(outcomes.filter { $0 == "ok" }.count == 1)
        #expect(outcomes.filter { $0 == "token.used" }.count == 7)
    }

    // MARK: CA state

    static func caCompareAndSet(_ make: () throws -> any CAStateRepository, reopen: () throws -> any CAStateRepository) throws {
        let repo = try make()
        let base = try repo.load()
        let (next, root) = try base.rotated(now: now, overlap: 600)
        try repo.compareAndSet(expected: base.revision, next)
        #expect(try repo.load().revision == next.revision)
        let (other, _) = try base.rotated(now: now, overlap: 60)
        expectMeshError("ca.conflict") { try repo.compareAndSet(expected: base.revision, other) }
        let reopened = try reopen().load()
        #expect(reopened.revision == next.revision)
        #expect(reopened.all.map(\.id) == [1, root.id])
        #expect(reopened.all.last?.nextAt == now + 600, "the refused state was not stored")
        #expect(reopened.all.last?.certificate.sha256Fingerprint == root.certificate.sha256Fingerprint)
    }

    static func caNotifiesOncePerCommit(_ make: () throws -> any CAStateRepository) throws {
        let repo = try make()
        let told = Told<Int>()
        let subscription = repo.subscribe { told.record($0.revision) }
        defer { subscription.cancel() }
        let base = try repo.load()
        let (next, _) = try base.rotated(now: now, overlap: 600)
        try repo.compareAndSet(expected: base.revision, next)
        try? repo.compareAndSet(expected: base.revision, next)
        #expect(told.all == [next.revision])
        let (later, _) = try #require(next.advanced(now: now + 600, retireAfter: 60))
        try repo.compareAndSet(expected: next.revision, later)
        #expect(told.all == [next.revision, later.revision])
    }

    // MARK: audit

    static func auditRecordsInOrderAndVerifies(_ make: () throws -> any AuditSink) throws {
        let sink = try make()
        let before = sink.count
        try sink.record(time: now, actor: "a", action: "one", [("n", .int(1))])
        try sink.record(time: now, actor: "a", action: "two", [("n", .int(2))])
        #expect(sink.count == before + 2)
        #expect(try sink.records().suffix(2).compactMap { $0["action"]?.stringValue } == ["one", "two"])
        #expect(try sink.verify() == before + 2)
    }
}

/// The contracts against the file store.
@Suite struct FileRepositoryContractTests {
    @Test func policyCompareAndSetConflictsAndIsDurable() throws {
        let dir = try TempDir()
        try RepositoryContract.policyCompareAndSet({ try FilePolicyRepository(dataDir: dir.path) },
                                                   reopen: { try FilePolicyRepository(dataDir: dir.path) })
    }

    @Test func policyConcurrentWritersOneWins() throws {
        let dir = try TempDir()
        try RepositoryContract.policyConcurrentWritersOneWins { try FilePolicyRepository(dataDir: dir.path) }
    }

    @Test func policyNotifiesOncePerCommit() throws {
        let dir = try TempDir()
        try RepositoryContract.policyNotifiesOncePerCommit { try FilePolicyRepository(dataDir: dir.path) }
    }

    @Test func tokenConsumeIsSingleUse() throws {
        let dir = try TempDir()
        try RepositoryContract.tokenConsumeIsSingleUse({ try FileTokenRepository(dataDir: dir.path) },
                                                       reopen: { try FileTokenRepository(dataDir: dir.path) })
    }

    @Test func tokenRefusedAdmissionDoesNotSpend() throws {
        let dir = try TempDir()
        try RepositoryContract.tokenRefusedAdmissionDoesNotSpend { try FileTokenRepository(dataDir: dir.path) }
    }

    @Test func tokenConcurrentConsumersOneWins() throws {
        let dir = try TempDir()
        try RepositoryContract.tokenConcurrentConsumersOneWins { try FileTokenRepository(dataDir: dir.path) }
    }

    private func freshCA(_ dir: TempDir) throws -> FileCAStateRepository {
        if !dir.exists("ca/state.json") {
            try FileCAStateRepository.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase, now: RepositoryContract.now)
        }
        return try FileCAStateRepository(dataDir: dir.path, passphrase: testPassphrase)
    }

    @Test func caCompareAndSetConflictsAndIsDurable() throws {
        let dir = try TempDir()
        try RepositoryContract.caCompareAndSet({ try freshCA(dir) }, reopen: { try freshCA(dir) })
    }

    @Test func caNotifiesOncePerCommit() throws {
        let dir = try TempDir()
        try RepositoryContract.caNotifiesOncePerCommit { try freshCA(dir) }
    }

    @Test func auditRecordsInOrderAndVerifies() throws {
        let dir = try TempDir()
        try RepositoryContract.auditRecordsInOrderAndVerifies { try AuditLog(path: dir.file("audit.log")) }
    }

    /// Going back to "nothing applied" (an apply whose audit failed) leaves no document behind.
    @Test func policyBackToEmptyRemovesTheDocument() throws {
        let dir = try TempDir()
        let repo = try FilePolicyRepository(dataDir: dir.path)
        try repo.compareAndSet(expected: 0, RepositoryContract.document(1))
        #expect(dir.exists("policy/current.json"))
        try repo.compareAndSet(expected: 1, .empty)
        #expect(!dir.exists("policy/current.json"))
        #expect(try FilePolicyRepository(dataDir: dir.path).load() == .empty)
    }

    @Test func aPolicyDocumentWhoseHashDoesNotMatchIsRefused() throws {
        let dir = try TempDir()
        try FilePolicyRepository(dataDir: dir.path).compareAndSet(expected: 0, RepositoryContract.document(1))
        let text = try dir.text("policy/current.json").replacingOccurrences(of: "x1", with: "y1")
        try dir.write("policy/current.json", text)
        expectMeshError("policy.corrupt") { _ = try FilePolicyRepository(dataDir: dir.path) }
    }
}
