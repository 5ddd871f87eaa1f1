import Foundation
import Testing
import MeshCore
import MeshTLS

/// Hardening #11: the CA key at rest is encrypted with a modern work factor (PBKDF2-HMAC-SHA256, 600,000
/// iterations, 16-byte salt); keys written with OpenSSL's old default (2,048 iterations) still load.
@Suite("Key encryption work factor")
struct KeyWorkFactorTests {
    let passphrase = Array("correct horse battery".utf8)

    /// The PBKDF2 parameters of a PKCS#8 PEM, read with `openssl asn1parse`: iterations and PRF.
    static func pbkdf2(_ cli: OpenSSLWorkspace, _ file: String) throws -> (iterations: Int, prf: String, saltBytes: Int) {
        let lines = try cli.run(["asn1parse", "-in", file]).split(separator: "\n").map(String.init)
        guard let kdf = lines.firstIndex(where: { $0.contains(":PBKDF2") }) else { throw ASN1Failure("no PBKDF2: \(lines)") }
        let after = lines[(kdf + 1)...]
        let salt = after.first { $0.contains("OCTET STRING") }.flatMap { $0.split(separator: "l=").last?.split(separator: " ").first }
        let iterHex = after.first { $0.contains("INTEGER") }?.split(separator: ":").last ?? ""
        let prf = after.first { $0.contains("hmacWith") }?.split(separator: ":").last ?? "hmacWithSHA1 (default)"
        return (Int(iterHex, radix: 16) ?? 0, String(prf), Int(salt.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0)
    }

    @Test(.enabled(if: OpenSSLCLI.isAvailable))
    func encryptedKeysUseTheModernWorkFactor() throws {
        let key = try PrivateKey.generateP256()
        let cli = try OpenSSLWorkspace()
        try cli.write("enc.pem", key.encryptedPEM(passphrase: passphrase))
        let p = try Self.pbkdf2(cli, "enc.pem")
        #expect(p.iterations >= 600_000, "PBKDF2 iterations: \(p.iterations)")
        #expect(p.prf == "hmacWithSHA256")
        #expect(p.saltBytes >= 16, "salt: \(p.saltBytes) bytes")
        #expect(try PrivateKey(pem: cli.read("enc.pem"), passphrase: passphrase).pem() == key.pem())
    }

    /// A key written the old way (OpenSSL's PKCS#8 default: PBKDF2, 2,048 iterations) still decrypts.
    @Test(.enabled(if: OpenSSLCLI.isAvailable))
    func keysWrittenWithTheOldSettingStillLoad() throws {
        let key = try PrivateKey.generateP256()
        let cli = try OpenSSLWorkspace()
        try cli.write("plain.pem", key.pem())
        try cli.write("pass.txt", passphrase)
        try cli.run(["pkcs8", "-topk8", "-in", "plain.pem", "-out", "old.pem", "-v2", "aes-256-cbc", "-iter", "2048",
                     "-passout", "file:pass.txt"])
        #expect(try Self.pbkdf2(cli, "old.pem").iterations == 2048)
        #expect(try PrivateKey(pem: cli.read("old.pem"), passphrase: passphrase).pem() == key.pem())
    }
}

struct ASN1Failure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
