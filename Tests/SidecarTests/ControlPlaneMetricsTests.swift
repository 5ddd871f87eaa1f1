import Foundation
import Glibc
import Testing
import MeshCore

/// Black box: the control plane's HTTP refusals and connection gauges on its operator `GET /metrics`.
@Suite("Control plane metrics")
struct ControlPlaneMetricsTests {
    static let reasons = ["max-connections", "accept-emfile", "handshake-timeout", "no-request", "request-timeout",
                          "peer-gone", "long-polls-full"]

    /// `meshctl metrics` (the admin token) as series → value; the reading connection itself is open meanwhile.
    static func metrics(_ cp: ControlPlaneFixture) throws -> [String: Int] {
        let r = try cp.meshctl(["metrics"])
        var out: [String: Int] = [:]
        for line in r.stdout.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let v = Int(parts[1]) { out[String(parts[0])] = v }
        }
        return out
    }

    static func refused(_ reason: String) -> String { "mesh_control_http_refusals_total{reason=\"\(reason)\"}" }

    /// Reads until `ok` holds (at most 5 s): closes and resets reach the server a moment after the client acts.
    static func metrics(_ cp: ControlPlaneFixture, until ok: ([String: Int]) -> Bool) throws -> [String: Int] {
        let deadline = Date().addingTimeInterval(5)
        var m = try metrics(cp)
        while !ok(m) && Date() < deadline {
            usleep(100_000)
            m = try metrics(cp)
        }
        return m
    }

    /// Three kinds of refusal (a poll over its budget, a parked poll reset, a connection over the limit) read back
    /// as exact counters, every reason listed (zero included), and the two gauges following the connections.
    @Test func refusalsAndConnectionGaugesAreExported() throws {
        let cp = try ControlPlaneFixture(extraArgs: ["--max-long-polls", "1", "--max-connections", "6"])
        defer { cp.stop() }
        let ctx = try ControlPlaneLoadTests.workloadClient(cp, "shop/poller")
        let open = "mesh_control_connections_open", parked = "mesh_control_long_polls_parked"

        let m0 = try Self.metrics(cp) { $0[open] == 1 }
        for reason in Self.reasons { #expect(m0[Self.refused(reason)] == 0, "\(reason): \(m0)") }
        #expect(m0[open] == 1 && m0[parked] == 0, "\(m0)")

        let poll = "GET /v1/slice?version=0 HTTP/1.1\r\nHost: cp\r\n\r\n"
        let first = try TLSTestConnection(port: cp.port, context: ctx, send: poll)
        let second = try BlockingTLSClient.connect(port: cp.port, context: ctx, send: Array(poll.utf8), timeout: 2)
        #expect(String(decoding: second.received, as: UTF8.self).hasPrefix("HTTP/1.1 503 "))
        let m1 = try Self.metrics(cp) { $0[parked] == 1 && $0[open] == 2 }
        #expect(m1[Self.refused("long-polls-full")] == 1, "\(m1)")
        #expect(m1[parked] == 1 && m1[open] == 2, "the parked poll and the reader: \(m1)")

        first.reset()
        // The reset poll's connection closes at once; its slot is held until its wait ends (documented).
        let m2 = try Self.metrics(cp) { $0[Self.refused("peer-gone")] == 1 && $0[open] == 1 }
        #expect(m2[Self.refused("peer-gone")] == 1 && m2[open] == 1, "\(m2)")

        var flood: [Int32] = []
        for _ in 0..<7 { flood.append(try TCP.connect(port: cp.port)) }
        usleep(300_000)
        for fd in flood { close(fd) }
        usleep(500_000)
        let m3 = try Self.metrics(cp) { $0[open] == 1 }
        #expect(m3[Self.refused("max-connections")] == 1, "six accepted, the seventh refused: \(m3)")
        #expect(m3[Self.refused("long-polls-full")] == 1 && m3[Self.refused("peer-gone")] == 1, "\(m3)")
        for reason in ["accept-emfile", "handshake-timeout", "no-request", "request-timeout"] {
            #expect(m3[Self.refused(reason)] == 0, "\(reason): \(m3)")
        }
        #expect(m3[open] == 1, "\(m3)")
    }
}
