import MeshCore
import MeshPolicy
import Testing

/// Rule expiries print through the one RFC 3339 writer (`UTCTime`), byte for byte.
@Suite struct PolicyTimestampTextTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00Z"),
        (1_796_024_585, "2026-11-30T07:43:05Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (-1, "1969-12-31T23:59:59Z"),
        (253_402_300_799, "9999-12-31T23:59:59Z"),
    ])
    func printsLikeUTCTime(seconds: Int64, text: String) {
        #expect(PolicyTimestamp(secondsSinceEpoch: seconds).description == text)
        #expect(UTCTime.iso8601(secondsSinceEpoch: seconds) == text)
    }
}
