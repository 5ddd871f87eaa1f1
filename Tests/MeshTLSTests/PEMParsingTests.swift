#if canImport(Glibc)
import Glibc
#endif
@testable import MeshTLS
import MeshCore
import Testing
import MeshTestSupport

/// Certificate chains and private keys as read from the configured PEM files: limits, garbage, round trips.
@Suite struct PEMParsingTests {
    @Test(arguments: [
        ("empty input", ""),
        ("garbage", "this is not a certificate\n"),
        ("a private key instead", "KEY"),
        ("header only", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"),
        ("base64 of nothing useful", "-----BEGIN CERTIFICATE-----\nAAAAAAAAAAAA\n-----END CERTIFICATE-----\n"),
    ])
    func parseChainRejectsInputWithoutCertificates(_ name: String, text: String) throws {
        let pem = text == "KEY" ? try PrivateKey.generateP256().pem() : Array(text.utf8)
        expectMeshError("tls.bad-certificate") { _ = try Certificate.parseChain(pem: pem) }
    }

    @Test func parseChainRejectsMoreThanFourCertificates() throws {
        let authority = try TestCA()
        let one = try authority.mint(clientID.description).chain[0].pem()
        #expect(try Certificate.parseChain(pem: Array([[UInt8]](repeating: one, count: 4).joined())).count == 4)
        expectMeshError("tls.chain-too-long") {
            _ = try Certificate.parseChain(pem: Array([[UInt8]](repeating: one, count: 5).joined()))
        }
    }

    @Test func parseChainRejectsMoreThan64KiB() throws {
        let authority = try TestCA()
        let one = try authority.mint(clientID.description).chain[0].pem()
        var padded = one + [UInt8](repeating: UInt8(ascii: "\n"), count: 65_536 - one.count)
        #expect(try Certificate.parseChain(pem: padded).count == 1)
        padded.append(UInt8(ascii: "\n"))
        expectMeshError("tls.chain-too-large") { _ = try Certificate.parseChain(pem: padded) }
    }

    /// A chain or bundle whose second certificate is corrupt or cut short must fail to load, not quietly lose it.
    @Test func parseChainRejectsCorruptTrailingCertificate() throws {
        let authority = try TestCA()
        let one = try authority.mint(clientID.description).chain[0].pem()
        let truncated = one + one.prefix(200)
        expectMeshError("tls.bad-certificate") { _ = try Certificate.parseChain(pem: truncated) }
    }

    @Test func parseChainKeepsLeafFirstOrder() throws {
        let authority = try TestCA()
        let minted = try authority.mintThrough(intermediates: 2, uri: clientID.description)
        let parsed = try Certificate.parseChain(pem: Array(minted.chain.map { $0.pem() }.joined()))
        #expect(parsed.map(\.sha256Fingerprint) == minted.chain.map(\.sha256Fingerprint))
        #expect(parsed[0].uriSANs == [clientID.description])
        #expect(parsed[1].commonName == "intermediate 2")
    }

    @Test func certificatePEMRoundTrips() throws {
        let authority = try TestCA()
        let cert = try authority.mint(clientID.description) { $0.commonName = "frontend"; $0.dnsSANs = ["a.mesh.local"] }.chain[0]
        let again = try #require(try Certificate.parseChain(pem: cert.pem()).first)
        #expect(again.der() == cert.der())
        #expect(!cert.der().isEmpty)
        #expect(again.sha256Fingerprint == cert.sha256Fingerprint)
        #expect(again.sha256Fingerprint == SHA256.hex(cert.der()))
        #expect(again.serialHex == cert.serialHex && !cert.serialHex.isEmpty)
        #expect(again.uriSANs == [clientID.description])
        #expect(again.commonName == "frontend")
        #expect(again.notBefore == authority.now - 60 && again.notAfter == authority.now + 3600)
    }

    @Test func privateKeyPEMRoundTrips() throws {
        let key = try PrivateKey.generateP256()
        let pem = key.pem()
        #expect(String(decoding: pem, as: UTF8.self).hasPrefix("-----BEGIN " + "PRIVATE KEY-----"))
        let again = try PrivateKey(pem: pem)
        #expect(again.pem() == pem)
        // The reloaded key still matches a certificate issued for the original.
        let authority = try TestCA()
        let cert = try authority.ca.issue(authority.template(clientID.description), for: key)
        let identity = try TLSIdentity(chain: [cert], key: again, trustBundle: [authority.ca.certificate], trustDomain: meshDomain)
        _ = try TLSContext(role: .server, identity: identity)
    }

    @Test(arguments: ["", "garbage", "-----BEGIN " + "PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"])
    func privateKeyRejectsGarbage(text: String) {
        expectMeshError("tls.bad-key") { _ = try PrivateKey(pem: Array(text.utf8)) }
    }

    @Test func privateKeyRejectsACertificate() throws {
        let authority = try TestCA()
        expectMeshError("tls.bad-key") { _ = try PrivateKey(pem: authority.ca.certificate.pem()) }
    }

    /// Keys minted by the `openssl` CLI: other algorithms and curves are refused, P-256 in either encoding loads.
    @Test(.enabled(if: OpenSSLCLI.isAvailable), arguments: [
        ("RSA 2048", "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048", false),
        ("P-384", "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384", false),
        ("P-521", "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521", false),
        ("Ed25519", "genpkey -algorithm ED25519", false),
        ("P-256 PKCS#8", "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256", true),
        ("P-256 SEC1", "ecparam -name prime256v1 -genkey -noout", true),
    ])
    func privateKeyAcceptsOnlyP256(_ name: String, command: String, accepted: Bool) throws {
        let pem = try OpenSSLCLI.generate(command)
        if accepted {
            #expect(try PrivateKey(pem: pem).pem().count > 0, "\(name)")
        } else {
            expectMeshError("tls.bad-key") { _ = try PrivateKey(pem: pem) }
        }
    }

    /// Other 256-bit curves are not P-256 either: refused at load, not at the first handshake.
    @Test(.enabled(if: OpenSSLCLI.isAvailable), arguments: ["secp256k1", "brainpoolP256r1"])
    func privateKeyRejectsOther256BitCurves(curve: String) throws {
        let pem = try OpenSSLCLI.generate("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:\(curve)")
        expectMeshError("tls.bad-key") { _ = try PrivateKey(pem: pem) }
    }
}

/// Runs the `openssl` command-line tool into a private temporary folder.
enum OpenSSLCLI {
    static var isAvailable: Bool { system("openssl version >/dev/null 2>&1") == 0 }

    /// Runs `openssl <arguments> -out <file>` and returns the file's bytes.
    static func generate(_ arguments: String) throws -> [UInt8] {
        var template = Array("/tmp/meshtls-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buf in mkdtemp(buf.baseAddress!).map { String(cString: $0) } }
        guard let dir = made else { throw MeshError(ErrorCode("test.tmp", .internal), "mkdtemp failed") }
        let path = dir + "/key.pem"
        defer { _ = system("rm -rf '\(dir)'") }
        guard system("openssl \(arguments) -out '\(path)' 2>/dev/null") == 0 else {
            throw MeshError(ErrorCode("test.openssl", .internal), "openssl \(arguments) failed")
        }
        guard let f = fopen(path, "rb") else { throw MeshError(ErrorCode("test.tmp", .internal), "cannot open \(path)") }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return out
    }
}
