import Foundation
import MeshNet
import MeshObservability
import Testing

/// The log file is rotated by size by its one writer: `FILE` → `FILE.1` … `FILE.<keep>`, never a split line.
@Suite struct LogRotationTests {
    static func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    static func size(_ path: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? -1 }

    static func cleanup(_ path: String, keep: Int) {
        unlink(path)
        for i in 1...keep + 1 { unlink("\(path).\(i)") }
    }

    @Test func concurrentWritersFillRotatedFilesWithWholeLinesAndLoseNone() throws {
        let path = EventLogTests.tempPath()
        defer { Self.cleanup(path, keep: 3) }
        let log = try EventLog(path: path, rotation: LogRotation(maxBytes: 1000, keep: 3), clock: EventLogTests.FixedClock(wall: 0))
        let pad = String(repeating: "x", count: 30)
        let threads = 3, perThread = 10
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for i in 0..<perThread { log.event("refused", ["id": .string("t\(t)-\(i)"), "pad": .string(pad)]) }
        }
        let files = [path, "\(path).1", "\(path).2", "\(path).3"]
        #expect(FileManager.default.fileExists(atPath: "\(path).1"), "the file was never rotated")
        #expect(FileManager.default.fileExists(atPath: "\(path).2"))
        var ids: [String] = []
        for f in files where FileManager.default.fileExists(atPath: f) {
            #expect(Self.size(f) <= 1000, "\(f) is over the limit")
            for line in Self.lines(f) {
                let doc = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not whole JSON: \(line)")
                ids.append(try #require(doc["id"] as? String))
            }
        }
        #expect(ids.count == threads * perThread)
        #expect(Set(ids).count == threads * perThread)
    }

    @Test func onlyKeepOldFilesStayAndTheyHoldTheNewestLinesInOrder() throws {
        let path = EventLogTests.tempPath()
        defer { Self.cleanup(path, keep: 3) }
        let log = try EventLog(path: path, rotation: LogRotation(maxBytes: 500, keep: 3), clock: EventLogTests.FixedClock(wall: 0))
        for i in 0..<200 { log.event("refused", ["n": .int(i)]) }
        #expect(FileManager.default.fileExists(atPath: "\(path).3"))
        #expect(!FileManager.default.fileExists(atPath: "\(path).4"))
        let all = ["\(path).3", "\(path).2", "\(path).1", path].flatMap(Self.lines)
        let ns = try all.map { line in
            try #require((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["n"] as? Int)
        }
        #expect(ns.last == 199)
        #expect(ns == Array((200 - ns.count)..<200), "oldest first, no gap")
        #expect(ns.count < 200)
    }

    @Test func aLineLongerThanTheLimitIsWrittenWholeInAFileOfItsOwn() throws {
        let path = EventLogTests.tempPath()
        defer { Self.cleanup(path, keep: 2) }
        let log = try EventLog(path: path, rotation: LogRotation(maxBytes: 100, keep: 2), clock: EventLogTests.FixedClock(wall: 0))
        log.event("a")
        log.event("big", ["detail": .string(String(repeating: "y", count: 300))])
        log.event("b")
        #expect(Self.lines("\(path).2").count == 1)
        #expect(Self.lines("\(path).1").first?.contains(String(repeating: "y", count: 300)) == true)
        #expect(Self.lines(path).count == 1)
    }
}
