import Foundation
@testable import ControlPlaneKit
import MeshCore
import MeshTLS
import Testing
import MeshTestSupport

/// The hash-chained audit log: each record names the hash of the one before; reopening continues the chain;
/// tampering, deletion and reordering are caught; a torn last line (crash mid-append) is cut off.
@Suite struct AuditLogTests {
    /// A log in a fresh folder with one record per actor.
    private func logWith(_ actors: [String], in dir: TempDir) throws -> AuditLog {
        let log = try AuditLog(path: dir.file("audit.log"))
        for (i, actor) in actors.enumerated() {
            try log.append(time: 1_700_000_000 + Double(i), actor: actor, action: "test.\(actor)", [("n", .int(i))])
        }
        return log
    }

    private func records(in dir: TempDir) throws -> [JSONValue] {
        try lines(dir.text("audit.log")).map { try StrictJSON.parse(Array($0.utf8)) }
    }

    @Test func firstRecordFollowsTheGenesisAndEachNextTheOneBefore() throws {
        let dir = try TempDir()
        let log = try logWith(["alice", "bob", "carol"], in: dir)
        let recs = try records(in: dir)
        #expect(recs.count == 3)
        #expect(recs[0]["prev"]?.stringValue == AuditLog.genesis)
        #expect(AuditLog.genesis == String(repeating: "0", count: 64))
        for i in 1..<recs.count {
            #expect(recs[i]["prev"]?.stringValue == recs[i - 1]["hash"]?.stringValue)
        }
        #expect(recs.map { $0["seq"]?.intValue } == [1, 2, 3])
        #expect(log.lastHash == recs[2]["hash"]?.stringValue)
        #expect(log.count == 3)
        #expect(try AuditLog.verify(dir.read("audit.log")).count == 3)
    }

    @Test func appendReturnsTheRecordsHash() throws {
        let dir = try TempDir()
        let log = try AuditLog(path: dir.file("audit.log"))
        let hash = try log.append(time: 0, actor: "a", action: "x", [])
        #expect(hash.count == 64)
        #expect(try records(in: dir)[0]["hash"]?.stringValue == hash)
    }

    @Test func recordsCarryTimeActorActionAndFieldsInOrder() throws {
        let dir = try TempDir()
        let log = try logWith(["alice", "bob"], in: dir)
        let recs = try log.records()
        #expect(recs.count == 2)
        #expect(recs.map { $0["actor"]?.stringValue } == ["alice", "bob"])
        #expect(recs.map { $0["action"]?.stringValue } == ["test.alice", "test.bob"])
        #expect(recs[0]["time"]?.stringValue == "2023-11-14T22:13:20Z")
        #expect(recs[1]["n"]?.intValue == 1)
        guard case .object(let members) = recs[0] else { Issue.record("not an object"); return }
        #expect(members.map(\.0) == ["seq", "time", "actor", "action", "n", "prev", "hash"])
    }

    @Test func reopeningContinuesTheChainAndTheCount() throws {
        let dir = try TempDir()
        var lastHash = ""
        do {
            let log = try logWith(["alice", "bob"], in: dir)
            lastHash = log.lastHash
        }
        let again = try AuditLog(path: dir.file("audit.log"))
        #expect(again.count == 2)
        #expect(again.lastHash == lastHash)
        try again.append(time: 1_700_000_100, actor: "carol", action: "test.carol", [])
        let recs = try again.records()
        #expect(recs.map { $0["seq"]?.intValue } == [1, 2, 3])
        #expect(recs[2]["prev"]?.stringValue == lastHash)
        #expect(try AuditLog.verify(dir.read("audit.log")).count == 3)
    }

    @Test func awkwardTextInFieldsStillVerifies() throws {
        let dir = try TempDir()
        do {
            let log = try AuditLog(path: dir.file("audit.log"))
            try log.append(time: 0, actor: "o\"dd \\ actor", action: "x", [
                ("note", .string("line\nbreak\ttab \u{01} \u{7f} é 😀 \u{2028} </script>")),
                ("list", .array([.null, .bool(true), .int(-3), .object([("k", .string(""))])])),
            ])
        }
        let again = try AuditLog(path: dir.file("audit.log"))
        #expect(again.count == 1)
        #expect(try again.records()[0]["note"]?.stringValue == "line\nbreak\ttab \u{01} \u{7f} é 😀 \u{2028} </script>")
    }

