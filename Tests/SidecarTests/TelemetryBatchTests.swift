import MeshAPI
import MeshCore
@testable import SidecarKit
import Synchronization
import Testing

/// The sidecar's telemetry without sockets: the bounded edge table, and batches (seq, in flight, retries,
/// drops) driven through the reporter with a fake `send`.
@Suite struct TelemetryBatchTests {
    static let source = try! SPIFFEID(parsing: "spiffe://mesh.local/ns/shop/sa/payments")

    static func key(_ caller: String, destination: String = "shop/payments", allowed: Bool = true) -> EdgeKey {
        EdgeKey(observer: .inbound, caller: caller, destination: destination, port: 8080, allowed: allowed,
                rule: allowed ? "a" : "default-deny", reason: allowed ? "allowed" : "identity-not-allowed")
    }

    @Test func tenThousandCallersStayWithinTheCap() {
        var table = EdgeTable(cap: 1_024)
        for i in 0..<10_000 {
            table.record(Self.key("spiffe://mesh.local/ns/load/sa/c\(i)"), bytesToDestination: 10, bytesToCaller: 3,
                         handshakeUs: 800, durationUs: 2_000)
        }
        // 1,024 callers of their own, and every other one folded into the single overflow edge.
        #expect(table.ownKeys == 1_024)
        #expect(table.count == 1_025)
        #expect(table.foldedConnections == 10_000 - 1_024)
        #expect(table.connections == 10_000)
        let overflow = table.edges[EdgeTable.overflowKey(of: Self.key("x"))]
        #expect(overflow?.connections == 8_976)
        #expect(overflow?.bytesToDestination == 89_760)
        #expect(overflow?.handshake[TelemetryBuckets.index(of: 800, in: TelemetryBuckets.handshakeUs)] == 8_976)
        #expect(table.edges.values.reduce(0) { $0 + $1.bytesToCaller } == 30_000)
        // A key already in the table keeps counting under its own name.
        table.record(Self.key("spiffe://mesh.local/ns/load/sa/c5"), bytesToDestination: 1, bytesToCaller: 1, handshakeUs: nil, durationUs: 1)
        #expect(table.edges[Self.key("spiffe://mesh.local/ns/load/sa/c5")]?.connections == 2)
        #expect(table.foldedConnections == 8_976)
    }

    @Test func mergingFoldsBeyondTheCapAndKeepsEveryCount() {
        var a = EdgeTable(cap: 4), b = EdgeTable(cap: 4)
        for i in 0..<6 { a.record(Self.key("a\(i)"), bytesToDestination: 1, bytesToCaller: 1, handshakeUs: nil, durationUs: 1) }
        for i in 0..<3 { b.record(Self.key("b\(i)", allowed: false), bytesToDestination: 2, bytesToCaller: 0, handshakeUs: nil, durationUs: 1) }
        #expect(a.foldedConnections == 2)
        var merged = EdgeTable(cap: 4)
        merged.merge(a)
        merged.merge(b)
        // 4 own keys (a0…a3), a's overflow edge (2 folded there), b's 3 callers folded into a deny overflow edge.
        #expect(merged.ownKeys == 4)
        #expect(merged.count == 6)
        #expect(merged.foldedConnections == 5)
        #expect(merged.connections == 9)
        #expect(merged.edges[EdgeTable.overflowKey(of: Self.key("b0", allowed: false))]?.connections == 3)
    }

    /// A fake control plane: answers per call as told, records what it got.
    final class FakeSend: Sendable {
        enum Answer: Sendable { case ack, duplicate, unavailable, malformed }
        let answers = Mutex<[Answer]>([])
        let got = Mutex<[TelemetryReport]>([])
        func callAsFunction(_ r: TelemetryReport) throws -> TelemetryAck {
            got.withLock { $0.append(r) }
            let a = answers.withLock { $0.isEmpty ? .ack : $0.removeFirst() }
            switch a {
            case .ack: return TelemetryAck(seq: r.seq, duplicate: false)
            case .duplicate: return TelemetryAck(seq: r.seq, duplicate: true)
            case .unavailable: throw MeshError(.httpConnect, "connection refused")
            case .malformed: throw MeshError(.apiBadValue, "edges[0].port: bad")
            }
        }
    }

    static func reporter(_ fake: FakeSend, cap: Int = 16) -> TelemetryReporter {
        var settings = TelemetrySettings()
        settings.maxEdges = cap
        return TelemetryReporter(settings: settings, instance: "00112233aabbccdd", source: { source }, policyVersion: { 7 },
                                 now: { 1_700_000_000 }, log: { _, _ in }, send: { try fake($0) })
    }

    static func table(_ callers: [String], cap: Int = 16) -> EdgeTable {
        var t = EdgeTable(cap: cap)
        for c in callers { t.record(key(c), bytesToDestination: 5, bytesToCaller: 7, handshakeUs: 1_000, durationUs: 3_000) }
        return t
    }

