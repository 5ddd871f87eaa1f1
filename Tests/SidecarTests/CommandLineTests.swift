import Foundation
import Testing

/// The `mesh-sidecar` command line: help, usage errors and bad configuration exit with documented codes.
@Suite("mesh-sidecar command line")
struct CommandLineTests {
    @Test func helpPrintsUsageAndExitsZero() throws {
        let r = try SidecarProcess.runToExit(["--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("mesh-sidecar run --config FILE"))
    }

    @Test(arguments: [[], ["frobnicate"], ["run"], ["run", "--config"], ["run", "--bogus", "x"]])
    func badUsageExits64(_ args: [String]) throws {
        let r = try SidecarProcess.runToExit(args)
        #expect(r.status == 64, "\(args): \(r.stderr)")
    }

    @Test func missingConfigFileExits66() throws {
        let r = try SidecarProcess.runToExit(["run", "--config", "/nonexistent/mesh.json"])
        #expect(r.status == 66)
        #expect(r.stderr.contains("/nonexistent/mesh.json"))
    }

    /// Every document in mesh-config/invalid/ is refused with exit code 64 and a message naming the problem.
    @Test func invalidExampleConfigsExit64() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("mesh-config/invalid")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }
        #expect(files.count >= 5)
        for f in files {
            let r = try SidecarProcess.runToExit(["check-config", "--config", dir.appendingPathComponent(f).path])
            #expect(r.status == 64, "\(f) → \(r.status): \(r.stderr)")
            let named = ["config.", "json.", "spiffe."].contains { r.stderr.contains($0) }
            #expect(named, "\(f): the error names no code: \(r.stderr)")
        }
    }

    @Test func unreadableIdentityFileExits66AndNamesTheField() throws {
        let pki = try TestPKI()
        defer { pki.cleanup() }
        let cfg = """
        {"identity": {"trustDomain": "mesh.local", "certificate": "missing.crt", "key": "missing.key", "trustBundle": "ca.crt"},
         "inbound": [{"name": "http", "listen": "127.0.0.1:1", "forwardTo": "127.0.0.1:2", "allow": []}]}
        """
        let path = "\(pki.dir)/c.json"
        try cfg.writeReplacing(toFile: path)
        let r = try SidecarProcess.runToExit(["check-config", "--config", path])
        #expect(r.status == 66)
        #expect(r.stderr.contains("identity.certificate"))
    }

    @Test func certificateFromAnotherTrustDomainExits64() throws {
        let pki = try TestPKI(trustDomain: "other.td")
        defer { pki.cleanup() }
        try pki.issue("payments")
        let cfg = """
        {"identity": {"trustDomain": "mesh.local", "certificate": "payments.crt", "key": "payments.key", "trustBundle": "ca.crt"},
         "inbound": [{"name": "http", "listen": "127.0.0.1:1", "forwardTo": "127.0.0.1:2", "allow": []}]}
        """
        let path = "\(pki.dir)/c.json"
        try cfg.writeReplacing(toFile: path)
        let r = try SidecarProcess.runToExit(["check-config", "--config", path])
        #expect(r.status == 64)
        #expect(r.stderr.contains("tls.bad-own-certificate"))
    }
}
