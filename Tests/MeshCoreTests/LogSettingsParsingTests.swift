import MeshCore
import MeshTestSupport
import Testing

/// The `log` section's rotation and rate-limit fields: documented defaults, strict ranges.
@Suite struct LogSettingsParsingTests {
    static func parse(_ log: String) throws -> SidecarConfig {
        try SidecarConfig.parse(json: Array(ConfigDoc.withInbound(#""log": \#(log)"#).utf8), baseDirectory: "/etc/mesh")
    }

    @Test func defaultsAreSixtyFourMebibytesThreeOldFilesAndTwentyLinesASecondAfterAHundred() throws {
        let log = try Self.parse("{}").log
        #expect(log.maxFileBytes == 67_108_864)
        #expect(log.keepFiles == 3)
        #expect(log.refusalLinesPerSecond == 20)
        #expect(log.refusalLinesBurst == 100)
    }

    @Test func everyFieldCanBeSet() throws {
        let log = try Self.parse(#"{"maxFileBytes": 4096, "keepFiles": 1, "refusalLinesPerSecond": 5, "refusalLinesBurst": 7}"#).log
        #expect(log.maxFileBytes == 4096 && log.keepFiles == 1 && log.refusalLinesPerSecond == 5 && log.refusalLinesBurst == 7)
    }

    @Test(arguments: [#"{"maxFileBytes": 4095}"#, #"{"keepFiles": 0}"#, #"{"keepFiles": 101}"#,
                      #"{"refusalLinesPerSecond": 0}"#, #"{"refusalLinesBurst": 0}"#])
    func outOfRangeIsRefused(_ log: String) {
        expectMeshError("config.out-of-range", reasonPrefix: "log.") { _ = try Self.parse(log) }
    }

    @Test func aFractionIsRefused() {
        expectMeshError("config.wrong-type", reasonPrefix: "log.maxFileBytes: ") { _ = try Self.parse(#"{"maxFileBytes": 1.5}"#) }
    }
}
