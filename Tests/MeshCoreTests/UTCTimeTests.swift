import MeshCore
import Testing

/// The one RFC 3339 writer: logs, audit records and the admin API compare these bytes.
@Suite struct UTCTimeTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00Z"),
        (1_796_024_585, "2026-11-30T07:43:05Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (-1, "1969-12-31T23:59:59Z"),
        (253_402_300_799, "9999-12-31T23:59:59Z"),
    ])
    func writesWholeSeconds(seconds: Int64, text: String) {
        #expect(UTCTime.iso8601(secondsSinceEpoch: seconds) == text)
        #expect(UTCTime.iso8601(Double(seconds)) == text)
    }

    @Test(arguments: [
        (1_796_024_585.0, "2026-11-30T07:43:05.000Z"),
        (1_796_024_585.123_9, "2026-11-30T07:43:05.123Z"),
        (1_796_024_585.0625, "2026-11-30T07:43:05.062Z"),
        (1_796_024_585.999_9, "2026-11-30T07:43:05.999Z"),
    ])
    func writesMillisecondsTruncated(seconds: Double, text: String) {
        #expect(UTCTime.iso8601(seconds, milliseconds: true) == text)
    }

    @Test func dropsTheFractionWithoutMilliseconds() {
        #expect(UTCTime.iso8601(1_796_024_585.999) == "2026-11-30T07:43:05Z")
    }
}
