import MeshCore
import MeshTLS
import MeshTestSupport
import Testing

/// Serial numbers (and every other secret) come from a CSPRNG whose failure is checked: without randomness the
/// CA refuses to sign (a serial of zeros, or a predictable one, would let certificates collide).
@Suite struct RandomnessTests {
    static let failing = RandomSource { _ in false }

    @Test func issuingWithoutRandomnessFailsWithAStableCode() throws {
        let ca = try TestCA()
        let key = try PrivateKey.generateP256()
        let t = CertificateTemplate.svid(try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/a"), now: ca.now, lifetime: 3600)
        expectMeshError("tls.random") { _ = try ca.ca.issue(t, for: key, random: Self.failing) }
        let csr = try CertificateSigningRequest.create(key: key)
        expectMeshError("tls.random") { _ = try ca.ca.issue(t, for: csr, random: Self.failing) }
        expectMeshError("tls.random") {
            _ = try CertificateAuthority.selfSignedRoot(trustDomain: TrustDomain("mesh.local"), now: ca.now, random: Self.failing)
        }
    }

    @Test func serialsAreDrawnFromTheSourceAndPositive() throws {
        let ca = try TestCA()
        let key = try PrivateKey.generateP256()
        let t = CertificateTemplate.svid(try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/a"), now: ca.now, lifetime: 3600)
        let ones = RandomSource { b in for i in b.indices { b[i] = 0xff }; return true }
        let cert = try ca.ca.issue(t, for: key, random: ones)
        #expect(cert.serialHex.lowercased() == "7f" + String(repeating: "ff", count: 15))
        let a = try ca.ca.issue(t, for: key), b = try ca.ca.issue(t, for: key)
        #expect(a.serialHex != b.serialHex)
    }

    @Test func systemSourceGivesBytes() throws {
        #expect(try RandomSource.system.bytes(32).count == 32)
        expectMeshError("tls.random") { _ = try Self.failing.bytes(16) }
    }
}
