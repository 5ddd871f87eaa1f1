import ControlPlaneKit
import Foundation
import MeshAPI
import MeshCore
import Testing

/// Helpers shared by the telemetry store and service tests.
enum TelemetryFixture {
    static let t0 = 1_800_000_000  // a multiple of 60: the first fine and coarse buckets start here

    static func id(_ service: String) -> SPIFFEID {
        let p = service.split(separator: "/")
        return try! SPIFFEID.workload("spiffe://mesh.local/ns/\(p[0])/sa/\(p[1])")
    }

    static func key(_ caller: String, _ destination: String = "shop/api", port: Int = 8080, allowed: Bool = true,
                    observer: TelemetryObserver = .inbound) -> EdgeKey {
        EdgeKey(observer: observer, caller: caller, destination: destination, port: port, allowed: allowed,
                rule: allowed ? "web-to-api" : "", reason: allowed ? "allowed" : "denied-by-policy")
    }

    static func counts(_ connections: Int, bytes: Int = 100) -> EdgeCounts {
        var c = EdgeCounts()
        for _ in 0..<connections {
            c.record(bytesToDestination: bytes, bytesToCaller: 2 * bytes, handshakeUs: 1_500, durationUs: 20_000)
        }
        return c
    }

    static func report(_ source: String = "shop/api", instance: String = "a1", seq: Int, end: Int,
                       _ edges: [(EdgeKey, Int)]) -> TelemetryReport {
        TelemetryReport(source: id(source), instance: instance, seq: seq, policyVersion: 3, windowStart: end - 10, windowEnd: end,
                        edges: edges.map { TelemetryEdge(key: $0.0, counts: counts($0.1)) })
    }
}

@Suite("Telemetry store")
struct TelemetryStoreTests {
    typealias F = TelemetryFixture
    let web = "spiffe://mesh.local/ns/shop/sa/web"

    /// Two reports in two fine buckets of one minute: the fine tier keeps them apart, the coarse one sums them.
    @Test func bucketsAndTiers() {
        var s = TelemetryStore()
        let r1 = s.ingest(F.report(seq: 1, end: F.t0 + 5, [(F.key(web), 2)]), now: F.t0 + 5)
        #expect(r1)
        let r2 = s.ingest(F.report(seq: 2, end: F.t0 + 25, [(F.key(web), 3), (F.key(web, allowed: false), 1)]), now: F.t0 + 26)
        #expect(r2)
        let now = F.t0 + 30
        let fine = s.graph(since: 60, now: now)
        #expect(fine.resolutionSeconds == 10 && fine.from == F.t0 - 30 && fine.to == now)
        #expect(fine.edges.map(\.key) == [F.key(web), F.key(web, allowed: false)])  // allowed sorts first
        #expect(fine.edges[0].counts == F.counts(5))
        #expect(fine.edges[0].firstSeen == F.t0 && fine.edges[0].lastSeen == F.t0 + 20)
        #expect(fine.edges[1].counts == F.counts(1) && fine.edges[1].firstSeen == F.t0 + 20)
        let coarse = s.graph(since: 7200, now: now)
        #expect(coarse.resolutionSeconds == 60 && coarse.edges.count == 2)
        #expect(coarse.edges[0].counts == F.counts(5) && coarse.edges[0].firstSeen == F.t0 && coarse.edges[0].lastSeen == F.t0)
        #expect(s.entries == 5)  // fine: 1 + 2, coarse: 2
        #expect(s.distinctEdges == 2)
        #expect(s.totals.decisions == ["inbound/allow": 5, "inbound/deny": 1])
        // Only the window asked for: the first bucket is outside the last 10 s.
        #expect(s.graph(since: 10, now: now).edges.first?.counts == F.counts(3))
    }

    /// windowEnd is clamped to [now − 1 h, now].
    @Test func windowEndIsClamped() {
        var s = TelemetryStore()
        let now = F.t0 + 7200
        s.ingest(F.report(seq: 1, end: F.t0, [(F.key(web), 1)]), now: now)  // two hours old → an hour old
        s.ingest(F.report(seq: 2, end: now + 500, [(F.key(web), 1)]), now: now)  // in the future → now
        let g = s.graph(since: 3600, now: now)
        #expect(g.edges.count == 1 && g.edges[0].counts.connections == 2)
        #expect(g.edges[0].firstSeen == now - 3600 && g.edges[0].lastSeen == now)
    }

    /// A seq at or below the last accepted one is a duplicate: acknowledged, not counted.
    @Test func duplicatesAreNotCounted() {
        var s = TelemetryStore()
        let r3 = s.ingest(F.report(seq: 2, end: F.t0, [(F.key(web), 4)]), now: F.t0)
        #expect(r3)
        let r4 = s.ingest(F.report(seq: 2, end: F.t0, [(F.key(web), 4)]), now: F.t0 + 1)
        #expect(!r4)
        let r5 = s.ingest(F.report(seq: 1, end: F.t0, [(F.key(web), 4)]), now: F.t0 + 2)
        #expect(!r5)
        let r6 = s.ingest(F.report(instance: "b2", seq: 1, end: F.t0, [(F.key(web), 1)]), now: F.t0 + 3)
        #expect(r6)  // another instance
        #expect(s.graph(since: 60, now: F.t0 + 3).edges[0].counts.connections == 5)
        #expect(s.totals.accepted == 2 && s.totals.duplicates == 2)
        let rows = s.sidecars(now: F.t0 + 10)
        #expect(rows.map(\.instance) == ["a1", "b2"])
        #expect(rows[0].lastSeq == 2 && rows[0].reports == 1 && rows[0].duplicates == 2 && rows[0].lastReport == F.t0)
        #expect(rows[0].secondsAgo == 10 && rows[0].policyVersion == 3 && rows[0].edges == 1)
    }

