import MeshCore

/// `POST /v1/telemetry` (sidecar, mTLS): one batch of what a sidecar observed since its previous batch, per
/// edge. The control plane accepts a report only from the identity it names (`source` must be the mTLS peer)
/// and counts each `(source, instance, seq)` once: a retried batch is acknowledged as a duplicate and not
/// counted again. `instance` is drawn at random when the sidecar process starts, so a restarted sidecar begins
/// a new sequence.
public struct TelemetryReport: WireMessage {
    public var source: SPIFFEID
    public var instance: String
    /// 1, 2, 3 … per instance; a batch keeps its number until it is acknowledged.
    public var seq: Int
    /// The slice version in force when the batch was cut (0: static policy or none yet).
    public var policyVersion: Int
    /// The window the batch covers, seconds since the epoch.
    public var windowStart: Int
    public var windowEnd: Int
    public var edges: [TelemetryEdge]
    /// Connections folded into overflow edges in this batch because the edge table was full.
    public var foldedConnections: Int
    /// Batches this instance gave up on since it started (a report the control plane refused as malformed).
    public var droppedBatches: Int

    /// A report holds at most this many edges (a sidecar's table cap is far below it).
    public static let maxEdges = 20_000
    /// 8 MiB: a full report of `maxEdges` fits.
    public static let limits = StrictJSON.Limits(maxBytes: 8 << 20)

    public init(source: SPIFFEID, instance: String, seq: Int, policyVersion: Int, windowStart: Int, windowEnd: Int,
                edges: [TelemetryEdge], foldedConnections: Int = 0, droppedBatches: Int = 0) {
        self.source = source
        self.instance = instance
        self.seq = seq
        self.policyVersion = policyVersion
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.edges = edges
        self.foldedConnections = foldedConnections
        self.droppedBatches = droppedBatches
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["source", "instance", "seq", "policyVersion", "windowStart", "windowEnd", "edges",
                                       "foldedConnections", "droppedBatches"])
        source = try Wire.spiffeID(r.node("source"))
        instance = try r.string("instance")
        guard (1...64).contains(instance.utf8.count),
              instance.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d }) else {
            throw MeshError(.apiBadValue, "instance: expected 1 to 64 of [a-z0-9-], found \(instance.debugDescription)")
        }
        seq = try r.int("seq", in: 1...Int.max)
        policyVersion = try r.int("policyVersion", in: 0...Int.max)
        windowStart = try r.int("windowStart", in: 0...Int.max)
        windowEnd = try r.int("windowEnd", in: windowStart...Int.max)
        let nodes = try Wire.read { () throws(MeshError) in try r.required("edges").elements() }
        guard nodes.count <= Self.maxEdges else {
            throw MeshError(.apiOutOfRange, "edges: at most \(Self.maxEdges) edges per report, found \(nodes.count)")
        }
        var edges: [TelemetryEdge] = []
        edges.reserveCapacity(nodes.count)
        for node in nodes { edges.append(try TelemetryEdge(node)) }
        self.edges = edges
        foldedConnections = try r.int("foldedConnections", in: 0...Int.max)
        droppedBatches = try r.int("droppedBatches", in: 0...Int.max)
    }

    public var json: JSONValue {
        .object([("source", .string(source.description)), ("instance", .string(instance)), ("seq", .int(seq)),
                 ("policyVersion", .int(policyVersion)), ("windowStart", .int(windowStart)), ("windowEnd", .int(windowEnd)),
                 ("edges", .array(edges.map(\.json))), ("foldedConnections", .int(foldedConnections)),
                 ("droppedBatches", .int(droppedBatches))])
    }
}

/// The answer to a report: its sequence number, and whether it had been counted before (a retry).
public struct TelemetryAck: WireMessage {
    public var seq: Int
    public var duplicate: Bool

    public init(seq: Int, duplicate: Bool) {
        self.seq = seq
        self.duplicate = duplicate
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["seq", "duplicate"])
        seq = try r.int("seq", in: 1...Int.max)
        duplicate = try r.bool("duplicate")
    }

    public var json: JSONValue { .object([("seq", .int(seq)), ("duplicate", .bool(duplicate))]) }
}
