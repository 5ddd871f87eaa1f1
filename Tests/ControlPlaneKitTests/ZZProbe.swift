import ControlPlaneKit
import MeshCore
import MeshTLS
import Testing

@Suite struct ZZProbe {
    @Test func probeInfinity() throws {
        let v = try? ControlCommand.duration("infs", min: 10)
        Issue.record("infs -> \(String(describing: v)); 1e30s -> \(String(describing: try? ControlCommand.duration("1e30s", min: 10)))")
    }
    @Test func probeTokenBurn() throws {
        let dir = try TempDir()
        let clock = TestClock(wholeSecondsNow())
        _ = try ControlPlane.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase, now: clock.wallSeconds(), imported: nil)
        var s = ControlSettings(); s.issuesPerMinute = 1
        let cp = try ControlPlane(dataDir: dir.path, passphrase: testPassphrase, settings: s, clock: clock)
        let id = try SPIFFEID.workload("spiffe://mesh.local/ns/a/sa/b")
        let csr = try CertificateSigningRequest.create(key: PrivateKey.generateP256()).pem()
        _ = try cp.issue(csrPEM: csr, token: nil, peer: id)
        let t = try cp.createToken(for: id, ttl: 600, actor: "op")
        do { _ = try cp.issue(csrPEM: csr, token: t.secret, peer: nil) } catch { Issue.record("first: \(error)") }
        clock.advance(61)
        do { _ = try cp.issue(csrPEM: csr, token: t.secret, peer: nil) } catch { Issue.record("after wait: \(error)") }
    }
}
