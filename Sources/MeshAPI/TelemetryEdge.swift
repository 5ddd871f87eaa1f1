import MeshCore

/// Which sidecar saw a flow: the destination's (`inbound`, it accepted the connection) or the caller's
/// (`outbound`, its app called out). An allowed flow is seen at both ends; a flow refused at the caller's end
/// (egress) only there.
public enum TelemetryObserver: String, Sendable, Hashable, CaseIterable {
    case inbound, outbound
}

/// The identity of one edge: who called whom on which port, what was decided, by which rule and why. Bounded
/// at the sidecar: callers are the only open-ended part, and the edge table folds them when it is full.
public struct EdgeKey: Sendable, Hashable {
    public var observer: TelemetryObserver
    /// The caller's SPIFFE ID, or `unauthenticated` when it never proved one, or `(overflow)` for folded edges.
    public var caller: String
    /// The destination service (`ns/name`), or `unknown`.
    public var destination: String
    /// The destination's service port (0: unknown).
    public var port: Int
    public var allowed: Bool
    public var rule: String
    /// The stable reason (`allowed`, a `CloseReason`'s text …).
    public var reason: String
    /// What an audit rule would have decided, when it differs (never enforced); nil otherwise.
    public var shadowAllowed: Bool?
    public var shadowRule: String?

    /// The caller of edges folded because the edge table was full.
    public static let overflowCaller = "(overflow)"
    /// The caller of connections refused before the peer proved an identity.
    public static let unauthenticatedCaller = "unauthenticated"

    public init(observer: TelemetryObserver, caller: String, destination: String, port: Int, allowed: Bool, rule: String,
                reason: String, shadowAllowed: Bool? = nil, shadowRule: String? = nil) {
        self.observer = observer
        self.caller = caller
        self.destination = destination
        self.port = port
        self.allowed = allowed
        self.rule = rule
        self.reason = reason
        self.shadowAllowed = shadowAllowed
        self.shadowRule = shadowRule
    }
}

/// The fixed buckets of the duration histograms in telemetry (upper bounds in microseconds; one more count
/// for everything above the last). Fixed by the API, so counts from every sidecar add up.
public enum TelemetryBuckets {
    /// 0.5 ms … 10 s: TLS handshakes (the sidecar's own `mesh_handshake_seconds` buckets).
    public static let handshakeUs = [500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
                                     1_000_000, 2_500_000, 5_000_000, 10_000_000]
    /// 1 ms … 1 h: connection lifetimes (`mesh_connection_duration_seconds`).
    public static let durationUs = [1_000, 10_000, 100_000, 500_000, 1_000_000, 5_000_000, 10_000_000, 30_000_000,
                                    60_000_000, 300_000_000, 900_000_000, 3_600_000_000]

    /// The bucket of `us` among `bounds` (`bounds.count` for the overflow bucket).
    public static func index(of us: Int, in bounds: [Int]) -> Int {
        var i = 0
        while i < bounds.count, us > bounds[i] { i += 1 }
        return i
    }

    /// The upper bound of the bucket holding quantile `q` (0…1) of `counts` (nil: no samples; the last bound
    /// for the overflow bucket).
    public static func quantile(_ q: Double, counts: [Int], bounds: [Int]) -> Int? {
        let total = counts.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = max(1, Int((q * Double(total)).rounded(.up)))
        var running = 0
        for (i, c) in counts.enumerated() {
            running += c
            if running >= rank { return i < bounds.count ? bounds[i] : bounds[bounds.count - 1] }
        }
        return bounds[bounds.count - 1]
    }
}

/// The counts of one edge over a window: connections, bytes each way, and histograms of handshake time and
/// connection duration (non-cumulative counts per `TelemetryBuckets` bucket).
public struct EdgeCounts: Sendable, Equatable {
    public var connections = 0
    /// Bytes from the caller towards the destination, and back.
    public var bytesToDestination = 0
    public var bytesToCaller = 0
    public var handshake = [Int](repeating: 0, count: TelemetryBuckets.handshakeUs.count + 1)
    public var duration = [Int](repeating: 0, count: TelemetryBuckets.durationUs.count + 1)

    public init() {}

    /// Adds `other` (saturating never needed: Int counts of one sidecar's lifetime).
    public mutating func add(_ other: EdgeCounts) {
        connections += other.connections
        bytesToDestination += other.bytesToDestination
        bytesToCaller += other.bytesToCaller
        for i in handshake.indices { handshake[i] += other.handshake[i] }
        for i in duration.indices { duration[i] += other.duration[i] }
    }

    /// One connection's contribution (handshake time nil when there was no handshake).
    public mutating func record(bytesToDestination toDest: Int, bytesToCaller toCaller: Int, handshakeUs: Int?, durationUs: Int) {
        connections += 1
        bytesToDestination += toDest
        bytesToCaller += toCaller
        if let h = handshakeUs { handshake[TelemetryBuckets.index(of: h, in: TelemetryBuckets.handshakeUs)] += 1 }
        duration[TelemetryBuckets.index(of: durationUs, in: TelemetryBuckets.durationUs)] += 1
    }
}

