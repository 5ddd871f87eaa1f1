import Foundation
import Glibc
import Testing
import MeshCore
import MeshTLS

/// Black box: a crash between writing the new key and the new certificate never starts a sidecar with a key
/// that does not match its certificate.
@Suite("Key and certificate survive a crash between their writes")
struct IdentityFileCrashTests {
    /// A bootstrapped payments sidecar, stopped; and a second certificate (B) for a fresh key from the same
    /// control plane, as a renewal would get.
    static func stoppedSidecarAndRenewal(_ cp: ControlPlaneFixture) throws -> (SidecarProcess, keyB: [UInt8], chainB: String, serialB: String) {
        let s = try cp.sidecar("shop/payments", inbound: [[
            "name": "api", "listen": "127.0.0.1:\(TCP.freePort())", "forwardTo": "127.0.0.1:1",
            "allow": ["spiffe://mesh.local/ns/shop/sa/frontend"]]])
        try s.waitReady(timeout: 20)
        s.stop()
        let key = try PrivateKey.generateP256()
        let token = try String(contentsOfFile: try cp.tokenFile("shop/payments"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let r = try ControlPlaneTests.requestIdentity(cp, token: token,
                                                      csrPEM: String(decoding: CertificateSigningRequest.create(key: key).pem(), as: UTF8.self))
        guard r.status == 200, let doc = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any],
              let chain = doc["certificateChain"] as? String, let serial = doc["serial"] as? String else {
            throw TestFailure("renewal by hand: \(r.status) \(r.text)")
        }
        return (s, key.pem(), chain, serial)
    }

    static func restart(_ cp: ControlPlaneFixture, _ old: SidecarProcess) throws -> SidecarProcess {
        let s = try SidecarProcess(name: "payments", config: old.config, dir: cp.dir)
        cp.sidecars.append(s)
        return s
    }

    /// The new key was renamed into place, the new certificate was still pending beside the old one: the
    /// switch is finished at start and the sidecar runs with the new, matching pair.
    @Test func aSwitchInterruptedAfterTheKeyIsFinishedAtStart() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        let (old, keyB, chainB, serialB) = try Self.stoppedSidecarAndRenewal(cp)
        try Data(keyB).write(to: URL(fileURLWithPath: "\(cp.dir)/payments/svid.key"))
        try Data(chainB.utf8).write(to: URL(fileURLWithPath: "\(cp.dir)/payments/svid.crt.next"))
        let s = try Self.restart(cp, old)
        try s.waitReady(timeout: 20)
        let serial = (s.adminJSON("/config")?["identity"] as? [String: Any])?["certificateSerial"] as? String
        #expect(serial?.lowercased() == serialB.lowercased())
        #expect(!FileManager.default.fileExists(atPath: "\(cp.dir)/payments/svid.crt.next"))
    }

    /// A key that matches no certificate on disk (no pending switch to finish): the sidecar refuses clearly,
    /// with the reason in its log, and serves nothing.
    @Test func aMismatchedPairWithNothingToFinishIsRefusedClearly() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        let (old, keyB, _, _) = try Self.stoppedSidecarAndRenewal(cp)
        try Data(keyB).write(to: URL(fileURLWithPath: "\(cp.dir)/payments/svid.key"))
        let s = try Self.restart(cp, old)
        defer { kill(s.pid, SIGKILL); s.stop() }
        let seen = s.waitForEvent(timeout: 10) { $0["event"] as? String == "identity-key-mismatch" }
        #expect(seen != nil, "no identity-key-mismatch event; stderr: \(s.stderr())")
        #expect(s.admin("GET", "/ready").status != 200)
    }
}
