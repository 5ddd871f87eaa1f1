import MeshCore

enum AuditTime {
    static func iso(_ seconds: Double) -> String { UTCTime.iso8601(seconds) }
}
