#if canImport(Glibc)
import Glibc
#endif
@testable import MeshTLS
import MeshCore
import Testing
import MeshTestSupport

/// PKCS#10 CSRs: proof of possession is checked, only P-256 is accepted, and the CA takes nothing from a CSR
/// but its public key.
@Suite struct CSRTests {
    @Test func csrRoundTripsThroughPEM() throws {
        let key = try PrivateKey.generateP256()
        let csr = try CertificateSigningRequest.create(key: key, commonName: "frontend")
        let pem = csr.pem()
        #expect(String(decoding: pem, as: UTF8.self).hasPrefix("-----BEGIN CERTIFICATE REQUEST-----"))
        let again = try CertificateSigningRequest(pem: pem)
        #expect(again.pem() == pem)
        #expect(again.der() == csr.der())
        #expect(again.publicKeySHA256 == csr.publicKeySHA256)
        #expect(again.publicKeySHA256 == key.publicKeySHA256)
        #expect(again.publicKeySHA256.count == 64)
        #expect(again.requestedURIs.isEmpty)
        #expect(try CertificateSigningRequest(pem: CertificateSigningRequest.create(key: key).pem()).publicKeySHA256
                == key.publicKeySHA256)
    }

    @Test func differentKeysGiveDifferentPublicKeyDigests() throws {
        let a = try CertificateSigningRequest.create(key: PrivateKey.generateP256())
        let b = try CertificateSigningRequest.create(key: PrivateKey.generateP256())
        #expect(a.publicKeySHA256 != b.publicKeySHA256)
    }

    /// One flipped byte in the signed subject or in the signature: the request still parses, but proof of
    /// possession fails.
    @Test(arguments: ["subject", "signature"])
    func refusesTamperedCSR(_ part: String) throws {
        let csr = try CertificateSigningRequest.create(key: PrivateKey.generateP256(), commonName: "tamper-me-please")
        var der = csr.der()
        if part == "subject" {
            let needle = Array("tamper-me".utf8)
            let at = try #require((0...(der.count - needle.count)).first { Array(der[$0..<($0 + needle.count)]) == needle })
            der[at] ^= 0x20  // "Tamper-me…": still a valid UTF8String
        } else {
            der[der.count - 3] ^= 0x01  // inside the ECDSA signature's last INTEGER
        }
        let error = expectMeshError("tls.bad-csr") {
            _ = try CertificateSigningRequest(pem: pemText(label: "CERTIFICATE REQUEST", der: der))
        }
        #expect(error?.reason.contains("self-signature") == true, "\(error?.reason ?? "")")
    }

    @Test(arguments: [
        ("empty input", ""),
        ("garbage", "this is not a CSR\n"),
        ("header only", "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"),
        ("base64 of nothing useful", "-----BEGIN CERTIFICATE REQUEST-----\nAAAAAAAAAAAA\n-----END CERTIFICATE REQUEST-----\n"),
        ("a certificate instead", "CERT"),
        ("a private key instead", "KEY"),
    ])
    func refusesInputThatIsNotACSR(_ name: String, text: String) throws {
        let pem: [UInt8] = switch text {
        case "CERT": try TestCA().mint(clientID.description).chain[0].pem()
        case "KEY": try PrivateKey.generateP256().pem()
        default: Array(text.utf8)
        }
        expectMeshError("tls.bad-csr") { _ = try CertificateSigningRequest(pem: pem) }
    }

    @Test func refusesCSRLargerThan16KiB() throws {
        let one = try CertificateSigningRequest.create(key: PrivateKey.generateP256()).pem()
        var padded = one + [UInt8](repeating: UInt8(ascii: "\n"), count: 16_384 - one.count)
        #expect(try CertificateSigningRequest(pem: padded).pem() == one)
        padded.append(UInt8(ascii: "\n"))
        expectMeshError("tls.bad-csr") { _ = try CertificateSigningRequest(pem: padded) }
    }

    /// The CSR asks for another workload's ID; the CA issues exactly what the template says, for the CSR's key.
    @Test(.enabled(if: OpenSSLCLI.isAvailable))
    func caIssuesTemplateIdentityNotTheCSRsRequest() throws {
        let authority = try TestCA()
        let key = try PrivateKey.generateP256()
        let cli = try OpenSSLWorkspace()
        try cli.write("key.pem", key.pem())
        let asked = "spiffe://mesh.local/ns/x/sa/other"
        try cli.run(["req", "-new", "-key", "key.pem", "-subj", "/CN=other", "-out", "csr.pem",
                     "-addext", "subjectAltName=URI:\(asked),DNS:other.mesh.local",
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign"])
        let csr = try CertificateSigningRequest(pem: cli.read("csr.pem"))
        #expect(csr.requestedURIs == [asked])
        #expect(csr.publicKeySHA256 == key.publicKeySHA256)

        let right = try SPIFFEID.workload("spiffe://mesh.local/ns/x/sa/right")
        let cert = try authority.ca.issue(.svid(right, now: authority.now, lifetime: 3600), for: csr)
        #expect(cert.uriSANs == [right.description])
        #expect(cert.publicKeySHA256 == csr.publicKeySHA256)
        #expect(cert.commonName == "")
        // A proper SVID leaf: the CSR's basicConstraints CA:TRUE and keyCertSign were ignored.
        #expect(SVIDValidator.validate(cert, role: .client, trustDomain: meshDomain) == .success(right))
        #expect(SVIDValidator.validate(cert, role: .server, trustDomain: meshDomain) == .success(right))
        // The certificate belongs to the key that signed the CSR: a context built from both accepts them.
        let identity = try TLSIdentity(chain: [cert], key: key, trustBundle: [authority.ca.certificate], trustDomain: meshDomain)
        #expect(identity.spiffeID == right)
        _ = try TLSContext(role: .server, identity: identity)
    }

    /// Issued for a CSR made by `create`, the certificate works in a real mTLS handshake with the CSR's key.
    @Test func certificateIssuedForCSRWorksInAHandshake() throws {
        let authority = try TestCA()
        let key = try PrivateKey.generateP256()
        let csr = try CertificateSigningRequest(pem: CertificateSigningRequest.create(key: key, commonName: "frontend").pem())
        let cert = try authority.ca.issue(.svid(clientID, now: authority.now, lifetime: 3600), for: csr)
        #expect(cert.publicKeySHA256 == key.publicKeySHA256)
        #expect(cert.commonName == "")
        let client = try TLSIdentity(chain: [cert], key: key, trustBundle: [authority.ca.certificate], trustDomain: meshDomain)
        let connection = try TLSConnection.established(server: authority.identity(serverID.description), client: client)
        #expect(connection.server.verifyPeer() == .success(clientID))
    }

    @Test(.enabled(if: OpenSSLCLI.isAvailable), arguments: [
        ("RSA 2048", ["-newkey", "rsa:2048"]),
        ("EC P-384", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"]),
        ("EC secp256k1", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1"]),
        ("Ed25519", ["-newkey", "ed25519"]),
    ])
    func refusesCSRWithAKeyOtherThanP256(_ name: String, keyArgs: [String]) throws {
        let cli = try OpenSSLWorkspace()
        try cli.run(["req", "-new", "-nodes", "-keyout", "key.pem", "-subj", "/CN=x", "-out", "csr.pem"] + keyArgs)
        let error = expectMeshError("tls.bad-csr") { _ = try CertificateSigningRequest(pem: cli.read("csr.pem")) }
        #expect(error?.reason.contains("P-256") == true, "\(error?.reason ?? "")")
    }
}
