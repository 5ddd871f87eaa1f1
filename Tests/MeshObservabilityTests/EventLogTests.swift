import Foundation
import MeshNet
import MeshObservability
import Testing

/// The one log shape of every mesh process: `{"ts":…,"event":…, fields…}`, one line per event.
@Suite struct EventLogTests {
    struct FixedClock: Clock {
        let wall: Double
        func monotonicMs() -> Int64 { 0 }
        func monotonicNs() -> Int64 { 0 }
        func wallSeconds() -> Double { wall }
    }

    static func tempPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("log-\(UUID().uuidString).jsonl").path
    }

    @Test func writesOneJSONLinePerEventWithTsFirstAndFieldsInOrder() throws {
        let path = Self.tempPath()
        defer { unlink(path) }
        let log = try EventLog(path: path, clock: FixedClock(wall: 1_700_000_000.5))
        log.event("started", ["listen": "127.0.0.1:8443", "issuingRoot": 1])
        log.event("refused", fields: [("peer", .string("10.0.0.1:4000")), ("identity", .optional(nil)), ("revoked", .bool(true)),
                                      ("reason", .string("say \"no\"\n"))])
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == """
            {"ts":"2023-11-14T22:13:20.500Z","event":"started","listen":"127.0.0.1:8443","issuingRoot":1}
            {"ts":"2023-11-14T22:13:20.500Z","event":"refused","peer":"10.0.0.1:4000","revoked":true,"reason":"say \\"no\\"\\n"}

            """)
        for line in text.split(separator: "\n") {
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(doc["ts"] as? String == "2023-11-14T22:13:20.500Z")
            #expect(doc["time"] == nil)
        }
    }

    @Test func appendsToAnExistingFile() throws {
        let path = Self.tempPath()
        defer { unlink(path) }
        try Data("{\"ts\":\"earlier\",\"event\":\"stopped\"}\n".utf8).write(to: URL(fileURLWithPath: path))
        try EventLog(path: path, clock: FixedClock(wall: 0)).event("started")
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines == ["{\"ts\":\"earlier\",\"event\":\"stopped\"}", "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"event\":\"started\"}"])
    }

    @Test func aLogOnADescriptorWritesThereAndLeavesItOpen() throws {
        let path = Self.tempPath()
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        #expect(fd >= 0)
        do {
            let log = EventLog(fileDescriptor: fd, clock: FixedClock(wall: 0))
            log.event("note", ["message": "hi"])
        }
        #expect(write(fd, "x", 1) == 1, "still open after the log went away")
        close(fd)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"event\":\"note\",\"message\":\"hi\"}\nx")
    }

    @Test func aLogFileThatCannotBeOpenedThrows() {
        #expect(throws: SyscallError.self) { try EventLog(path: "/nonexistent-folder/x/log.jsonl") }
    }
}
