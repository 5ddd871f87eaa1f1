import MeshCore

/// A point in time with one-second resolution, written as RFC 3339 UTC `YYYY-MM-DDTHH:MM:SSZ` (uppercase `T` and
/// `Z`, no fraction, no offset, no leap second). Parsed and printed here, without Foundation or a clock.
public struct PolicyTimestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Seconds since 1970-01-01T00:00:00Z.
    public let secondsSinceEpoch: Int64

    public init(secondsSinceEpoch: Int64) {
        self.secondsSinceEpoch = secondsSinceEpoch
    }

    /// The same instant as `Double` seconds, the unit of every `now` parameter.
    public var seconds: Double { Double(secondsSinceEpoch) }

    /// Parses `YYYY-MM-DDTHH:MM:SSZ` with years 0001-9999 and real calendar dates. Code `policy.bad-time`.
    public init(parsing text: String) throws(MeshError) {
        let b = Array(text.utf8)
        func fail(_ why: String) -> MeshError {
            MeshError(.policyBadTime, "\(text.debugDescription) \(why); expected RFC 3339 UTC YYYY-MM-DDTHH:MM:SSZ")
        }
        let shape = Array("dddd-dd-ddTdd:dd:ddZ".utf8)
        guard b.count == shape.count else { throw fail("has the wrong length") }
        for (byte, want) in zip(b, shape) {
            let ok = want == UInt8(ascii: "d") ? (byte >= 0x30 && byte <= 0x39) : byte == want
            guard ok else { throw fail("is malformed") }
        }
        func number(_ from: Int, _ count: Int) -> Int {
            b[from..<(from + count)].reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
        let (year, month, day) = (number(0, 4), number(5, 2), number(8, 2))
        let (hour, minute, second) = (number(11, 2), number(14, 2), number(17, 2))
        guard year >= 1 else { throw fail("has year 0000") }
        guard (1...12).contains(month) else { throw fail("has month \(month)") }
        guard (1...CivilCalendar.daysIn(month: month, year: year)).contains(day) else { throw fail("has no day \(day) in its month") }
        guard hour <= 23, minute <= 59, second <= 59 else { throw fail("has a time of day out of range") }
        let days = CivilCalendar.daysFromCivil(year: Int64(year), month: Int64(month), day: Int64(day))
        secondsSinceEpoch = days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` (years outside 0001-9999 print with more or fewer digits and do not parse back).
    public var description: String { UTCTime.iso8601(secondsSinceEpoch: secondsSinceEpoch) }

    public static func < (a: PolicyTimestamp, b: PolicyTimestamp) -> Bool { a.secondsSinceEpoch < b.secondsSinceEpoch }
}