/// One edge of a report: its key and its counts over the report's window.
public struct TelemetryEdge: Sendable, Equatable {
    public var key: EdgeKey
    public var counts: EdgeCounts

    public init(key: EdgeKey, counts: EdgeCounts) {
        self.key = key
        self.counts = counts
    }

    static let fields: Set<String> = ["observer", "caller", "destination", "port", "verdict", "rule", "reason", "shadowVerdict",
                                      "shadowRule", "connections", "bytesToDestination", "bytesToCaller", "handshakeCounts",
                                      "durationCounts"]

    init(_ node: JSONNode, extra: Set<String> = []) throws(MeshError) {
        let r = try Wire.read { () throws(MeshError) in try node.object(fields: Self.fields.union(extra)) }
        try self.init(reader: r, path: node.path)
    }

    init(reader r: JSONObjectReader, path: JSONPath) throws(MeshError) {
        let observerText = try r.string("observer")
        guard let observer = TelemetryObserver(rawValue: observerText) else {
            throw MeshError(.apiBadValue, "\(path.appending("observer")): expected inbound or outbound, found \(observerText.debugDescription)")
        }
        func verdict(_ text: String, _ member: String) throws(MeshError) -> Bool {
            switch text {
            case "allow": return true
            case "deny": return false
            default: throw MeshError(.apiBadValue, "\(path.appending(member)): expected allow or deny, found \(text.debugDescription)")
            }
        }
        func text(_ member: String, max: Int = 512) throws(MeshError) -> String {
            let t = try r.string(member)
            guard t.utf8.count <= max else { throw MeshError(.apiOutOfRange, "\(path.appending(member)): at most \(max) bytes") }
            return t
        }
        var shadowAllowed: Bool?
        if let node = try Wire.nullable(r, "shadowVerdict") {
            shadowAllowed = try verdict(try Wire.read { () throws(MeshError) in try node.string() }, "shadowVerdict")
        }
        var shadowRule: String?
        if let node = try Wire.nullable(r, "shadowRule") {
            let t = try Wire.read { () throws(MeshError) in try node.string() }
            guard t.utf8.count <= 512 else { throw MeshError(.apiOutOfRange, "\(path.appending("shadowRule")): at most 512 bytes") }
            shadowRule = t
        }
        key = EdgeKey(observer: observer, caller: try text("caller"), destination: try text("destination"),
                      port: try r.int("port", in: 0...65535), allowed: try verdict(try r.string("verdict"), "verdict"),
                      rule: try text("rule"), reason: try text("reason", max: 128), shadowAllowed: shadowAllowed, shadowRule: shadowRule)
        counts = EdgeCounts()
        counts.connections = try r.int("connections", in: 0...Int.max)
        counts.bytesToDestination = try r.int("bytesToDestination", in: 0...Int.max)
        counts.bytesToCaller = try r.int("bytesToCaller", in: 0...Int.max)
        counts.handshake = try Self.histogram(r, "handshakeCounts", count: TelemetryBuckets.handshakeUs.count + 1, path: path)
        counts.duration = try Self.histogram(r, "durationCounts", count: TelemetryBuckets.durationUs.count + 1, path: path)
    }

    private static func histogram(_ r: JSONObjectReader, _ member: String, count: Int, path: JSONPath) throws(MeshError) -> [Int] {
        let nodes = try Wire.read { () throws(MeshError) in try r.required(member).elements() }
        guard nodes.count == count else {
            throw MeshError(.apiBadValue, "\(path.appending(member)): expected \(count) bucket counts, found \(nodes.count)")
        }
        var out: [Int] = []
        for n in nodes { out.append(try Wire.read { () throws(MeshError) in try n.int(in: 0...Int.max) }) }
        return out
    }

    var members: [(String, JSONValue)] {
        [("observer", .string(key.observer.rawValue)), ("caller", .string(key.caller)), ("destination", .string(key.destination)),
         ("port", .int(key.port)), ("verdict", .string(key.allowed ? "allow" : "deny")), ("rule", .string(key.rule)),
         ("reason", .string(key.reason)),
         ("shadowVerdict", key.shadowAllowed.map { .string($0 ? "allow" : "deny") } ?? .null),
         ("shadowRule", key.shadowRule.map { .string($0) } ?? .null),
         ("connections", .int(counts.connections)), ("bytesToDestination", .int(counts.bytesToDestination)),
         ("bytesToCaller", .int(counts.bytesToCaller)), ("handshakeCounts", .array(counts.handshake.map { .int($0) })),
         ("durationCounts", .array(counts.duration.map { .int($0) }))]
    }

    var json: JSONValue { .object(members) }
}
