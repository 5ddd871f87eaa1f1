import MeshCore

/// `GET /v1/graph?since=D&service=ns/name` (operator): every edge seen over the window, summed over the
/// control plane's time buckets, with first and last seen and duration percentiles (upper bounds of the fixed
/// `TelemetryBuckets`).
public struct GraphAnswer: WireMessage {
    /// The window actually covered, seconds since the epoch (bucket-aligned).
    public var from: Int
    public var to: Int
    /// The time-bucket size the answer was summed from (10 s or 60 s).
    public var resolutionSeconds: Int
    public var edges: [GraphEdge]

    public init(from: Int, to: Int, resolutionSeconds: Int, edges: [GraphEdge]) {
        self.from = from
        self.to = to
        self.resolutionSeconds = resolutionSeconds
        self.edges = edges
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["from", "to", "resolutionSeconds", "edges"])
        from = try r.int("from", in: 0...Int.max)
        to = try r.int("to", in: 0...Int.max)
        resolutionSeconds = try r.int("resolutionSeconds", in: 1...Int.max)
        var edges: [GraphEdge] = []
        for node in try Wire.read({ () throws(MeshError) in try r.required("edges").elements() }) { edges.append(try GraphEdge(node)) }
        self.edges = edges
    }

    public var json: JSONValue {
        .object([("from", .int(from)), ("to", .int(to)), ("resolutionSeconds", .int(resolutionSeconds)),
                 ("edges", .array(edges.map(\.json)))])
    }

    /// Answers can be large (100,000 edges).
    public static let limits = StrictJSON.Limits(maxBytes: 128 << 20)
}

/// One edge of the graph: the telemetry edge summed over the window, with when it was first and last seen.
public struct GraphEdge: Sendable, Equatable {
    public var key: EdgeKey
    public var counts: EdgeCounts
    /// Seconds since the epoch (bucket starts: first and last bucket the edge had counts in).
    public var firstSeen: Int
    public var lastSeen: Int

    public init(key: EdgeKey, counts: EdgeCounts, firstSeen: Int, lastSeen: Int) {
        self.key = key
        self.counts = counts
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }

    /// Derived on writing, accepted (and ignored) on reading.
    static let derived: Set<String> = ["handshakeP50Us", "handshakeP99Us", "durationP50Us", "durationP99Us"]

    init(_ node: JSONNode) throws(MeshError) {
        let r = try Wire.read { () throws(MeshError) in
            try node.object(fields: TelemetryEdge.fields.union(Self.derived).union(["firstSeen", "lastSeen"]))
        }
        let edge = try TelemetryEdge(reader: r, path: node.path)
        key = edge.key
        counts = edge.counts
        firstSeen = try r.int("firstSeen", in: 0...Int.max)
        lastSeen = try r.int("lastSeen", in: 0...Int.max)
    }

    public func percentile(_ q: Double, handshake: Bool) -> Int? {
        handshake ? TelemetryBuckets.quantile(q, counts: counts.handshake, bounds: TelemetryBuckets.handshakeUs)
                  : TelemetryBuckets.quantile(q, counts: counts.duration, bounds: TelemetryBuckets.durationUs)
    }

    var json: JSONValue {
        func opt(_ v: Int?) -> JSONValue { v.map { .int($0) } ?? .null }
        return .object(TelemetryEdge(key: key, counts: counts).members + [
            ("firstSeen", .int(firstSeen)), ("lastSeen", .int(lastSeen)),
            ("handshakeP50Us", opt(percentile(0.5, handshake: true))), ("handshakeP99Us", opt(percentile(0.99, handshake: true))),
            ("durationP50Us", opt(percentile(0.5, handshake: false))), ("durationP99Us", opt(percentile(0.99, handshake: false))),
        ])
    }
}

/// `GET /v1/telemetry/sidecars` (operator): per reporting sidecar instance, its last report and totals.
public struct TelemetrySidecarList: WireMessage {
    public struct Row: Sendable, Equatable {
        public var identity: String
        public var instance: String
        public var lastSeq: Int
        /// Seconds since the epoch the last report was received, and how long ago that is.
        public var lastReport: Int
        public var secondsAgo: Int
        public var policyVersion: Int
        /// Reports counted, and retries acknowledged as duplicates (not counted).
        public var reports: Int
        public var duplicates: Int
        /// Edges in the last report.
        public var edges: Int
        /// Totals reported by the sidecar: connections folded into overflow edges, batches it dropped.
        public var foldedConnections: Int
        public var droppedBatches: Int

        public init(identity: String, instance: String, lastSeq: Int, lastReport: Int, secondsAgo: Int, policyVersion: Int,
                    reports: Int, duplicates: Int, edges: Int, foldedConnections: Int, droppedBatches: Int) {
            self.identity = identity
            self.instance = instance
            self.lastSeq = lastSeq
            self.lastReport = lastReport
            self.secondsAgo = secondsAgo
            self.policyVersion = policyVersion
            self.reports = reports
            self.duplicates = duplicates
            self.edges = edges
            self.foldedConnections = foldedConnections
            self.droppedBatches = droppedBatches
        }

        static let names = ["identity", "instance", "lastSeq", "lastReport", "secondsAgo", "policyVersion", "reports",
                            "duplicates", "edges", "foldedConnections", "droppedBatches"]

        init(_ node: JSONNode) throws(MeshError) {
            let r = try Wire.read { () throws(MeshError) in try node.object(fields: Set(Self.names)) }
            identity = try r.string("identity")
            instance = try r.string("instance")
            lastSeq = try r.int("lastSeq", in: 0...Int.max)
            lastReport = try r.int("lastReport", in: 0...Int.max)
            secondsAgo = try r.int("secondsAgo")
            policyVersion = try r.int("policyVersion", in: 0...Int.max)
            reports = try r.int("reports", in: 0...Int.max)
            duplicates = try r.int("duplicates", in: 0...Int.max)
            edges = try r.int("edges", in: 0...Int.max)
            foldedConnections = try r.int("foldedConnections", in: 0...Int.max)
            droppedBatches = try r.int("droppedBatches", in: 0...Int.max)
        }

        var json: JSONValue {
            .object([("identity", .string(identity)), ("instance", .string(instance)), ("lastSeq", .int(lastSeq)),
                     ("lastReport", .int(lastReport)), ("secondsAgo", .int(secondsAgo)), ("policyVersion", .int(policyVersion)),
                     ("reports", .int(reports)), ("duplicates", .int(duplicates)), ("edges", .int(edges)),
                     ("foldedConnections", .int(foldedConnections)), ("droppedBatches", .int(droppedBatches))])
        }
    }

    public var sidecars: [Row]

    public init(sidecars: [Row]) { self.sidecars = sidecars }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["sidecars"])
        var rows: [Row] = []
        for node in try Wire.read({ () throws(MeshError) in try r.required("sidecars").elements() }) { rows.append(try Row(node)) }
        sidecars = rows
    }

    public var json: JSONValue { .object([("sidecars", .array(sidecars.map(\.json)))]) }
}
