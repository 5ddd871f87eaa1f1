@testable import MeshTLS
import MeshCore
import Testing
import MeshTestSupport

/// Private keys at rest under a passphrase: PKCS#8 with AES-256-CBC, byte-exact passphrases, and errors that
/// tell a wrong passphrase from a file that is no key.
@Suite struct EncryptedKeyTests {
    private let passphrase = Array("correct horse battery staple".utf8)

    @Test func encryptedKeyRoundTrips() throws {
        let key = try PrivateKey.generateP256()
        let encrypted = try key.encryptedPEM(passphrase: passphrase)
        let text = String(decoding: encrypted, as: UTF8.self)
        #expect(text.hasPrefix("-----BEGIN " + "ENCRYPTED PRIVATE KEY-----"))
        #expect(!text.contains("BEGIN " + "PRIVATE KEY"))
        let again = try PrivateKey(pem: encrypted, passphrase: passphrase)
        #expect(again.pem() == key.pem())
        #expect(again.publicKeySHA256 == key.publicKeySHA256)
        // A fresh salt and IV each time.
        #expect(try key.encryptedPEM(passphrase: passphrase) != encrypted)
    }

    @Test(arguments: [
        ("another passphrase", Array("correct horse battery stapler".utf8)),
        ("a prefix", Array("correct horse".utf8)),
        ("empty", []),
    ] as [(String, [UInt8])])
    func refusesWrongPassphrase(_ name: String, wrong: [UInt8]) throws {
        let encrypted = try PrivateKey.generateP256().encryptedPEM(passphrase: passphrase)
        expectMeshError("tls.bad-passphrase") { _ = try PrivateKey(pem: encrypted, passphrase: wrong) }
    }

    /// Any byte may be in a passphrase, NUL included: it is not cut at the first zero.
    @Test func passphraseIsUsedByteForByte() throws {
        let odd: [UInt8] = [0x70, 0x00, 0x71, 0xff, 0xc3, 0xa9]
        let key = try PrivateKey.generateP256()
        let encrypted = try key.encryptedPEM(passphrase: odd)
        #expect(try PrivateKey(pem: encrypted, passphrase: odd).pem() == key.pem())
        expectMeshError("tls.bad-passphrase") { _ = try PrivateKey(pem: encrypted, passphrase: [0x70]) }
    }

    @Test func refusesToEncryptUnderAnEmptyPassphrase() throws {
        expectMeshError("tls.bad-passphrase") { _ = try PrivateKey.generateP256().encryptedPEM(passphrase: []) }
    }

    @Test func loadsAPlainKeyWhateverThePassphrase() throws {
        let key = try PrivateKey.generateP256()
        #expect(try PrivateKey(pem: key.pem(), passphrase: passphrase).pem() == key.pem())
        #expect(try PrivateKey(pem: key.pem(), passphrase: []).pem() == key.pem())
    }

    /// The passphrase-less loader never prompts: an encrypted key is simply not a key to it.
    @Test func plainLoaderRefusesEncryptedKey() throws {
        let encrypted = try PrivateKey.generateP256().encryptedPEM(passphrase: passphrase)
        expectMeshError("tls.bad-key") { _ = try PrivateKey(pem: encrypted) }
    }

    @Test(arguments: ["", "not a key\n", "-----BEGIN " + "ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"])
    func refusesTextThatIsNoKey(_ text: String) throws {
        expectMeshError("tls.bad-key") { _ = try PrivateKey(pem: Array(text.utf8), passphrase: passphrase) }
    }

    @Test func refusesACertificateGivenAsKey() throws {
        let cert = try TestCA().mint(clientID.description).chain[0]
        expectMeshError("tls.bad-key") { _ = try PrivateKey(pem: cert.pem(), passphrase: passphrase) }
    }

    /// What we write is standard PKCS#8: the openssl tool decrypts it, with AES-256-CBC and PBKDF2.
    @Test(.enabled(if: OpenSSLCLI.isAvailable))
    func opensslToolDecryptsOurEncryptedKey() throws {
        let key = try PrivateKey.generateP256()
        let cli = try OpenSSLWorkspace()
        try cli.write("enc.pem", key.encryptedPEM(passphrase: passphrase))
        try cli.write("pass.txt", passphrase)
        try cli.run(["pkey", "-in", "enc.pem", "-passin", "file:pass.txt", "-out", "plain.pem"])
        #expect(try PrivateKey(pem: cli.read("plain.pem")).pem() == key.pem())
        let structure = try cli.run(["asn1parse", "-in", "enc.pem"])
        #expect(structure.contains("PBES2") && structure.contains("PBKDF2") && structure.contains("aes-256-cbc"), "\(structure)")
        try cli.run(["pkcs8", "-topk8", "-in", "plain.pem", "-out", "again.pem", "-v2", "aes-256-cbc", "-passout", "file:pass.txt"])
        #expect(try PrivateKey(pem: cli.read("again.pem"), passphrase: passphrase).pem() == key.pem())
    }

    /// Keys encrypted by the openssl tool, in PKCS#8 and in the legacy "Proc-Type: 4,ENCRYPTED" form, load; the
    /// wrong passphrase is named as such for both.
    @Test(.enabled(if: OpenSSLCLI.isAvailable), arguments: ["pkcs8", "legacy"])
    func loadsKeysEncryptedByTheOpensslTool(_ form: String) throws {
        let key = try PrivateKey.generateP256()
        let cli = try OpenSSLWorkspace()
        try cli.write("plain.pem", key.pem())
        try cli.write("pass.txt", passphrase)
        if form == "pkcs8" {
            try cli.run(["pkcs8", "-topk8", "-in", "plain.pem", "-out", "enc.pem", "-v2", "aes-128-cbc", "-passout", "file:pass.txt"])
        } else {
            try cli.run(["ec", "-in", "plain.pem", "-out", "enc.pem", "-aes256", "-passout", "file:pass.txt"])
        }
        let encrypted = try cli.read("enc.pem")
        if form == "legacy" { #expect(String(decoding: encrypted, as: UTF8.self).contains("Proc-Type: 4,ENCRYPTED")) }
        #expect(try PrivateKey(pem: encrypted, passphrase: passphrase).pem() == key.pem())
        expectMeshError("tls.bad-passphrase") { _ = try PrivateKey(pem: encrypted, passphrase: Array("nope".utf8)) }
    }

    @Test(.enabled(if: OpenSSLCLI.isAvailable))
    func refusesEncryptedKeyOtherThanP256() throws {
        let cli = try OpenSSLWorkspace()
        try cli.write("pass.txt", passphrase)
        try cli.run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-aes-256-cbc",
                     "-pass", "file:pass.txt", "-out", "enc.pem"])
        let error = expectMeshError("tls.bad-key") { _ = try PrivateKey(pem: cli.read("enc.pem"), passphrase: passphrase) }
        #expect(error?.reason.contains("P-256") == true, "\(error?.reason ?? "")")
    }
}