    @Test(arguments: ["a field", "the hash"])
    func detectsOneAlteredCharacterInTheMiddleRecord(_ part: String) throws {
        let dir = try TempDir()
        _ = try logWith(["alice", "bob", "carol"], in: dir)
        var text = lines(try dir.text("audit.log"))
        if part == "a field" {
            text[1] = text[1].replacingFirst("\"actor\":\"bob\"", with: "\"actor\":\"bib\"")
        } else {
            let hash = try StrictJSON.parse(Array(text[1].utf8))["hash"]!.stringValue!
            let flipped = (hash.first == "0" ? "1" : "0") + hash.dropFirst()
            text[1] = text[1].replacingFirst(hash, with: flipped)
        }
        try dir.write("audit.log", text.joined(separator: "\n") + "\n")
        expectMeshError("audit.broken-chain") { _ = try AuditLog.verify(dir.read("audit.log")) }
        expectMeshError("audit.broken-chain") { _ = try AuditLog(path: dir.file("audit.log")) }
    }

    @Test func detectsADeletedMiddleRecord() throws {
        let dir = try TempDir()
        _ = try logWith(["alice", "bob", "carol"], in: dir)
        var text = lines(try dir.text("audit.log"))
        text.remove(at: 1)
        try dir.write("audit.log", text.joined(separator: "\n") + "\n")
        let error = expectMeshError("audit.broken-chain") { _ = try AuditLog.verify(dir.read("audit.log")) }
        #expect(error?.reason.contains("record 2") == true, "\(error?.reason ?? "")")
        expectMeshError("audit.broken-chain") { _ = try AuditLog(path: dir.file("audit.log")) }
    }

    @Test func detectsReorderedRecords() throws {
        let dir = try TempDir()
        _ = try logWith(["alice", "bob", "carol"], in: dir)
        var text = lines(try dir.text("audit.log"))
        text.swapAt(1, 2)
        try dir.write("audit.log", text.joined(separator: "\n") + "\n")
        expectMeshError("audit.broken-chain") { _ = try AuditLog.verify(dir.read("audit.log")) }
    }

    @Test func aLineThatIsNoJSONIsCorrupt() throws {
        let dir = try TempDir()
        _ = try logWith(["alice"], in: dir)
        try dir.write("audit.log", try dir.text("audit.log") + "not json\n")
        expectMeshError("audit.corrupt") { _ = try AuditLog(path: dir.file("audit.log")) }
    }

    @Test(arguments: ["half a record", "a whole record but its newline"])
    func cutsOffATornFinalLineAndContinuesValid(_ torn: String) throws {
        let dir = try TempDir()
        let good: [UInt8]
        if torn == "half a record" {
            _ = try logWith(["alice", "bob"], in: dir)
            good = try dir.read("audit.log")
            try dir.write("audit.log", good + Array("{\"seq\":3,\"time\":\"2023-".utf8))
        } else {
            _ = try logWith(["alice", "bob", "carol"], in: dir)
            let full = try dir.read("audit.log")
            let secondNewline = full.indices.filter { full[$0] == 0x0A }[1]
            good = Array(full[...secondNewline])
            try dir.write("audit.log", Array(full.dropLast()))
        }
        let log = try AuditLog(path: dir.file("audit.log"))
        #expect(log.count == 2)
        #expect(try dir.read("audit.log") == good, "the torn bytes are gone from the file")
        try log.append(time: 1_700_000_200, actor: "dave", action: "test.dave", [])
        let verified = try AuditLog.verify(dir.read("audit.log"))
        #expect(verified.count == 3)
        #expect(verified.validBytes == (try dir.read("audit.log")).count)
        #expect(try log.records().map { $0["actor"]?.stringValue } == ["alice", "bob", "dave"])
    }

    @Test func verifyCountsOnlyWholeLines() throws {
        let dir = try TempDir()
        _ = try logWith(["alice"], in: dir)
        let good = try dir.read("audit.log")
        let result = try AuditLog.verify(good + Array("{\"se".utf8))
        #expect(result.count == 1)
        #expect(result.validBytes == good.count)
    }

    @Test func anEmptyLogStartsAtTheGenesis() throws {
        let dir = try TempDir()
        let log = try AuditLog(path: dir.file("audit.log"))
        #expect(log.count == 0)
        #expect(log.lastHash == AuditLog.genesis)
        #expect(try log.records().isEmpty)
        #expect(try dir.mode("audit.log") == 0o600)
    }
}

extension String {
    /// `self` with the first occurrence of `target` replaced (and a test failure when there is none).
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else {
            Issue.record("\(target) not found")
            return self
        }
        return replacingCharacters(in: range, with: replacement)
    }
}
