import Foundation
import Glibc
import Testing
import MeshCore
import MeshTLS
import MeshTestSupport

/// Black box: bootstrap by fingerprint (`identity.bootstrap.trustAnchorSHA256`) against a control plane in the
/// path, and against the real one.
@Suite("Bootstrap trust pinned by fingerprint")
struct BootstrapPinTests {
    static func pinnedConfig(dir: String, port: UInt16, pin: String, token: String) throws -> [String: Any] {
        try FileManager.default.createDirectory(atPath: "\(dir)/payments", withIntermediateDirectories: true)
        return [
            "identity": ["trustDomain": "mesh.local", "certificate": "payments/svid.crt", "key": "payments/svid.key",
                         "trustBundle": "payments/bundle.crt",
                         "bootstrap": ["controlPlane": "127.0.0.1:\(port)", "tokenFile": token, "trustAnchorSHA256": pin]],
            "loops": 1,
            "inbound": [["name": "api", "listen": "127.0.0.1:\(TCP.freePort())", "forwardTo": "127.0.0.1:1",
                         "allow": ["spiffe://mesh.local/ns/shop/sa/frontend"]]],
        ]
    }

    /// A server in the path answers `/v1/bundle` with the real root plus its own and presents a control-plane
    /// certificate from its own root: the join token must never reach it, and its root must never be trusted.
    @Test func aControlPlaneInThePathNeverGetsTheToken() throws {
        let real = try TestCA(commonName: "real root")
        let attacker = try TestCA(commonName: "attacker root")
        let fake = try FakeControlPlane(attacker: attacker, offered: [real.certificate, attacker.certificate])
        defer { fake.stop() }
        let dir = NSTemporaryDirectory() + "mesh-pin-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "secret-join-token\n".writeReplacing(toFile: "\(dir)/join.token")
        let cfg = try Self.pinnedConfig(dir: dir, port: fake.port, pin: real.certificate.sha256Fingerprint, token: "\(dir)/join.token")
        let sidecar = try SidecarProcess(name: "payments", config: cfg, dir: dir)
        // SIGKILL: a sidecar still bootstrapping may have inherited a blocked SIGTERM from the test runner.
        defer { kill(sidecar.pid, SIGKILL); sidecar.stop() }
        // Wait until the sidecar has fetched the bundle and tried (and failed) to call with the token.
        let tried = sidecar.waitForEvent(timeout: 8) { ($0["event"] as? String)?.hasPrefix("bootstrap-") == true }
        #expect(fake.bundleCalls.load(ordering: .relaxed) >= 1)
        #expect(fake.tokens.withLock { $0 }.isEmpty, "the join token went to a server that never proved the pinned root")
        let bundle = (try? String(contentsOfFile: "\(dir)/payments/bundle.crt", encoding: .utf8)) ?? ""
        #expect(!bundle.contains(String(decoding: attacker.certificate.pem(), as: UTF8.self)), "the attacker's root is trusted")
        #expect(sidecar.admin("GET", "/ready").status != 200)
        #expect(tried?["event"] as? String == "bootstrap-retry")
        #expect((tried?["error"] as? String)?.contains("bootstrap.") == true, "the refusal names why: \(tried ?? [:])")
    }

    /// The pin set to the real control plane's root still bootstraps, and the bundle it keeps holds that root.
    @Test func thePinnedRealControlPlaneStillBootstraps() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        let roots = try Certificate.parseChain(pem: Array(try Data(contentsOf: URL(fileURLWithPath: "\(cp.dataDir)/bundle.pem"))), maxCount: 64)
        let pin = roots[0].sha256Fingerprint
        let cfg = try Self.pinnedConfig(dir: cp.dir, port: cp.port, pin: pin, token: try cp.tokenFile("shop/payments"))
        let sidecar = try SidecarProcess(name: "payments", config: cfg, dir: cp.dir)
        cp.sidecars.append(sidecar)
        try sidecar.waitReady(timeout: 20)
        let kept = try Certificate.parseChain(pem: Array(try Data(contentsOf: URL(fileURLWithPath: "\(cp.dir)/payments/bundle.crt"))), maxCount: 64)
        #expect(kept.map(\.sha256Fingerprint).contains(pin))
    }
}
