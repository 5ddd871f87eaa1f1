import Foundation
import Testing
import MeshCore
import MeshTLS
import MeshTestSupport
@testable import SidecarKit

/// Unit: a crash after each step of the key/certificate switch, then what start does (`recover`): always a
/// matching pair, the old one or the new one.
@Suite("IdentityFileSwitch")
struct IdentityFileSwitchTests {
    struct Crash: Error {}

    @Test(arguments: [IdentityFileSwitch.Step.bundle, .pending, .key, .certificate])
    func aCrashAfterAnyStepLeavesAMatchingPair(_ step: IdentityFileSwitch.Step) throws {
        let dir = NSTemporaryDirectory() + "mesh-switch-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ca = try TestCA()
        var files = IdentityFiles(certificate: "\(dir)/svid.crt", key: "\(dir)/svid.key", trustBundle: "\(dir)/bundle.crt",
                                  trustDomain: ca.trustDomain)
        files.bootstrap = nil
        let bundle = ca.certificate.pem()
        let a = try ca.mint("spiffe://mesh.local/ns/shop/sa/payments"), b = try ca.mint("spiffe://mesh.local/ns/shop/sa/payments")
        try IdentityFileSwitch.write(files, keyPEM: a.key.pem(), chainPEM: a.chain[0].pem(), bundlePEM: bundle)
        #expect(throws: Crash.self) {
            try IdentityFileSwitch.write(files, keyPEM: b.key.pem(), chainPEM: b.chain[0].pem(), bundlePEM: bundle,
                                         after: { if $0 == step { throw Crash() } })
        }
        try IdentityFileSwitch.recover(files)
        #expect(IdentityFileSwitch.matches(keyPath: files.key, certificatePath: files.certificate))
        let leaf = try Certificate.parseChain(pem: Array(try Data(contentsOf: URL(fileURLWithPath: files.certificate))))[0]
        let expected = step == .bundle ? a : b  // once both new files are whole, the switch goes forward
        #expect(leaf.serialHex == expected.chain[0].serialHex)
        #expect(!FileManager.default.fileExists(atPath: files.key + ".next"))
        #expect(!FileManager.default.fileExists(atPath: files.certificate + ".next"))
        var st = stat()
        #expect(stat(files.key, &st) == 0 && st.st_mode & 0o777 == 0o600)
    }

    @Test func pendingFilesThatDoNotMatchAreDropped() throws {
        let dir = NSTemporaryDirectory() + "mesh-switch-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ca = try TestCA()
        let files = IdentityFiles(certificate: "\(dir)/svid.crt", key: "\(dir)/svid.key", trustBundle: "\(dir)/bundle.crt",
                                  trustDomain: ca.trustDomain)
        let a = try ca.mint("spiffe://mesh.local/ns/shop/sa/payments"), b = try ca.mint("spiffe://mesh.local/ns/shop/sa/payments")
        try IdentityFileSwitch.write(files, keyPEM: a.key.pem(), chainPEM: a.chain[0].pem(), bundlePEM: ca.certificate.pem())
        try Data(b.chain[0].pem()).write(to: URL(fileURLWithPath: files.certificate + ".next"))  // half a switch: no new key
        #expect(try IdentityFileSwitch.recover(files) == .droppedPending)
        #expect(IdentityFileSwitch.matches(keyPath: files.key, certificatePath: files.certificate))
    }
}
