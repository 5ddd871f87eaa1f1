import Foundation
@testable import ControlPlaneKit
import MeshCore
import MeshNet
import Testing
import MeshTestSupport

/// Hardening #8: the audit log rotates by size into segments; the chain continues across them; a start reads
/// only the tail segment; the full verify walks them all; paging returns every record exactly once.
@Suite struct AuditSegmentTests {
    static let segmentBytes = 2_048

    static func filled(_ dir: TempDir, records n: Int) throws -> AuditLog {
        let log = try AuditLog(path: dir.file("audit.log"), segmentBytes: segmentBytes)
        for i in 0..<n { try log.append(time: 1_700_000_000 + Double(i), actor: "op", action: "test.append", [("n", .int(i))]) }
        return log
    }

    @Test func manyRecordsMakeSeveralSegmentsChainedAcrossThem() throws {
        let dir = try TempDir()
        let log = try Self.filled(dir, records: 120)
        let segments = log.segmentPaths()
        #expect(segments.count >= 4, "\(segments)")
        for p in segments { #expect(try DurableFile.read(p).count <= Self.segmentBytes) }
        // The first record of each segment chains to the last of the one before.
        var prev = AuditLog.genesis
        for p in segments {
            let recs = try lines(String(decoding: DurableFile.read(p), as: UTF8.self)).map { try StrictJSON.parse(Array($0.utf8)) }
            #expect(recs.first?["prev"]?.stringValue == prev)
            prev = recs.last?["hash"]?.stringValue ?? prev
        }
        #expect(try log.verify() == 120)
        #expect(try log.records().map { $0["seq"]?.intValue } == Array(1...120))
    }

    @Test func aStartReadsOnlyTheTailAndContinuesTheChain() throws {
        let dir = try TempDir()
        let first = try Self.filled(dir, records: 120)
        let lastHash = first.lastHash
        let again = try AuditLog(path: dir.file("audit.log"), segmentBytes: Self.segmentBytes)
        #expect(again.count == 120 && again.lastHash == lastHash)
        #expect(again.bytesReadAtOpen <= 2 * Self.segmentBytes, "read \(again.bytesReadAtOpen) bytes at start")
        try again.append(time: 1_800_000_000, actor: "op", action: "after.restart", [])
        #expect(try again.verify() == 121)
    }

    @Test func tamperingInAnOldSegmentIsCaughtByTheFullVerify() throws {
        let dir = try TempDir()
        let log = try Self.filled(dir, records: 120)
        let oldest = log.segmentPaths()[0]
        let text = String(decoding: try DurableFile.read(oldest), as: UTF8.self)
        try DurableFile.write(oldest, Array(text.replacingOccurrences(of: "\"n\":1,", with: "\"n\":7,").utf8))
        // A start does not read old segments (its cost does not grow with the log) …
        let reopened = try AuditLog(path: dir.file("audit.log"), segmentBytes: Self.segmentBytes)
        // … the full verify does.
        expectMeshError("audit.broken-chain") { _ = try reopened.verify() }
    }

    @Test func pagingReturnsEveryRecordExactlyOnce() throws {
        let dir = try TempDir()
        let log = try Self.filled(dir, records: 120)
        var seen: [Int] = []
        var after = 0
        while true {
            let page = try log.page(after: after, limit: 7)
            #expect(page.records.count <= 7)
            seen += page.records.compactMap { $0["seq"]?.intValue }
            guard let next = page.next else { break }
            after = next
        }
        #expect(seen == Array(1...120))
        #expect(try log.page(after: 120, limit: 7).records.isEmpty)
    }
}
