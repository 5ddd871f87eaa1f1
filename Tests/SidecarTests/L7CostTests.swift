import Foundation
import Testing

/// What parsing and deciding every request costs the receiving sidecar: CPU per 1,000 keep-alive requests on an
/// `http` port against the same requests on a `tcp` port (bounded: 2,000 requests each, one connection).
@Suite(.serialized) struct L7CostTests {
    static func cpuPerThousand(_ proto: String, requests: Int = 2000, launcher: [String] = []) throws -> Double {
        let f = try L7Fixture(protocol: proto, launcher: launcher)
        defer { f.stop() }
        let c = try f.connect()
        c.send("GET /warm HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = c.response()
        let before = ProcessCPU.seconds(f.payments.pid) ?? 0
        var ok = 0
        let started = Date()
        for i in 0..<requests where Date().timeIntervalSince(started) < 10 {
            c.send("GET /v1/items/\(i)?q=1 HTTP/1.1\r\nHost: payments\r\nAccept: */*\r\nUser-Agent: bench\r\n\r\n")
            if c.response()?.status == 200 { ok += 1 }
        }
        let used = (ProcessCPU.seconds(f.payments.pid) ?? before) - before
        #expect(ok == requests)
        return used * 1000 / Double(max(ok, 1)) * 1000  // ms per 1k
    }

    @Test func cpuPerThousandKeepAliveRequestsHTTPAgainstTCP() throws {
        let http = try Self.cpuPerThousand("http")
        let tcp = try Self.cpuPerThousand("tcp")
        print("L7 cost: receiving sidecar CPU per 1k keep-alive requests: http \(String(format: "%.1f", http)) ms, tcp \(String(format: "%.1f", tcp)) ms")
    }
}
