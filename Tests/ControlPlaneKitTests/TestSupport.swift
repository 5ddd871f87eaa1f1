import MeshTestSupport
import ControlPlaneKit
import Foundation
import MeshCore
import MeshNet
import MeshTLS
import Synchronization
import Testing

/// The openssl CLI as a second opinion on what our CA writes.
extension TempDir {
    /// Runs `openssl args…` in this folder; throws with its stderr when it exits non-zero.
    @discardableResult
    func openssl(_ args: [String]) throws -> String {
        let r = try ChildProcess.run("/usr/bin/env", ["openssl"] + args, currentDirectory: path)
        guard r.status == 0 else {
            throw MeshError(ErrorCode("test.openssl", .internal), "openssl \(args.joined(separator: " ")): \(r.stderr)")
        }
        return r.stdout
    }

    /// Asks the `openssl` CLI whether `chain[0]` chains to `bundle` through the rest of `chain`.
    func opensslVerifies(chain: [Certificate], bundle: [Certificate]) throws -> Bool {
        try write("verify-leaf.pem", chain[0].pem())
        try write("verify-bundle.pem", bundle.flatMap { $0.pem() })
        var args = ["verify", "-CAfile", "verify-bundle.pem"]
        if chain.count > 1 {
            try write("verify-untrusted.pem", chain.dropFirst().flatMap { $0.pem() })
            args += ["-untrusted", "verify-untrusted.pem"]
        }
        do {
            return try openssl(args + ["verify-leaf.pem"]).contains("OK")
        } catch {
            return false
        }
    }

    /// The subject CN of the certificate that issued `cert`, read by the `openssl` CLI.
    func issuerCommonName(of cert: Certificate) throws -> String {
        try write("issuer-of.pem", cert.pem())
        let line = try openssl(["x509", "-in", "issuer-of.pem", "-noout", "-issuer", "-nameopt", "multiline"])
        let cn = line.split(separator: "\n").first { $0.contains("commonName") }
        return cn.map { String($0.split(separator: "=", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? ""
    }

    /// A PEM CSR for a fresh P-256 key that asks for `uri` (made with the CLI: our own API cannot add SANs).
    func csrAsking(for uri: String) throws -> [UInt8] {
        try write("csr.key", PrivateKey.generateP256().pem())
        try openssl(["req", "-new", "-key", "csr.key", "-subj", "/CN=x", "-addext", "subjectAltName=URI:\(uri)", "-out", "csr.pem"])
        return try read("csr.pem")
    }
}

/// Wall and monotonic time that move only when the test says so.
final class TestClock: MeshNet.Clock {
    private let seconds: Mutex<Double>

    init(_ start: Double) { seconds = Mutex(start) }

    func advance(_ by: Double) { seconds.withLock { $0 += by } }
    func set(_ to: Double) { seconds.withLock { $0 = to } }

    func wallSeconds() -> Double { seconds.withLock { $0 } }
    func monotonicMs() -> Int64 { Int64(wallSeconds() * 1000) }
    func monotonicNs() -> Int64 { Int64(wallSeconds() * 1_000_000_000) }
}

/// Whole seconds close to now, so that certificates minted at "now" verify with the real clock too.
func wholeSecondsNow() -> Double { Double(Int(SystemClock().wallSeconds())) }

let testPassphrase = Array("correct horse battery staple".utf8)

func trustDomain(_ name: String = "mesh.local") throws -> TrustDomain { try TrustDomain(name) }

/// A control plane initialised on the file store in `dir`, certificates of one hour, time from `clock`.
func fileControlPlane(_ dir: TempDir, _ clock: TestClock) throws -> ControlPlane {
    _ = try ControlPlane.initialize(dataDir: dir.path, trustDomain: trustDomain(), passphrase: testPassphrase,
                                   now: clock.wallSeconds(), imported: nil)
    var s = ControlSettings()
    s.certTTL = 3600
    return try ControlPlane(dataDir: dir.path, passphrase: testPassphrase, settings: s, clock: clock)
}

/// A CSR for a fresh P-256 key (the control plane decides the identity, not the CSR).
func freshCSR() throws -> [UInt8] { try CertificateSigningRequest.create(key: PrivateKey.generateP256()).pem() }

/// The lines of a text file, without their newlines.
func lines(_ text: String) -> [String] { text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty } }

/// The CA as the store tests drive it: a `CAState` committed through the file repository after each change,
/// the way the control plane does (without the audit).
final class StoredCA {
    let repository: FileCAStateRepository
    private(set) var state: CAState

    init(dataDir: String, passphrase: [UInt8]) throws {
        repository = try FileCAStateRepository(dataDir: dataDir, passphrase: passphrase)
        state = try repository.load()
    }

    var trustDomain: TrustDomain { state.trustDomain }
    var all: [CAState.Root] { state.all }
    var issuing: CAState.Root { state.issuing }
    var bundle: [Certificate] { state.bundle }
    var bundlePEM: [UInt8] { state.bundlePEM }

    func sign(_ template: CertificateTemplate, for csr: CertificateSigningRequest) throws -> [Certificate] { try state.sign(template, for: csr) }
    func sign(_ template: CertificateTemplate, for key: PrivateKey) throws -> [Certificate] { try state.sign(template, for: key) }

    func rotate(now: Double, overlap: Double) throws -> CAState.Root {
        let (next, root) = try state.rotated(now: now, overlap: overlap)
        try repository.compareAndSet(expected: state.revision, next)
        state = next
        return root
    }

    func advance(now: Double, retireAfter: Double) throws -> [String] {
        guard let (next, changes) = state.advanced(now: now, retireAfter: retireAfter) else { return [] }
        try repository.compareAndSet(expected: state.revision, next)
        state = next
        return changes
    }
}
