/// The one writer of times as RFC 3339 UTC text (`2026-11-30T07:43:05Z`), for logs, audit records, the admin
/// API and policy timestamps. Pure: the time is a parameter, and the calendar arithmetic (`CivilCalendar`) is
/// done without the C library or Foundation, so every layer prints the same bytes.
public enum UTCTime {
    /// `2026-11-30T07:43:05Z`, or `2026-11-30T07:43:05.123Z` with `milliseconds` (truncated, not rounded).
    public static func iso8601(_ seconds: Double, milliseconds: Bool = false) -> String {
        let whole = seconds.rounded(.down)
        let text = iso8601(secondsSinceEpoch: Int64(whole))
        guard milliseconds else { return text }
        let ms = min(999, Int((seconds - whole) * 1000))
        let digits = String(ms)
        return String(text.dropLast()) + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` for whole seconds (years outside 0001-9999 print with more or fewer digits).
    public static func iso8601(secondsSinceEpoch: Int64) -> String {
        CivilCalendar.rfc3339(secondsSinceEpoch: secondsSinceEpoch)
    }
}
