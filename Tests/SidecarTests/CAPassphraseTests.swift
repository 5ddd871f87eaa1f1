import Foundation
import MeshTestSupport
import Testing

/// Black box: `mesh-control init` refuses a CA passphrase shorter than 12 bytes (hardening #11).
@Suite("CA passphrase length")
struct CAPassphraseTests {
    static func initialize(passphrase: String) throws -> (status: Int32, stderr: String) {
        let dir = NSTemporaryDirectory() + "mesh-pass-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try ChildProcess.run("\(SidecarProcess.binDir)/mesh-control", ["init", "--data-dir", dir, "--trust-domain", "mesh.local"],
                                     environment: ["MESH_CA_PASSPHRASE": passphrase])
        return (r.status, r.stderr)
    }

    @Test func initRefusesAPassphraseShorterThan12Bytes() throws {
        let short = try Self.initialize(passphrase: "elevenbytes")
        #expect(short.status == 64, "\(short.stderr)")
        #expect(short.stderr.contains("at least 12 bytes"), "\(short.stderr)")
        let ok = try Self.initialize(passphrase: "twelve-bytes")
        #expect(ok.status == 0, "\(ok.stderr)")
    }
}
