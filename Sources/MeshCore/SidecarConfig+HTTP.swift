/// The request engine of inbound `http` ports: caps on what a calling sidecar may send in one request and how long
/// it may take. Every field has a default (documented in `mesh-config/README.md`); the engine's own
/// `InboundHTTPLimits` is built from these.
public struct HTTPSettings: Sendable, Equatable {
    /// Request line and header fields together; 431 beyond. Default 32 KiB.
    public var maxHeaderBytes: Int = 32_768
    /// Header lines per request; 431 beyond. Default 100.
    public var maxHeaderCount: Int = 100
    /// One request body; 413 beyond. Default 64 MiB.
    public var maxRequestBodyBytes: Int = 64 * 1_048_576
    /// Pipelined request bytes held while an earlier request is with the app. Default 64 KiB.
    public var maxReadAheadBytes: Int = 65_536
    /// First byte of a request head to its end; 408 beyond. Default 10 s.
    public var headTimeoutMs: Int = 10_000
    /// Draining the peer's unread bytes after a refusal that closes. Default 1 s.
    public var lingerMs: Int = 1_000
    public init() {}
}

extension SidecarConfig {
    /// `"http": {...}`: every field optional.
    static func parseHTTP(_ node: JSONNode) throws(MeshError) -> HTTPSettings {
        let r = try node.object(fields: ["maxHeaderBytes", "maxHeaderCount", "maxRequestBodyBytes", "maxReadAheadBytes",
                                         "headTimeoutMs", "lingerMs"])
        var h = HTTPSettings()
        func read(_ key: String, _ range: ClosedRange<Int>, _ field: WritableKeyPath<HTTPSettings, Int>) throws(MeshError) {
            if let node = r.optional(key) { h[keyPath: field] = try node.int(in: range) }
        }
        try read("maxHeaderBytes", 1_024...1_048_576, \.maxHeaderBytes)
        try read("maxHeaderCount", 1...1_000, \.maxHeaderCount)
        try read("maxRequestBodyBytes", 0...(1 << 40), \.maxRequestBodyBytes)
        try read("maxReadAheadBytes", 4_096...16_777_216, \.maxReadAheadBytes)
        try read("headTimeoutMs", 100...600_000, \.headTimeoutMs)
        try read("lingerMs", 0...60_000, \.lingerMs)
        return h
    }
}
