import ControlPlaneKit
import MeshCore
import MeshNet
import MeshTLS
import Testing
import MeshTestSupport

/// The control plane's rules with a test clock: admin credential, join tokens, issuance (the CA decides the
/// identity), renewal, rate limits, and the audit record of each.
@Suite struct ControlPlaneTests {
    private let t0 = wholeSecondsNow()
    private let cart = try! SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/cart")

    private func settings(issuesPerMinute: Int = 30) -> ControlSettings {
        var s = ControlSettings()
        s.certTTL = 3600
        s.rotationOverlap = 600
        s.issuesPerMinute = issuesPerMinute
        return s
    }

    /// A freshly initialized control plane in `dir`, on `clock`; returns it with the admin secret.
    private func controlPlane(_ dir: TempDir, _ clock: TestClock, _ settings: ControlSettings) throws -> (ControlPlane, String) {
        let secret = try ControlPlane.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase,
                                                 now: clock.wallSeconds(), imported: nil)
        return (try ControlPlane(dataDir: dir.path, passphrase: testPassphrase, settings: settings, clock: clock), secret)
    }

    /// A renewal with a certificate for `id` that is valid throughout the test.
    private func renewing(_ id: SPIFFEID) -> ControlPlane.Credential {
        .certificate(id, notBefore: t0, notAfter: t0 + 100_000)
    }

    private func plainCSR() throws -> [UInt8] {
        try CertificateSigningRequest.create(key: PrivateKey.generateP256(), commonName: "cart").pem()
    }

    private func actions(_ cp: ControlPlane) throws -> [String] {
        try cp.audit.records().compactMap { $0["action"]?.stringValue }
    }

    @Test func initializeWritesThePrivateAdminCredentialAndItsHash() throws {
        let dir = try TempDir()
        let (cp, secret) = try controlPlane(dir, TestClock(t0), settings())
        #expect(secret.hasPrefix("mat_"))
        #expect(try dir.text("admin.token") == secret + "\n")
        #expect(try dir.text("admin.token.sha256") == SHA256.hex(Array(secret.utf8)) + "\n")
        #expect(try dir.mode("admin.token") == 0o600)
        #expect(try dir.mode("admin.token.sha256") == 0o600)
        #expect(try actions(cp) == ["ca.init"])
        #expect(try cp.audit.records()[0]["root"]?.stringValue == cp.ca.issuing.certificate.sha256Fingerprint)
    }

    @Test func isAdminOnlyForTheExactSecret() throws {
        let dir = try TempDir()
        let (cp, secret) = try controlPlane(dir, TestClock(t0), settings())
        #expect(cp.isAdmin(secret))
        for wrong in [nil, "", secret + "x", String(secret.dropLast()), secret + "\n", " " + secret, secret.uppercased(),
                      SHA256.hex(Array(secret.utf8))] as [String?] {
            #expect(!cp.isAdmin(wrong), "\(wrong ?? "nil")")
        }
    }

    @Test func refusesToInitializeTwice() throws {
        let dir = try TempDir()
        let (_, secret) = try controlPlane(dir, TestClock(t0), settings())
        expectMeshError("ca.exists") {
            _ = try ControlPlane.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase, now: t0, imported: nil)
        }
        #expect(try dir.text("admin.token") == secret + "\n", "the admin credential is not replaced")
    }

    @Test func issuesExactlyTheTokensIdentityWhateverTheCSRAsksFor() throws {
        let dir = try TempDir()
        let (cp, _) = try controlPlane(dir, TestClock(t0), settings())
        let token = try cp.createToken(for: cart, ttl: 600, actor: "operator")
        let admin = "spiffe://mesh.local/ns/shop/sa/admin"
        let csr = try dir.csrAsking(for: admin)
        let issued = try cp.issue(csrPEM: csr, credential: .joinToken(token.secret))
        #expect(issued.identity == cart)
        #expect(issued.chain[0].uriSANs == [cart.description])
        #expect(issued.chain[0].commonName.isEmpty, "nothing of the CSR's subject is copied")
        #expect(issued.bundle.map(\.sha256Fingerprint) == cp.ca.bundle.map(\.sha256Fingerprint))
        #expect(try dir.opensslVerifies(chain: issued.chain, bundle: issued.bundle))

        let records = try cp.audit.records()
        #expect(records.compactMap { $0["action"]?.stringValue } == ["ca.init", "token.create", "certificate.issue"])
        #expect(records[1]["identity"]?.stringValue == cart.description)
        #expect(records[1]["actor"]?.stringValue == "operator")
        let issue = records[2]
        #expect(issue["identity"]?.stringValue == cart.description)
        #expect(issue["via"]?.stringValue == "token")
        #expect(issue["serial"]?.stringValue == issued.chain[0].serialHex)
        #expect(issue["csrAskedFor"] == .array([.string(admin)]))
        #expect(!(try dir.text("audit.log")).contains(token.secret), "the secret is not logged")
    }

    @Test func aTokenIssuesOnlyOnce() throws {
        let dir = try TempDir()
        let (cp, _) = try controlPlane(dir, TestClock(t0), settings())
        let token = try cp.createToken(for: cart, ttl: 600, actor: "operator")
        _ = try cp.issue(csrPEM: plainCSR(), credential: .joinToken(token.secret))
        expectMeshError("token.used") { _ = try cp.issue(csrPEM: plainCSR(), credential: .joinToken(token.secret)) }
    }

    @Test func anExpiredTokenIssuesNothing() throws {
        let dir = try TempDir()
        let clock = TestClock(t0)
        let (cp, _) = try controlPlane(dir, clock, settings())
        let token = try cp.createToken(for: cart, ttl: 60, actor: "operator")
        clock.advance(60)
        expectMeshError("token.expired") { _ = try cp.issue(csrPEM: plainCSR(), credential: .joinToken(token.secret)) }
        #expect(try !actions(cp).contains("certificate.issue"))
    }

    @Test func refusesATokenForAnotherTrustDomain() throws {
        let dir = try TempDir()
        let (cp, _) = try controlPlane(dir, TestClock(t0), settings())
        let foreign = try SPIFFEID.workload("spiffe://other.example/ns/shop/sa/cart")
        expectMeshError("token.foreign-trust-domain") { _ = try cp.createToken(for: foreign, ttl: 60, actor: "operator") }
    }

    @Test func renewalIssuesForThePresentedIdentity() throws {
        let dir = try TempDir()
        let (cp, _) = try controlPlane(dir, TestClock(t0), settings())
        let issued = try cp.issue(csrPEM: plainCSR(), credential: renewing(cart))
        #expect(issued.identity == cart)
        #expect(issued.chain[0].uriSANs == [cart.description])
        let last = try cp.audit.records().last
        #expect(last?["via"]?.stringValue == "renewal")
        #expect(last?["actor"]?.stringValue == cart.description)
        #expect(last?["csrAskedFor"] == .array([]))
    }

    @Test func refusesIssuingWithoutTokenOrCertificate() throws {
        let dir = try TempDir()
        let (cp, _) = try controlPlane(dir, TestClock(t0), settings())
        expectMeshError("issue.unauthenticated") { _ = try cp.issue(csrPEM: plainCSR(), credential: .none) }
        #expect(try actions(cp) == ["ca.init"])
    }

    @Test func refusesACSRThatIsNoCSR() throws {
        let dir = try TempDir()
        let (cp, _) = try controlPlane(dir, TestClock(t0), settings())
        let token = try cp.createToken(for: cart, ttl: 600, actor: "operator")
        expectMeshError("tls.bad-csr") { _ = try cp.issue(csrPEM: Array("garbage".utf8), credential: .joinToken(token.secret)) }
        // The CSR is read before the token is spent.
        #expect(try cp.issue(csrPEM: plainCSR(), credential: .joinToken(token.secret)).identity == cart)
    }

    @Test func limitsIssuesPerIdentityPerMinute() throws {
        let dir = try TempDir()
        let clock = TestClock(t0)
        let (cp, _) = try controlPlane(dir, clock, settings(issuesPerMinute: 2))
        let other = try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/other")
        _ = try cp.issue(csrPEM: plainCSR(), credential: renewing(cart))
        clock.advance(30)
        _ = try cp.issue(csrPEM: plainCSR(), credential: renewing(cart))
        clock.advance(29)
        expectMeshError("issue.rate-limited") { _ = try cp.issue(csrPEM: plainCSR(), credential: renewing(cart)) }
        #expect(try cp.issue(csrPEM: plainCSR(), credential: renewing(other)).identity == other, "the limit is per identity")
        clock.advance(2)  // 61 s after the first: one slot is free again
        _ = try cp.issue(csrPEM: plainCSR(), credential: renewing(cart))
        expectMeshError("issue.rate-limited") { _ = try cp.issue(csrPEM: plainCSR(), credential: renewing(cart)) }
        clock.advance(61)
        _ = try cp.issue(csrPEM: plainCSR(), credential: renewing(cart))
        #expect(try actions(cp).filter { $0 == "certificate.issue" }.count == 5)
    }

    /// The rate limit is checked before the token is spent: a refused join can be retried with the same token.
    @Test func aRateLimitedJoinDoesNotSpendTheToken() throws {
        let dir = try TempDir()
        let clock = TestClock(t0)
        let (cp, _) = try controlPlane(dir, clock, settings(issuesPerMinute: 1))
        _ = try cp.issue(csrPEM: plainCSR(), credential: renewing(cart))
        let token = try cp.createToken(for: cart, ttl: 600, actor: "operator")
        expectMeshError("issue.rate-limited") { _ = try cp.issue(csrPEM: plainCSR(), credential: .joinToken(token.secret)) }
        clock.advance(61)
        let issued = try cp.issue(csrPEM: plainCSR(), credential: .joinToken(token.secret))
        #expect(issued.identity == cart)
    }

    @Test func certificatesLiveTheConfiguredTTL() throws {
        let dir = try TempDir()
        let clock = TestClock(t0)
        let (cp, _) = try controlPlane(dir, clock, settings())
        clock.advance(1234)
        let leaf = try cp.issue(csrPEM: plainCSR(), credential: renewing(cart)).chain[0]
        let now = clock.wallSeconds()
        #expect(abs(leaf.notAfter - now - 3600) <= 1)
        #expect(leaf.notBefore <= now)
        #expect(try cp.audit.records().last?["notAfter"]?.intValue == Int(leaf.notAfter))
    }

    @Test func rotateAndTickMoveTheScheduleAndAreAudited() throws {
        let dir = try TempDir()
        let clock = TestClock(t0)
        let (cp, _) = try controlPlane(dir, clock, settings())
        let root = try cp.rotate(actor: "operator")
        #expect(root.id == 2)
        #expect(root.nextAt == t0 + 600, "the overlap is rotationOverlap")
        expectMeshError("ca.rotation-in-progress") { _ = try cp.rotate(actor: "operator") }
        let rotate = try cp.audit.records().last
        #expect(rotate?["action"]?.stringValue == "ca.rotate")
        #expect(rotate?["newRoot"]?.intValue == 2)
        #expect(rotate?["issuesAt"]?.intValue == Int(t0 + 600))

        clock.advance(599)
        #expect(try cp.tick() == false)
        #expect(try actions(cp).last == "ca.rotate", "no change, no record")

        clock.advance(1)
        #expect(try cp.tick() == true)
        #expect(cp.ca.issuing.id == 2)
        #expect(try actions(cp).suffix(2) == ["ca.schedule", "ca.schedule"])
        let renewed = try cp.issue(csrPEM: plainCSR(), credential: renewing(cart))
        #expect(try dir.issuerCommonName(of: renewed.chain[0]) == "mesh.local root 2")
        #expect(renewed.bundle.count == 2)

        clock.advance(3600)  // certTTL later the old root retires
        #expect(try cp.tick() == false)
        #expect(cp.ca.all.map(\.phase) == [.retired, .issuing])
        #expect(cp.ca.bundle.count == 1)
        let last = try cp.audit.records().last
        #expect(last?["action"]?.stringValue == "ca.schedule")
        #expect(last?["change"]?.stringValue == "root 1 retired (out of the bundle)")
        #expect(try AuditLog.verify(dir.read("audit.log")).count == cp.audit.count)
    }

    @Test func reopeningKeepsTokensAuditAndCA() throws {
        let dir = try TempDir()
        let clock = TestClock(t0)
        let (cp, secret) = try controlPlane(dir, clock, settings())
        let token = try cp.createToken(for: cart, ttl: 600, actor: "operator")
        _ = try cp.issue(csrPEM: plainCSR(), credential: .joinToken(token.secret))
        _ = try cp.rotate(actor: "operator")
        let again = try ControlPlane(dataDir: dir.path, passphrase: testPassphrase, settings: settings(), clock: clock)
        #expect(again.isAdmin(secret))
        expectMeshError("token.used") { _ = try again.issue(csrPEM: plainCSR(), credential: .joinToken(token.secret)) }
        #expect(again.audit.count == 4)
        #expect(again.ca.all.map(\.phase) == [.issuing, .staged])
    }
}
