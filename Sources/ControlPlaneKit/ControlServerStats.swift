import MeshHTTP
import MeshObservability
import Synchronization

/// The control plane's HTTP server as `/metrics` shows it: refusals by reason, open connections, parked long
/// polls. The API is built before the server exists, so the server attaches a reader when it starts; until
/// then (and in-process tests without a server) every value reads zero, every reason still listed.
public final class ControlServerStats: Sendable {
    /// One reading, taken on the server's loop (where its counts live).
    public struct Reading: Sendable {
        public var refusals: [String: Int] = [:]
        public var connectionsOpen = 0
        public var longPollsParked = 0
        /// Open connections and connections accepted so far, by loop (index = loop).
        public var connectionsPerLoop: [Int] = []
        public var acceptedPerLoop: [Int] = []
        /// TLS handshakes completed, and how many resumed a session.
        public var handshakes = 0
        public var handshakesResumed = 0
    }

    /// Every reason the metric lists, zero included: the HTTP server's and the control plane's own.
    public static let reasons = HTTPServerRefusal.allCases.map(\.rawValue) + [ControlServer.longPollsFull]

    private let reader = Mutex<(@Sendable () -> Reading)?>(nil)

    func attach(_ read: @escaping @Sendable () -> Reading) { reader.withLock { $0 = read } }

    public func read() -> Reading { reader.withLock { $0 }?() ?? Reading() }

    /// `mesh_control_http_refusals_total{reason}`, `mesh_control_connections_open`, `mesh_control_long_polls_parked`,
    /// `mesh_control_loop_connections_open{loop}`, `mesh_control_tls_handshakes_total{resumed}`.
    public func metricFamilies() -> [MetricFamily] {
        let r = read()
        return [
            MetricFamily("mesh_control_http_refusals_total", .counter, help: "Connections and requests the control plane's HTTP server refused or reaped, by reason.",
                         Self.reasons.map { MetricSample(["reason": $0], .int(r.refusals[$0] ?? 0)) }),
            MetricFamily("mesh_control_connections_open", .gauge, help: "Connections open to the control plane's HTTP server.",
                         [MetricSample(.int(r.connectionsOpen))]),
            MetricFamily("mesh_control_long_polls_parked", .gauge, help: "Policy long polls parked, waiting for an answer.",
                         [MetricSample(.int(r.longPollsParked))]),
            MetricFamily("mesh_control_loop_connections_open", .gauge, help: "Connections open to the control plane, by event loop.",
                         r.connectionsPerLoop.enumerated().map { MetricSample(["loop": String($0.offset)], .int($0.element)) }),
            MetricFamily("mesh_control_tls_handshakes_total", .counter, help: "TLS handshakes completed by the control plane, by whether they resumed a session.",
                         [MetricSample(["resumed": "true"], .int(r.handshakesResumed)),
                          MetricSample(["resumed": "false"], .int(r.handshakes - r.handshakesResumed))]),
        ]
    }
}

extension ControlServer {
    /// A reading summed over the loops (any thread: every count read here is atomic or locked).
    func reading() -> ControlServerStats.Reading {
        var r = ControlServerStats.Reading()
        for reason in HTTPServerRefusal.allCases {
            r.refusals[reason.rawValue] = servers.reduce(0) { $0 + $1.refusals[reason] }
        }
        r.refusals[Self.longPollsFull] = longPollsRefused.load(ordering: .relaxed)
        r.connectionsOpen = openConnections
        r.longPollsParked = longPolls.inUse
        r.connectionsPerLoop = servers.map(\.openConnections)
        r.acceptedPerLoop = servers.map(\.accepted)
        for s in servers {
            r.handshakes += s.handshakes.completed
            r.handshakesResumed += s.handshakes.resumed
        }
        return r
    }
}
