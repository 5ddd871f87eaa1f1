#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import MeshCore
import MeshNet
import Synchronization
import Testing
import MeshTestSupport

/// Group commit: concurrent submitters share one commit, each returns only after the batch holding its entry
/// committed, and a failed batch fails exactly its own submitters.
@Suite struct GroupCommitTests {
    /// Runs `count` submissions from `count` threads of their own at once; the results by submitter.
    private func storm<R: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> R) -> [R] { onThreads(count, body) }

    @Test func concurrentSubmittersShareCommitsAndSeeTheirOwnResults() throws {
        let committed = Mutex<[Int]>([])
        let group = GroupCommit<Int, Int> { batch in
            usleep(2_000)  // an fsync's worth: newcomers queue meanwhile
            committed.withLock { $0 += batch }
            return batch.map { $0 * 10 }
        }
        let n = 64
        let answers = storm(n) { i in try! group.submit(i) }
        #expect(answers == (0..<n).map { $0 * 10 })
        #expect(committed.withLock { $0 }.sorted() == Array(0..<n))
        let stats = group.stats
        #expect(stats.entries == n)
        #expect(stats.batches < n)  // shared: fewer commits than entries
        #expect(stats.largest > 1)
    }

    @Test func aFailedBatchFailsEachOfItsSubmittersAndNobodyElse() throws {
        struct Refused: Error {}
        let committed = Mutex<Set<Int>>([])
        let group = GroupCommit<Int, Void> { batch in
            usleep(1_000)
            if batch.contains(13) { throw Refused() }
            committed.withLock { $0.formUnion(batch) }
            return batch.map { _ in () }
        }
        let outcomes = storm(48) { i -> Bool in (try? group.submit(i)) != nil }
        let failed = Set((0..<48).filter { !outcomes[$0] })
        #expect(failed.contains(13))
        // Every submitter was told the truth: succeeded ⇔ committed.
        #expect(committed.withLock { $0 } == Set(0..<48).subtracting(failed))
        #expect(group.stats.entries == 48)
    }
}

/// The journal: durable lines with group commit, a torn last line cut at open, compaction into the owner's
/// snapshot.
@Suite struct JournalTests {
    @Test func linesFromManyThreadsAreAllDurableAndAppliedInCommitOrder() throws {
        let dir = try TempDir()
        let applied = Mutex<[String]>([])
        let j = try Journal(path: dir.file("j"), compactAbove: 1 << 20)
        _ = onThreads(200) { i in
            try! j.append(Array("line-\(i)".utf8)) { applied.withLock { $0.append("line-\(i)") } }
        }
        let reopened = try Journal(path: dir.file("j"), compactAbove: 1 << 20)
        let lines = reopened.linesAtOpen.map { String(decoding: $0, as: UTF8.self) }
        #expect(Set(lines) == Set((0..<200).map { "line-\($0)" }))
        #expect(lines == applied.withLock { $0 })  // memory saw them in the order they are on disk
        #expect(j.stats.entries == 200)
        #expect(j.stats.batches < 200)
    }

    @Test func aTornLastLineIsCutAndNeverReplayed() throws {
        let dir = try TempDir()
        let path = dir.file("j")
        try DurableFile.write(path, Array("{\"a\":1}\n{\"b\":2}\n{\"c\":".utf8))
        let j = try Journal(path: path, compactAbove: 1 << 20)
        #expect(j.linesAtOpen.map { String(decoding: $0, as: UTF8.self) } == ["{\"a\":1}", "{\"b\":2}"])
        #expect(j.size == 16)
        try j.append(Array("{\"d\":4}".utf8))
        #expect(String(decoding: try DurableFile.read(path), as: UTF8.self) == "{\"a\":1}\n{\"b\":2}\n{\"d\":4}\n")
    }

    @Test func compactionWritesTheSnapshotThenEmptiesTheJournal() throws {
        let dir = try TempDir()
        let snapshots = Mutex(0)
        let j = try Journal(path: dir.file("j"), compactAbove: 100)
        j.onCompaction { snapshots.withLock { $0 += 1 } }
        for i in 0..<9 { try j.append(Array("0123456789-\(i)".utf8)) }  // 13 bytes a line: past 100 at the 8th
        #expect(snapshots.withLock { $0 } == 1)
        #expect(j.size == 13)  // the 9th, after the compaction
        #expect(try Journal(path: dir.file("j"), compactAbove: 100).linesAtOpen.count == 1)
        struct Full: Error {}
        j.onCompaction { throw Full() }
        for i in 0..<7 { try j.append(Array("0123456789-\(i)".utf8)) }  // a failed compaction keeps the lines
        #expect(j.compactionFailures.count == 1)
        #expect(try Journal(path: dir.file("j"), compactAbove: 100).linesAtOpen.count == 8)
    }
}

/// Runs `body(i)` for i in 0..<count, each on a thread of its own, all started before any is waited for (a
/// dispatch pool would run only as many at once as there are cores); the results in order of `i`.
func onThreads<R: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> R) -> [R] {
    let results = Mutex<[Int: R]>([:])
    let threads = (0..<count).map { i in LoopThread(start: { let r = body(i); results.withLock { $0[i] = r } }) }
    threads.forEach { $0.join() }
    return (0..<count).map { results.withLock { $0 }[$0]! }
}

/// What group commit buys on this disk (printed for BENCHMARKS.md): 400 journal lines one at a time, then 400
/// from 16 threads at once. Asserts only what must hold whatever the disk: all durable, fewer fsyncs shared.
@Suite struct JournalCostTests {
    @Test func sixteenWritersShareFsyncs() throws {
        let dir = try TempDir()
        let clock = SystemClock()
        let serial = try Journal(path: dir.file("serial"), compactAbove: 1 << 30)
        let t0 = clock.monotonicNs()
        for i in 0..<400 { try serial.append(Array("{\"latest\":\"spiffe://mesh.local/ns/sim/sa/svc-\(i)\",\"serial\":\"AB\"}".utf8)) }
        let serialNs = clock.monotonicNs() - t0
        let grouped = try Journal(path: dir.file("grouped"), compactAbove: 1 << 30)
        let t1 = clock.monotonicNs()
        _ = onThreads(16) { k in
            for i in 0..<25 { try! grouped.append(Array("{\"latest\":\"spiffe://mesh.local/ns/sim/sa/svc-\(k)-\(i)\",\"serial\":\"AB\"}".utf8)) }
        }
        let groupedNs = clock.monotonicNs() - t1
        // What each change cost before journals: a whole 1 MB file (10,000 identities) replaced durably.
        let whole = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
        let t2 = clock.monotonicNs()
        for _ in 0..<20 { try DurableFile.write(dir.file("whole.json"), whole) }
        print("whole-file rewrite of 1 MiB: \((clock.monotonicNs() - t2) / 20 / 1000) µs each")
        print("journal: 400 lines serial \(serialNs / 1_000_000) ms (\(serialNs / 400 / 1000) µs per fsync); "
              + "16 writers \(groupedNs / 1_000_000) ms in \(grouped.stats.batches) fsyncs (largest batch \(grouped.stats.largest))")
        #expect(serial.stats.batches == 400)
        #expect(grouped.stats.entries == 400)
        #expect(grouped.stats.batches < 400)
        #expect(try Journal(path: dir.file("grouped"), compactAbove: 1 << 30).linesAtOpen.count == 400)
    }
}