    @Test func aFailedBatchIsResentUnchangedAndNewTrafficGoesToTheNext() throws {
        let fake = FakeSend()
        let r = Self.reporter(fake)
        fake.answers.withLock { $0 = [.unavailable, .unavailable] }
        guard case .failure = r.round(tables: [Self.table(["x", "y"])], using: { try fake($0) }) else {
            Issue.record("the first send must fail"); return
        }
        #expect(r.status.pendingSeq == 1)
        // New traffic while batch 1 is unacknowledged: 1 is resent as it was; z waits for batch 2.
        guard case .failure(let e) = r.round(tables: [Self.table(["z"])], using: { try fake($0) }) else {
            Issue.record("the second send must fail too"); return
        }
        #expect(e.errorCode == .telemetryFlushFailed)
        let sent = fake.got.withLock { $0 }
        #expect(sent.count == 2)
        #expect(sent[0] == sent[1], "a retry is the same batch")
        #expect(sent[0].seq == 1 && sent[0].instance == "00112233aabbccdd" && sent[0].source == Self.source && sent[0].policyVersion == 7)
        #expect(sent[0].edges.map(\.key.caller) == ["x", "y"])
        #expect(sent[0].edges.map(\.counts.connections) == [1, 1])
        #expect(r.status.edgeKeys == 3)
        // The control plane is back: batch 1 acknowledged, then batch 2 with z (and nothing of batch 1).
        let ack = try r.round(tables: [], using: { try fake($0) }).get()
        #expect(ack == TelemetryAck(seq: 2, duplicate: false))
        let all = fake.got.withLock { $0 }
        #expect(all.map(\.seq) == [1, 1, 1, 2])
        #expect(all[2] == all[0])
        #expect(all[3].edges.map(\.key.caller) == ["z"])
        #expect(all[3].edges[0].counts.bytesToCaller == 7)
        #expect(r.status == TelemetryReporter.Status(instance: "00112233aabbccdd", pendingSeq: nil, lastAckSeq: 2, nextSeq: 3,
                                                     edgeKeys: 0, foldedConnections: 0, droppedBatches: 0))
        #expect(r.acknowledged.load(ordering: .relaxed) == 2 && r.failed.load(ordering: .relaxed) == 2)
        // Nothing new: nothing is sent.
        #expect(try r.round(tables: [], using: { try fake($0) }).get() == nil)
        #expect(fake.got.withLock { $0.count } == 4)
    }

    @Test func aDuplicateAckCountsAsDeliveredAndAMalformedBatchIsDropped() throws {
        let fake = FakeSend()
        let r = Self.reporter(fake)
        fake.answers.withLock { $0 = [.duplicate, .malformed] }
        #expect(try r.round(tables: [Self.table(["x"])], using: { try fake($0) }).get() == TelemetryAck(seq: 1, duplicate: true))
        guard case .failure(let e) = r.round(tables: [Self.table(["y"])], using: { try fake($0) }) else {
            Issue.record("a malformed batch must fail"); return
        }
        #expect(e.errorCode == .apiBadValue)
        #expect(r.status.pendingSeq == nil, "dropped, not retried")
        #expect(r.dropped.load(ordering: .relaxed) == 1 && r.duplicates.load(ordering: .relaxed) == 1)
        // The next batch takes the next number and tells the control plane a batch was dropped.
        #expect(try r.round(tables: [Self.table(["w"])], using: { try fake($0) }).get()?.seq == 3)
        let last = try #require(fake.got.withLock { $0.last })
        #expect(last.droppedBatches == 1 && last.edges.map(\.key.caller) == ["w"])
    }

    /// A cut of 700 edges goes out as reports of at most 300 (each under the control plane's 1 MiB body
    /// limit), consecutive seqs, one window; a failure in the middle resends that part only.
    @Test func aLargeCutIsSplitIntoReportsThatFitTheBodyLimit() throws {
        let fake = FakeSend()
        let r = Self.reporter(fake, cap: 1_024)
        fake.answers.withLock { $0 = [.ack, .unavailable] }
        let callers = (0..<700).map { "spiffe://mesh.local/ns/load/sa/c\($0)" }
        guard case .failure = r.round(tables: [Self.table(callers, cap: 1_024)], using: { try fake($0) }) else {
            Issue.record("the second part must fail"); return
        }
        #expect(r.status.pendingSeq == 2 && r.status.edgeKeys == 400)
        #expect(try r.round(tables: [], using: { try fake($0) }).get()?.seq == 3)
        let sent = fake.got.withLock { $0 }
        #expect(sent.map(\.seq) == [1, 2, 2, 3])
        #expect(sent.map(\.edges.count) == [300, 300, 300, 100])
        #expect(sent[1] == sent[2])
        #expect(Set(sent.map(\.windowStart)).count == 1 && Set(sent.map(\.windowEnd)).count == 1)
        #expect(Set([sent[0], sent[1], sent[3]].flatMap { $0.edges.map(\.key.caller) }) == Set(callers))
        for report in sent { #expect(report.bytes.count < 1 << 20) }
        #expect(r.status.edgeKeys == 0 && r.status.pendingSeq == nil)
    }

    @Test func foldingIsReportedWithTheBatch() throws {
        let fake = FakeSend()
        let r = Self.reporter(fake, cap: 16)
        let loops = [Self.table((0..<10).map { "a\($0)" }), Self.table((0..<10).map { "b\($0)" })]
        _ = try r.round(tables: loops, using: { try fake($0) }).get()
        let report = try #require(fake.got.withLock { $0.first })
        #expect(report.foldedConnections == 4)
        #expect(report.edges.count == 17)
        #expect(report.edges.reduce(0) { $0 + $1.counts.connections } == 20)
        #expect(r.status.foldedConnections == 4)
    }

    @Test func instancesAreSixteenHexCharacters() {
        var random = SplitMix64(seed: 42)
        let a = TelemetryReporter.makeInstance(using: &random), b = TelemetryReporter.makeInstance(using: &random)
        #expect(a.count == 16 && a.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(a != b)
    }
}
