import ControlPlaneKit
import MeshCore
import MeshTLS
import Testing
import MeshTestSupport

/// The CA at rest: created once, keys encrypted, loaded with the passphrase, and leaves signed by the issuing
/// authority (self-made root or imported intermediate). Rotation is in CARotationTests.
@Suite struct CAStoreTests {
    private let now = wholeSecondsNow()

    @Test func loadsWhatInitializeWrote() throws {
        let dir = try TempDir()
        try FileCAStateRepository.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase, now: now)
        let ca = try StoredCA(dataDir: dir.path, passphrase: testPassphrase)
        #expect(ca.trustDomain.name == "mesh.local")
        #expect(ca.all.count == 1)
        #expect(ca.issuing.id == 1)
        #expect(ca.issuing.phase == .issuing)
        #expect(ca.issuing.addedAt == now)
        #expect(ca.issuing.nextAt == nil)
        #expect(ca.issuing.certificate.commonName == "mesh.local root 1")
        #expect(ca.issuing.certificate.uriSANs == ["spiffe://mesh.local"])
        #expect(ca.bundle.map(\.sha256Fingerprint) == [ca.issuing.certificate.sha256Fingerprint])
        #expect(try dir.read("bundle.pem") == ca.bundlePEM)
    }

    @Test func refusesAWrongPassphrase() throws {
        let dir = try TempDir()
        try FileCAStateRepository.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase, now: now)
        expectMeshError("tls.bad-passphrase") { _ = try StoredCA(dataDir: dir.path, passphrase: Array("wrong passphrase".utf8)) }
    }

    @Test func keepsTheKeyEncryptedAndPrivate() throws {
        let dir = try TempDir()
        try FileCAStateRepository.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase, now: now)
        let key = try dir.text("ca/root-1.key")
        #expect(key.hasPrefix("-----BEGIN " + "ENCRYPTED PRIVATE KEY-----"))
        #expect(!key.contains("BEGIN " + "PRIVATE KEY"))
        #expect(!key.contains("BEGIN " + "EC PRIVATE KEY"))
        #expect(try dir.mode("ca/root-1.key") == 0o600)
        #expect(try dir.mode("ca/state.json") == 0o600)
        #expect(try dir.mode("ca") == 0o700)
    }

    @Test func refusesToInitializeTwice() throws {
        let dir = try TempDir()
        try FileCAStateRepository.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase, now: now)
        let before = try dir.read("ca/root-1.crt")
        expectMeshError("ca.exists") {
            try FileCAStateRepository.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase, now: now)
        }
        #expect(try dir.read("ca/root-1.crt") == before, "the first CA is untouched")
    }

    @Test func loadingAnEmptyFolderSaysMissing() throws {
        let dir = try TempDir()
        expectMeshError("store.missing") { _ = try StoredCA(dataDir: dir.path, passphrase: testPassphrase) }
    }

    @Test func removesLeftoverTemporaryFilesWhenLoading() throws {
        let dir = try TempDir()
        try FileCAStateRepository.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase, now: now)
        try dir.write("ca/state.json.tmp-99999", "{\"trunc")
        _ = try StoredCA(dataDir: dir.path, passphrase: testPassphrase)
        #expect(!dir.exists("ca/state.json.tmp-99999"))
    }

    @Test func signsALeafThatChainsToTheIssuingRoot() throws {
        let dir = try TempDir()
        try FileCAStateRepository.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase, now: now)
        let ca = try StoredCA(dataDir: dir.path, passphrase: testPassphrase)
        let key = try PrivateKey.generateP256()
        let id = try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/cart")
        let chain = try ca.sign(.svid(id, now: now, lifetime: 3600), for: CertificateSigningRequest.create(key: key))
        #expect(chain.count == 1, "a self-made root is the anchor: not sent in the chain")
        #expect(chain[0].uriSANs == [id.description])
        #expect(try dir.issuerCommonName(of: chain[0]) == ca.issuing.certificate.commonName)
        #expect(try dir.opensslVerifies(chain: chain, bundle: ca.bundle))
        let identity = try TLSIdentity(chain: chain, key: key, trustBundle: ca.bundle, trustDomain: trustDomain())
        #expect(identity.spiffeID == id)
    }

    @Test func signsForAKeyWeHold() throws {
        let dir = try TempDir()
        try FileCAStateRepository.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase, now: now)
        let ca = try StoredCA(dataDir: dir.path, passphrase: testPassphrase)
        let key = try PrivateKey.generateP256()
        let id = try SPIFFEID.workload("spiffe://mesh.local/ns/mesh-system/sa/mesh-control")
        let chain = try ca.sign(.svid(id, now: now, lifetime: 3600), for: key)
        #expect(try dir.opensslVerifies(chain: chain, bundle: ca.bundle))
    }

    @Test func aLeafFromAnotherCADoesNotVerify() throws {
        let dir = try TempDir()
        try FileCAStateRepository.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase, now: now)
        let ca = try StoredCA(dataDir: dir.path, passphrase: testPassphrase)
        let stranger = try TestCA(trustDomain: trustDomain(), now: now).ca
        let id = try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/cart")
        let leaf = try stranger.issue(.svid(id, now: now, lifetime: 3600), for: PrivateKey.generateP256())
        #expect(try !dir.opensslVerifies(chain: [leaf], bundle: ca.bundle))
    }

    /// An operator's own PKI: root → intermediate; the intermediate issues, the root is the anchor.
    @Test func anImportedIntermediateIssuesAndItsRootIsTheBundle() throws {
        let dir = try TempDir()
        let td = try trustDomain()
        let root = try TestCA(trustDomain: td, commonName: "corp root", now: now).ca
        let interKey = try PrivateKey.generateP256()
        let inter = try root.issue(.ca(trustDomain: td, commonName: "corp mesh intermediate", now: now, lifetime: 86_400 * 30),
                                   for: interKey)
        try FileCAStateRepository.initialize(dataDir: dir.path, trustDomain: td, passphrase: testPassphrase, now: now,
                               imported: (cert: inter, key: interKey, chain: [], anchors: [root.certificate]))
        #expect(try dir.text("ca/root-1.key").hasPrefix("-----BEGIN " + "ENCRYPTED PRIVATE KEY-----"))
        let ca = try StoredCA(dataDir: dir.path, passphrase: testPassphrase)
        #expect(ca.bundle.map(\.sha256Fingerprint) == [root.certificate.sha256Fingerprint])
        #expect(ca.issuing.certificate.sha256Fingerprint == inter.sha256Fingerprint)

        let key = try PrivateKey.generateP256()
        let id = try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/cart")
        let chain = try ca.sign(.svid(id, now: now, lifetime: 3600), for: CertificateSigningRequest.create(key: key))
        #expect(chain.map(\.sha256Fingerprint) == [chain[0].sha256Fingerprint, inter.sha256Fingerprint])
        #expect(try dir.issuerCommonName(of: chain[0]) == "corp mesh intermediate")
        #expect(try dir.opensslVerifies(chain: chain, bundle: ca.bundle))
        #expect(try !dir.opensslVerifies(chain: [chain[0]], bundle: ca.bundle), "the intermediate is needed")
    }

    @Test func anImportedChainOfTwoIntermediatesIsSentWhole() throws {
        let dir = try TempDir()
        let td = try trustDomain()
        let root = try TestCA(trustDomain: td, commonName: "corp root", now: now).ca
        let upperKey = try PrivateKey.generateP256()
        let upper = try root.issue(.ca(trustDomain: td, commonName: "corp upper", now: now, lifetime: 86_400), for: upperKey)
        let lowerKey = try PrivateKey.generateP256()
        let lower = try CertificateAuthority(certificate: upper, key: upperKey)
            .issue(.ca(trustDomain: td, commonName: "corp lower", now: now, lifetime: 86_400), for: lowerKey)
        try FileCAStateRepository.initialize(dataDir: dir.path, trustDomain: td, passphrase: testPassphrase, now: now,
                               imported: (cert: lower, key: lowerKey, chain: [upper], anchors: [root.certificate]))
        let ca = try StoredCA(dataDir: dir.path, passphrase: testPassphrase)
        let id = try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/cart")
        let chain = try ca.sign(.svid(id, now: now, lifetime: 3600), for: CertificateSigningRequest.create(key: PrivateKey.generateP256()))
        #expect(chain.dropFirst().map(\.sha256Fingerprint) == [lower.sha256Fingerprint, upper.sha256Fingerprint])
        #expect(try dir.opensslVerifies(chain: chain, bundle: ca.bundle))
    }
}