    /// Beyond the key cap, new keys fold into the overflow edge of their (observer, destination, port, verdict).
    @Test func keyCapFoldsIntoOverflow() {
        var limits = TelemetryStore.Limits()
        limits.maxEdges = 2
        var s = TelemetryStore(limits: limits)
        s.ingest(F.report(seq: 1, end: F.t0, [(F.key("spiffe://mesh.local/ns/a/sa/1"), 1), (F.key("spiffe://mesh.local/ns/a/sa/2"), 1)]), now: F.t0)
        s.ingest(F.report(seq: 2, end: F.t0, [(F.key("spiffe://mesh.local/ns/a/sa/3"), 2), (F.key("spiffe://mesh.local/ns/a/sa/4"), 3),
                                              (F.key("spiffe://mesh.local/ns/a/sa/1"), 1)]), now: F.t0)
        #expect(s.totals.foldedEdges == 2)
        let g = s.graph(since: 60, now: F.t0)
        #expect(g.edges.map(\.key.caller) == [EdgeKey.overflowCaller, "spiffe://mesh.local/ns/a/sa/1", "spiffe://mesh.local/ns/a/sa/2"])
        #expect(g.edges[0].counts.connections == 5 && g.edges[0].key.destination == "shop/api" && g.edges[0].key.allowed)
        #expect(g.edges[1].counts.connections == 2)
        #expect(g.edges.reduce(0) { $0 + $1.counts.connections } == 8)  // nothing lost, only folded
    }

    /// At the entry cap the oldest fine bucket goes first (counted); the coarse tier keeps the minute.
    @Test func entryCapEvictsOldestFineBucket() {
        var limits = TelemetryStore.Limits()
        limits.maxEntries = 4
        var s = TelemetryStore(limits: limits)
        for i in 0..<4 { s.ingest(F.report(seq: i + 1, end: F.t0 + 10 * i, [(F.key(web), 1)]), now: F.t0 + 10 * i) }
        #expect(s.entries == 4 && s.totals.evictedEntries == 1)
        let now = F.t0 + 35
        let fine = s.graph(since: 60, now: now)
        #expect(fine.edges[0].counts.connections == 3 && fine.edges[0].firstSeen == F.t0 + 10)
        #expect(s.graph(since: 7200, now: now).edges[0].counts.connections == 4)
    }

    /// Fine buckets expire after an hour, coarse ones after a day.
    @Test func bucketsExpire() {
        var s = TelemetryStore()
        s.ingest(F.report(seq: 1, end: F.t0, [(F.key(web), 1)]), now: F.t0)
        s.expire(now: F.t0 + 3700)
        #expect(s.graph(since: 3600, now: F.t0 + 3700).edges.isEmpty)
        #expect(s.graph(since: 7200, now: F.t0 + 3700).edges.first?.counts.connections == 1)
        #expect(s.entries == 1)
        s.expire(now: F.t0 + 86_400 + 120)
        #expect(s.entries == 0 && s.distinctEdges == 0)
    }

    /// Beyond the instance cap the instance heard from longest ago is forgotten.
    @Test func instanceCap() {
        var limits = TelemetryStore.Limits()
        limits.maxInstances = 2
        var s = TelemetryStore(limits: limits)
        for (i, name) in ["i1", "i2", "i3"].enumerated() { s.ingest(F.report(instance: name, seq: 1, end: F.t0, []), now: F.t0 + i) }
        #expect(s.sidecars(now: F.t0 + 5).map(\.instance) == ["i2", "i3"])
        #expect(s.totals.evictedInstances == 1)
    }

    /// Ingest cost: 10,000 reports of 10 edges (100 distinct keys over 10 fine buckets).
    @Test func ingestCost() throws {
        var s = TelemetryStore()
        let reports = (0..<10_000).map { i in
            F.report(instance: "i\(i % 100)", seq: i / 100 + 1, end: F.t0 + i / 100,
                     (0..<10).map { e in (F.key("spiffe://mesh.local/ns/c/sa/\((i + e) % 100)"), 1) })
        }
        let start = Date()
        for r in reports { s.ingest(r, now: r.windowEnd) }
        let elapsed = Date().timeIntervalSince(start)
        print("telemetry ingest: 10,000 reports × 10 edges in \(Int(elapsed * 1000)) ms (\(Int(elapsed * 100)) µs/report)")
        #expect(s.totals.accepted == 10_000)
        #expect(s.graph(since: 3600, now: F.t0 + 100).edges.reduce(0) { $0 + $1.counts.connections } == 100_000)
        #expect(elapsed < 20)
        // The whole path a report takes: strict JSON parse and decode, then counting (a fresh store).
        let bodies = reports.prefix(1000).map(\.bytes)  // 1,000: decoding dominates, and is slow in debug builds
        var fresh = TelemetryStore()
        let start2 = Date()
        for body in bodies {
            let r = try TelemetryReport(bytes: body, limits: TelemetryReport.limits)
            fresh.ingest(r, now: r.windowEnd)
        }
        let decoded = Date().timeIntervalSince(start2)
        print("telemetry decode+ingest: 1,000 reports × 10 edges (\(bodies[0].count) B each) in \(Int(decoded * 1000)) ms (\(Int(decoded * 1000)) µs/report)")
        #expect(fresh.totals.accepted == 1000 && fresh.totals.decisions == ["inbound/allow": 10_000])
    }
}
