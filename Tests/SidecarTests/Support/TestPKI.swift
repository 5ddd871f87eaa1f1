import Foundation
import MeshCore
import MeshTLS
import MeshTestSupport

/// A CA and workload identities minted at test time into a fresh temporary folder (never committed).
final class TestPKI {
    let dir: String
    let trustDomain: TrustDomain
    let authority: TestCA
    var ca: CertificateAuthority { authority.ca }
    let now = Date().timeIntervalSince1970

    init(trustDomain: String = "mesh.local") throws {
        dir = NSTemporaryDirectory() + "mesh-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        self.trustDomain = try TrustDomain(trustDomain)
        authority = try TestCA(trustDomain: self.trustDomain, now: now)
        try Data(ca.certificate.pem()).write(to: URL(fileURLWithPath: bundlePath))
    }

    var bundlePath: String { "\(dir)/ca.crt" }

    func id(_ service: String, ns: String = "shop") -> SPIFFEID {
        try! SPIFFEID.workload("spiffe://\(trustDomain.name)/ns/\(ns)/sa/\(service)")
    }

    /// Writes `<name>.crt` and `<name>.key` for `template` (default: a proper SVID for `service`).
    @discardableResult
    func issue(_ service: String, template: CertificateTemplate? = nil, by issuer: CertificateAuthority? = nil) throws -> (cert: String, key: String) {
        let key = try PrivateKey.generateP256()
        let t = template ?? .svid(id(service), now: now, lifetime: 3600)
        let cert = try (issuer ?? ca).issue(t, for: key)
        let paths = (cert: "\(dir)/\(service).crt", key: "\(dir)/\(service).key")
        try Data(cert.pem()).write(to: URL(fileURLWithPath: paths.cert))
        try Data(key.pem()).write(to: URL(fileURLWithPath: paths.key))
        return paths
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: dir) }
}
