import ControlPlaneKit
import Dispatch
import MeshCore
import MeshNet
import MeshTLS
import Synchronization
import Testing
import MeshTestSupport

/// The file store under load: journaled identities and tokens (replay, torn line, compaction), the audit log's
/// group commit, and issuance of many identities at once while one identity still renews only once.
@Suite struct FileStoreThroughputTests {
    private let t0 = wholeSecondsNow()

    private func id(_ k: Int) -> SPIFFEID { try! SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/svc-\(k)") }

    private func controlPlane(_ dir: TempDir, _ clock: TestClock) throws -> ControlPlane { try fileControlPlane(dir, clock) }

    private func csr() throws -> [UInt8] { try freshCSR() }

    @Test func identitiesReplayTheJournalCutATornLineAndCompactAtStart() throws {
        let dir = try TempDir()
        let repo = try FileIdentityRepository(dataDir: dir.path)
        for k in 0..<50 { try repo.setLatest(id(k), .init(serial: "A\(k)", notAfter: t0 + Double(k)), previous: nil) }
        try repo.setLatest(id(7), .init(serial: "B7", notAfter: t0 + 99), previous: .init(serial: "A7", notAfter: t0 + 7))
        try repo.setLatest(id(8), nil, previous: .init(serial: "A8", notAfter: t0 + 8))
        var deny = try repo.load()
        deny.revision = 1
        deny.revocationRevision = 1
        deny.revocations = [.init(identity: id(9), serial: nil, revokedAt: t0, reason: "r", actor: "op", until: t0 + 10)]
        try repo.compareAndSet(expected: 0, deny)
        #expect(!DurableFile.exists(dir.file("identities.json")), "no snapshot rewritten per change")
        // A crash mid-append: a torn line that was never acknowledged.
        let journal = dir.file("identities.journal")
        var bytes = try DurableFile.read(journal)
        bytes += Array("{\"latest\":\"spiffe://mesh.local/ns/shop/sa/svc-1\",\"ser".utf8)
        try DurableFile.write(journal, bytes)
        let reopened = try FileIdentityRepository(dataDir: dir.path)
        let r = try reopened.load()
        #expect(r.latest.count == 49)
        #expect(r.latest[id(1)]?.serial == "A1")
        #expect(r.latest[id(7)] == .init(serial: "B7", notAfter: t0 + 99))
        #expect(r.latest[id(8)] == nil)
        #expect(r.revision == 1 && r.revocations.count == 1 && r.revocations[0].identity == id(9))
        // Compacted at start: the snapshot holds everything, the journal is empty.
        #expect(try DurableFile.read(journal).isEmpty)
        #expect(try FileIdentityRepository(dataDir: dir.path).load() == r)
    }

    @Test func identitiesCompactWhenTheJournalPassesItsSize() throws {
        let dir = try TempDir()
        let repo = try FileIdentityRepository(dataDir: dir.path, compactAbove: 2_000)
        for k in 0..<40 { try repo.setLatest(id(k), .init(serial: "A\(k)", notAfter: t0), previous: nil) }
        #expect(DurableFile.exists(dir.file("identities.json")))
        #expect(try DurableFile.read(dir.file("identities.journal")).count < 2_000)
        #expect(try FileIdentityRepository(dataDir: dir.path).load().latest.count == 40)
    }

    @Test func tokensAreJournaledAndATokenIsSpentOnceUnderConcurrency() throws {
        let dir = try TempDir()
        let repo = try FileTokenRepository(dataDir: dir.path)
        let tokens = try (0..<20).map { try repo.create(identity: id($0), ttl: 600, now: t0, createdBy: "op").secret }
        let results = onThreads(16) { _ in (try? repo.redeem(tokens[3], now: t0 + 1)) }
        #expect(results.compactMap { $0 }.count == 1, "one of 16 concurrent consumers wins")
        #expect(!DurableFile.exists(dir.file("tokens.json")))
        let reopened = try FileTokenRepository(dataDir: dir.path)
        expectMeshError("token.used") { _ = try reopened.redeem(tokens[3], now: t0 + 2) }
        #expect(try reopened.redeem(tokens[4], now: t0 + 2) == id(4))
        #expect(try DurableFile.read(dir.file("tokens.journal")).count > 0)
        #expect(DurableFile.exists(dir.file("tokens.json")), "compacted at start")
    }

    @Test func auditAppendsFromManyThreadsShareFsyncsAndKeepTheChain() throws {
        let dir = try TempDir()
        let log = try AuditLog(path: dir.file("audit.log"))
        let hashes = onThreads(100) { i in
            try! log.append(time: 1_700_000_000, actor: "t\(i)", action: "test", [("i", .int(i))])
        }
        #expect(Set(hashes).count == 100)
        #expect(log.commitStats.entries == 100)
        #expect(log.commitStats.batches < 100, "shared fsyncs")
        #expect(try log.verify() == 100)
        let records = try log.records()
        #expect(records.map { $0["seq"]?.intValue ?? 0 } == Array(1...100))
        #expect(Set(records.compactMap { $0["i"]?.intValue }) == Set(0..<100))
        #expect(try AuditLog(path: dir.file("audit.log")).count == 100)
    }

    @Test func differentIdentitiesIssueInParallelAndAllAreDurable() throws {
        let dir = try TempDir()
        let clock = TestClock(t0)
        let cp = try controlPlane(dir, clock)
        let n = 24
        let secrets = try (0..<n).map { try cp.createToken(for: id($0), ttl: 600, actor: "t").secret }
        let csrs = try (0..<n).map { _ in try csr() }
        let issued = onThreads(n) { k in (try? cp.issue(csrPEM: csrs[k], credential: .joinToken(secrets[k]))) }
        let leaves = issued.compactMap { $0 }
        #expect(leaves.count == n)
        #expect(Set(leaves.map(\.identity)) == Set((0..<n).map(id)))
        // Renew all at once, too.
        let renewed = onThreads(n) { k in
            let leaf = leaves[k].chain[0]
            return try? cp.issue(csrPEM: csrs[k], credential: .certificate(leaves[k].identity, notBefore: leaf.notBefore,
                                                                             notAfter: leaf.notAfter, serial: leaf.serialHex))
        }
        #expect(renewed.compactMap { $0 }.count == n)
        let restarted = try ControlPlane(dataDir: dir.path, passphrase: testPassphrase, settings: cp.settings, clock: clock)
        for r in renewed.compactMap({ $0 }) {
            #expect(restarted.identityRecords.latest[r.identity]?.serial == r.chain[0].serialHex)
        }
        #expect(try cp.audit.verify() == 1 + n + 2 * n)  // ca.init, token.create ×n, certificate.issue ×2n
    }

    @Test func twoRenewalsOfOneIdentityAtOnceOneWins() throws {
        let dir = try TempDir()
        let clock = TestClock(t0)
        let cp = try controlPlane(dir, clock)
        let who = id(1)
        var leaf = try cp.issue(csrPEM: csr(), credential: .joinToken(cp.createToken(for: who, ttl: 600, actor: "t").secret)).chain[0]
        for _ in 0..<5 {
            let current = leaf
            let csrs = try (0..<2).map { _ in try csr() }
            let outcomes = onThreads(2) { k -> Result<Certificate, MeshError> in
                do {
                    return .success(try cp.issue(csrPEM: csrs[k], credential: .certificate(who, notBefore: current.notBefore,
                                                                                       notAfter: current.notAfter, serial: current.serialHex)).chain[0])
                } catch let e as MeshError { return .failure(e) } catch { return .failure(MeshError(.internalFailure, "\(error)")) }
            }
            let won = outcomes.compactMap { try? $0.get() }
            #expect(won.count == 1)
            for case .failure(let e) in outcomes {
                #expect(["identities.conflict", "issue.clone-suspected"].contains(e.code))
            }
            guard let winner = won.first else { return }
            #expect(cp.identityRecords.latest[who]?.serial == winner.serialHex)
            leaf = winner
        }
        let issuesAudited = try cp.audit.records().filter { $0["action"]?.stringValue == "certificate.issue" }.count
        #expect(issuesAudited == 6)  // the bootstrap and one winner per round
    }
}

/// Runs `body(i)` for i in 0..<count, each on a thread of its own (a dispatch pool runs only as many at once as
/// there are cores); the results in order of `i`.
private func onThreads<R: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> R) -> [R] {
    let results = Mutex<[Int: R]>([:])
    let threads = (0..<count).map { i in LoopThread(start: { let r = body(i); results.withLock { $0[i] = r } }) }
    threads.forEach { $0.join() }
    return (0..<count).map { results.withLock { $0 }[$0]! }
}
