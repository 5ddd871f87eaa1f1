import ControlPlaneKit
import Foundation
import MeshAPI
import MeshCore
import MeshTestSupport
import Synchronization
import Testing

/// The service over a real folder: journal, group commit, snapshot, replay.
@Suite("Telemetry service")
struct TelemetryServiceTests {
    typealias F = TelemetryFixture
    let web = "spiffe://mesh.local/ns/shop/sa/web"

    /// Ingests and waits for the ack (durable).
    static func ingest(_ t: TelemetryService, _ r: TelemetryReport) throws -> TelemetryAck {
        let box = Mutex<Result<TelemetryAck, MeshError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        t.ingest(r) { result in box.withLock { $0 = result }; done.signal() }
        done.wait()
        return try box.withLock { $0! }.get()
    }

    static func service(_ dir: TempDir, now: Int) throws -> TelemetryService {
        try TelemetryService(dir: dir.file("telemetry"), now: { Double(now) })
    }

    static func total(_ t: TelemetryService) -> Int { t.graph(since: 3600, service: nil, identity: nil).edges.reduce(0) { $0 + $1.counts.connections } }

    /// Acknowledged reports survive a crash (no close: only the journal), a torn last line is skipped and
    /// counted, replaying twice counts nothing twice, and a re-sent report is a duplicate.
    @Test func journalReplayIsIdempotentAndSkipsATornLine() throws {
        let dir = try TempDir()
        do {
            let t = try Self.service(dir, now: F.t0)
            #expect(try Self.ingest(t, F.report(seq: 1, end: F.t0, [(F.key(web), 2)])) == TelemetryAck(seq: 1, duplicate: false))
            #expect(try Self.ingest(t, F.report(seq: 2, end: F.t0, [(F.key(web), 3)])) == TelemetryAck(seq: 2, duplicate: false))
            #expect(try Self.ingest(t, F.report(seq: 2, end: F.t0, [(F.key(web), 3)])) == TelemetryAck(seq: 2, duplicate: true))
        }
        let journal = dir.file("telemetry/journal-0.jsonl")
        let h = try #require(FileHandle(forWritingAtPath: journal))
        h.seekToEndOfFile()
        h.write(Data(#"{"t":1800000000,"report":{"source":"spiffe://mesh.local/ns/shop/sa/api","inst"#.utf8))  // a crash mid-append
        try h.close()
        for _ in 0..<2 {
            let t = try Self.service(dir, now: F.t0 + 5)
            #expect(t.tornLines == 1)
            #expect(Self.total(t) == 5)
            #expect(t.sidecars().sidecars.map(\.lastSeq) == [2])
        }
        let t = try Self.service(dir, now: F.t0 + 5)
        #expect(try Self.ingest(t, F.report(seq: 2, end: F.t0, [(F.key(web), 3)])).duplicate)
        #expect(try Self.ingest(t, F.report(seq: 3, end: F.t0 + 5, [(F.key(web), 1)])) == TelemetryAck(seq: 3, duplicate: false))
        #expect(Self.total(t) == 6)
    }

    /// A snapshot (at close) holds the store and the dedup table; it replaces the journals it covers.
    @Test func snapshotRoundTrip() throws {
        let dir = try TempDir()
        let t = try Self.service(dir, now: F.t0 + 30)
        _ = try Self.ingest(t, F.report(seq: 1, end: F.t0, [(F.key(web), 2), (F.key(web, allowed: false), 1)]))
        _ = try Self.ingest(t, F.report("shop/web", seq: 7, end: F.t0 + 20, [(F.key(web, "shop/api", observer: .outbound), 2)]))
        _ = try Self.ingest(t, F.report(seq: 1, end: F.t0, [(F.key(web), 2)]))  // duplicate
        try t.close()
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.file("telemetry")).sorted()
        #expect(files == ["journal-1.jsonl", "snapshot.jsonl"])
        let back = try Self.service(dir, now: F.t0 + 30)
        for since in [60, 7200] {
            #expect(back.graph(since: since, service: nil, identity: nil) == t.graph(since: since, service: nil, identity: nil))
        }
        #expect(back.graph(since: 60, service: nil, identity: nil).edges.count == 3)
        #expect(back.sidecars() == t.sidecars())
        #expect(back.reading().totals == t.reading().totals)
        #expect(back.reading().totals.duplicates == 1 && back.reading().totals.accepted == 2)
        #expect(try Self.ingest(back, F.report("shop/web", seq: 7, end: F.t0, [])).duplicate)
        // `service` keeps edges to it or from its identity.
        let web = back.graph(since: 60, service: "shop/web", identity: web)
        #expect(web.edges.count == 3)
        #expect(back.graph(since: 60, service: "shop/db", identity: "spiffe://mesh.local/ns/shop/sa/db").edges.isEmpty)
    }

    /// Many concurrent reports: each acknowledged once, fewer fsyncs than reports (group commit).
    @Test func groupCommit() throws {
        let dir = try TempDir()
        let t = try Self.service(dir, now: F.t0)
        let group = DispatchGroup()
        let acks = Mutex(0)
        for i in 0..<200 {
            group.enter()
            t.ingest(F.report(instance: "i\(i)", seq: 1, end: F.t0, [(F.key(web), 1)])) { r in
                if case .success(let a) = r, !a.duplicate { acks.withLock { $0 += 1 } }
                group.leave()
            }
        }
        group.wait()
        #expect(acks.withLock { $0 } == 200)
        let fsyncs = t.fsyncSeconds.snapshot().count
        #expect(fsyncs >= 1 && fsyncs < 200, "\(fsyncs) fsyncs")
        #expect(Self.total(try Self.service(dir, now: F.t0)) == 200)
    }

    /// Every 60 s a snapshot replaces the journal so far; a crash after it replays snapshot + the new journal.
    @Test func periodicSnapshotThenCrash() throws {
        let dir = try TempDir()
        let clock = Mutex(F.t0)
        do {
            let t = try TelemetryService(dir: dir.file("telemetry"), now: { Double(clock.withLock { $0 }) })
            _ = try Self.ingest(t, F.report(seq: 1, end: F.t0, [(F.key(web), 2)]))
            t.snapshotIfDue()  // not yet due
            clock.withLock { $0 += 59 }
            t.snapshotIfDue()
            #expect(!FileManager.default.fileExists(atPath: dir.file("telemetry/snapshot.jsonl")))
            clock.withLock { $0 += 1 }
            t.snapshotIfDue()
            let deadline = Date().addingTimeInterval(5)
            while FileManager.default.fileExists(atPath: dir.file("telemetry/journal-0.jsonl")) && Date() < deadline { usleep(10_000) }
            let files = try FileManager.default.contentsOfDirectory(atPath: dir.file("telemetry")).sorted()
            #expect(files == ["journal-1.jsonl", "snapshot.jsonl"])
            _ = try Self.ingest(t, F.report(seq: 2, end: F.t0 + 60, [(F.key(web), 3)]))
        }  // no close: a crash
        let back = try TelemetryService(dir: dir.file("telemetry"), now: { Double(F.t0 + 61) })
        #expect(Self.total(back) == 5)
        #expect(back.sidecars().sidecars.map(\.lastSeq) == [2])
        #expect(back.reading().totals.accepted == 2)
    }

    /// A journal line that does not read back is skipped and counted; the lines after it still count.
    @Test func unreadableLineIsSkipped() throws {
        let dir = try TempDir()
        do {
            let t = try Self.service(dir, now: F.t0)
            _ = try Self.ingest(t, F.report(seq: 1, end: F.t0, [(F.key(web), 2)]))
        }
        let h = try #require(FileHandle(forWritingAtPath: dir.file("telemetry/journal-0.jsonl")))
        h.seekToEndOfFile()
        h.write(Data("{not json}\n".utf8))
        try h.close()
        do {
            let t = try Self.service(dir, now: F.t0)
            #expect(t.tornLines == 1)
            _ = try Self.ingest(t, F.report(seq: 2, end: F.t0, [(F.key(web), 3)]))
        }
        let t = try Self.service(dir, now: F.t0)
        #expect(t.tornLines == 1 && Self.total(t) == 5)
    }

    /// A snapshot of several MiB: written in pieces, buckets split over lines of 1,000 edges, read back 1 MiB at
    /// a time (lines crossing reads) into the same graph.
    @Test func largeSnapshotRoundTrip() throws {
        let dir = try TempDir()
        let t = try Self.service(dir, now: F.t0 + 20)
        for r in 0..<5 {
            let edges = (0..<1000).map { i in (F.key("spiffe://mesh.local/ns/tenant-\(r)/sa/caller-\(i)"), i % 7 + 1) }
            _ = try Self.ingest(t, F.report(seq: r + 1, end: F.t0 + 10 * (r % 2), edges))
        }
        try t.close()
        let size = try #require(try FileManager.default.attributesOfItem(atPath: dir.file("telemetry/snapshot.jsonl"))[.size] as? Int)
        #expect(size > 3 << 20, "\(size) bytes")
        let back = try Self.service(dir, now: F.t0 + 20)
        #expect(back.reading().entries == 10_000 && back.reading().edges == 5000)
        for since in [60, 7200] {
            #expect(back.graph(since: since, service: nil, identity: nil) == t.graph(since: since, service: nil, identity: nil))
        }
    }
}
