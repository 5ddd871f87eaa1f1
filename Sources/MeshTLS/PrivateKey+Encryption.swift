internal import COpenSSL
import MeshCore

extension PrivateKey {
    /// PKCS#8 PEM ("ENCRYPTED PRIVATE KEY") encrypted with AES-256-CBC under `passphrase`, the key derived as
    /// OpenSSL's PKCS#8 default does (PBKDF2 with HMAC-SHA-256 and a random salt in OpenSSL 3). An empty
    /// passphrase is refused (`tls.bad-passphrase`): it would make OpenSSL prompt on a terminal.
    public func encryptedPEM(passphrase: [UInt8]) throws -> [UInt8] {
        guard !passphrase.isEmpty else { throw MeshError(.tlsBadPassphrase, "the passphrase is empty") }
        guard passphrase.count <= Int(Int32.max) else { throw MeshError(.tlsBadPassphrase, "the passphrase is too long") }
        let bio = MemoryBIO()
        let ok = passphrase.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { chars in
                PEM_write_bio_PKCS8PrivateKey(bio.bio, pkey, EVP_aes_256_cbc(), chars.baseAddress, Int32(chars.count), nil, nil)
            }
        }
        guard ok == 1 else { throw OpenSSLError.error(.tlsKeyEncrypt, "cannot encrypt the private key") }
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
