/// The one writer of times as RFC 3339 UTC text (`2026-11-30T07:43:05Z`), for logs, audit records, the admin
/// API and policy timestamps. Pure: the time is a parameter, and the calendar arithmetic is done here, without
/// the C library or Foundation, so every layer prints the same bytes.
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
        let days = secondsSinceEpoch >= 0 ? secondsSinceEpoch / 86_400 : (secondsSinceEpoch - 86_399) / 86_400
        let rest = secondsSinceEpoch - days * 86_400
        let (y, m, d) = civilFromDays(days)
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(rest / 3600, 2)):\(pad(rest / 60 % 60, 2)):\(pad(rest % 60, 2))Z"
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `civil_from_days`).
    static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
