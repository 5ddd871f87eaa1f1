internal import COpenSSL
import MeshCore

extension PrivateKey {
    /// PBKDF2-HMAC-SHA256 iterations for keys we encrypt: OWASP's 2023 figure for PBKDF2-SHA256 (OpenSSL's
    /// PKCS#8 default is 2,048). About 0.13 s to decrypt here, paid once per control-plane start (BENCHMARKS.md).
    public static let pbkdf2Iterations: Int32 = 600_000
    /// Salt length in bytes (OpenSSL's default is 8).
    static let saltBytes: Int32 = 16

    /// PKCS#8 PEM ("ENCRYPTED PRIVATE KEY"): PBES2 with AES-256-CBC, the key derived with PBKDF2-HMAC-SHA256 over
    /// `iterations` and a random 16-byte salt. An empty passphrase is refused (`tls.bad-passphrase`): it would
    /// make OpenSSL prompt on a terminal. Keys written with fewer iterations still load: the parameters travel
    /// in the file.
    public func encryptedPEM(passphrase: [UInt8], iterations: Int32 = PrivateKey.pbkdf2Iterations) throws -> [UInt8] {
        guard !passphrase.isEmpty else { throw MeshError(.tlsBadPassphrase, "the passphrase is empty") }
        guard passphrase.count <= Int(Int32.max) else { throw MeshError(.tlsBadPassphrase, "the passphrase is too long") }
        guard let pbe = PKCS5_pbe2_set_iv(EVP_aes_256_cbc(), iterations, nil, Self.saltBytes, nil, NID_hmacWithSHA256) else {
            throw OpenSSLError.error(.tlsKeyEncrypt, "cannot set up PBES2 parameters")
        }
        guard let info = EVP_PKEY2PKCS8(pkey) else {
            X509_ALGOR_free(pbe)
            throw OpenSSLError.error(.tlsKeyEncrypt, "cannot encode the private key as PKCS#8")
        }
        defer { PKCS8_PRIV_KEY_INFO_free(info) }
        // PKCS8_set0_pbe takes `pbe` only when it succeeds.
        let sealed = passphrase.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { PKCS8_set0_pbe($0.baseAddress, Int32($0.count), info, pbe) }
        }
        guard let sealed else {
            X509_ALGOR_free(pbe)
            throw OpenSSLError.error(.tlsKeyEncrypt, "cannot encrypt the private key")
        }
        defer { X509_SIG_free(sealed) }
        let bio = MemoryBIO()
        guard PEM_write_bio_PKCS8(bio.bio, sealed) == 1 else { throw OpenSSLError.error(.tlsKeyEncrypt, "cannot write the encrypted key") }
        return bio.contents
    }

    /// Loads an encrypted (or plain) PEM key with `passphrase`; wrong passphrase → MeshError(.tlsBadPassphrase,
    /// …). P-256 only, as PrivateKey(pem:). Never prompts: the passphrase is handed over by a callback, byte for
    /// byte (it may contain any byte, NUL included).
    public convenience init(pem: [UInt8], passphrase: [UInt8]) throws {
        let bio = try MemoryBIO(pem)
        var source = PassphraseSource(bytes: passphrase)
        let k = withUnsafeMutablePointer(to: &source) { sourcePointer in
            PEM_read_bio_PrivateKey(bio.bio, nil, { buf, size, _, u -> Int32 in
                guard let buf, let u else { return -1 }
                let source = u.assumingMemoryBound(to: PassphraseSource.self)
                source.pointee.asked = true
                let bytes = source.pointee.bytes
                guard bytes.count <= Int(size) else { return -1 }
                bytes.withUnsafeBytes { raw in
                    if let base = raw.baseAddress { UnsafeMutableRawPointer(buf).copyMemory(from: base, byteCount: raw.count) }
                }
                return Int32(bytes.count)
            }, sourcePointer)
        }
        guard let k else {
            // OpenSSL 3's decoders report a wrong passphrase in several ways; that it asked for one is what
            // tells an encrypted key apart from text that is no key at all.
            if source.asked { throw OpenSSLError.error(.tlsBadPassphrase, "cannot decrypt the private key with this passphrase") }
            throw OpenSSLError.error(.tlsBadKey, "not a PEM private key")
        }
        self.init(owning: k)
        guard PublicKeyInfo.isP256(k) else {
            OpenSSLError.clear()
            throw MeshError(.tlsBadKey, "private key must be ECDSA P-256 (found \(PublicKeyInfo.describe(k)))")
        }
    }
}

/// The passphrase handed to OpenSSL's password callback, and whether OpenSSL asked for it.
private struct PassphraseSource {
    let bytes: [UInt8]
    var asked = false
}
