import ControlPlaneKit
import Foundation
import MeshAPI
import MeshCore
import Testing

/// The memory bound documented in README.md, measured: resident memory per bucket entry.
@Suite("Telemetry memory")
struct TelemetryMemoryTests {
    typealias F = TelemetryFixture

    static func residentBytes() -> Int {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// 100,000 distinct edges (callers of realistic length) in 3 fine buckets and 1 coarse one: 400,000 entries.
    @Test func bytesPerEntry() {
        var s = TelemetryStore()
        let before = Self.residentBytes()
        var seq = 0
        for bucket in 0..<3 {
            for chunk in 0..<100 {
                seq += 1
                let edges = (0..<1000).map { i in
                    (F.key("spiffe://mesh.local/ns/tenant-\(chunk)/sa/caller-service-\(i)", "shop/api", port: 8080), 1)
                }
                s.ingest(F.report(seq: seq, end: F.t0 + 10 * bucket, edges), now: F.t0 + 10 * bucket)
            }
        }
        let after = Self.residentBytes()
        #expect(s.distinctEdges == 100_000 && s.entries == 400_000)
        let perEntry = (after - before) / s.entries
        print("telemetry memory: \(s.entries) entries, \((after - before) >> 20) MiB resident, \(perEntry) B/entry")
        #expect(perEntry > 50 && perEntry < 1500, "\(perEntry) B/entry")
    }
}
