import Foundation
import Glibc
import Testing

/// Black box: a sidecar started with a low soft open-file limit (a common default of 1024, or less) would
/// refuse connections with EMFILE long before `maxConnections`; it raises its own soft limit at start.
@Suite("File limit at start")
struct FileLimitStartupTests {
    /// The sidecar's soft and hard "Max open files" from /proc/<pid>/limits.
    static func openFileLimits(_ pid: Int32) -> (soft: Int, hard: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) else { return nil }
        let numbers = line.dropFirst("Max open files".count).split(separator: " ").compactMap { Int($0) }
        return numbers.count >= 2 ? (numbers[0], numbers[1]) : nil
    }

    static func start(_ pki: TestPKI, maxConnections: Int) throws -> SidecarProcess {
        try SidecarProcess(name: "payments", config: [
            "identity": ["trustDomain": "mesh.local", "certificate": "payments.crt", "key": "payments.key", "trustBundle": "ca.crt"],
            "limits": ["maxConnections": maxConnections],
            "inbound": [["name": "api", "listen": "127.0.0.1:\(TCP.freePort())", "forwardTo": "127.0.0.1:\(TCP.freePort())",
                         "allow": ["spiffe://mesh.local/ns/shop/sa/frontend"]]],
        ], dir: pki.dir, launcher: ["/usr/bin/prlimit", "--nofile=256:4096"])
    }

    @Test func raisesTheSoftLimitToWhatMaxConnectionsNeeds() throws {
        let pki = try TestPKI()
        defer { pki.cleanup() }
        try pki.issue("payments")
        let sidecar = try Self.start(pki, maxConnections: 1000)
        defer { sidecar.stop() }
        try sidecar.waitReady()
        let limits = Self.openFileLimits(sidecar.pid)
        #expect(limits?.soft == 2256 && limits?.hard == 4096, "limits \(String(describing: limits))")
        let line = sidecar.waitForEvent { $0["event"] as? String == "fd-limit" }
        #expect(line?["soft"] as? Int == 2256 && line?["wanted"] as? Int == 2256 && line?["hard"] as? Int == 4096
                && line?["before"] as? Int == 256, "\(String(describing: line))")
        #expect(!sidecar.logEvents().contains { $0["event"] as? String == "fd-limit-low" })
    }

    @Test func raisesTheSoftLimitToTheHardLimitAndWarnsWhenThatIsTooLow() throws {
        let pki = try TestPKI()
        defer { pki.cleanup() }
        try pki.issue("payments")
        let sidecar = try Self.start(pki, maxConnections: 5000)
        defer { sidecar.stop() }
        try sidecar.waitReady()
        let limits = Self.openFileLimits(sidecar.pid)
        #expect(limits?.soft == 4096 && limits?.hard == 4096, "limits \(String(describing: limits))")
        let line = sidecar.waitForEvent { $0["event"] as? String == "fd-limit" }
        #expect(line?["soft"] as? Int == 4096 && line?["wanted"] as? Int == 10256, "\(String(describing: line))")
        let warning = sidecar.waitForEvent { $0["event"] as? String == "fd-limit-low" }
        #expect(warning?["maxConnections"] as? Int == 5000 && warning?["soft"] as? Int == 4096, "\(String(describing: warning))")
    }
}
