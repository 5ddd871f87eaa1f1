#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet
import MeshTLS

/// Replaces the sidecar's key and certificate so that a crash never leaves a key that does not match its
/// certificate. Two files cannot be renamed at once, so the switch is rolled forward:
/// 1. the bundle is replaced (durable; a new bundle holds the roots of both the old and the new certificate);
/// 2. the new certificate and key are written in full beside the live ones as `<certificate>.next` and
///    `<key>.next` (durable, the key 0600);
/// 3. `<key>.next` is renamed over the key, then `<certificate>.next` over the certificate, and the folder is
///    fsynced.
/// A crash in step 3 leaves the new key with the old certificate *and* the new certificate in
/// `<certificate>.next`; `recover` (run at start, before the files are loaded) finishes the switch when the
/// pending files match, and drops pending files that do not (a crash in step 2: the old pair is intact).
public enum IdentityFileSwitch {
    /// Where a crash may be simulated (tests): after each numbered step the hook may throw.
    public enum Step: String, Sendable { case bundle, pending, key, certificate }

    public static func write(_ files: IdentityFiles, keyPEM: [UInt8], chainPEM: [UInt8], bundlePEM: [UInt8],
                             after: (Step) throws -> Void = { _ in }) throws {
        try DurableFile.write(files.trustBundle, bundlePEM, mode: 0o644)
        try after(.bundle)
        try DurableFile.write(next(files.certificate), chainPEM, mode: 0o644)
        try DurableFile.write(next(files.key), keyPEM, mode: 0o600)
        try after(.pending)
        try move(next(files.key), files.key)
        try after(.key)
        try move(next(files.certificate), files.certificate)
        try DurableFile.syncDirectory(DurableFile.directory(of: files.certificate))
        try after(.certificate)
    }

    /// What `recover` did, for the log.
    public enum Recovery: String, Sendable, Equatable { case none, rolledForward = "rolled-forward", droppedPending = "dropped-pending" }

    /// Finishes or drops an interrupted switch. Pending files are used only when the key they leave in place
    /// matches the certificate they leave in place.
    @discardableResult
    public static func recover(_ files: IdentityFiles) throws -> Recovery {
        let nextKey = next(files.key), nextCert = next(files.certificate)
        let hasKey = DurableFile.exists(nextKey), hasCert = DurableFile.exists(nextCert)
        guard hasKey || hasCert else { return .none }
        let key = hasKey ? nextKey : files.key
        let cert = hasCert ? nextCert : files.certificate
        if matches(keyPath: key, certificatePath: cert) {
            if hasKey { try move(nextKey, files.key) }
            if hasCert { try move(nextCert, files.certificate) }
            try DurableFile.syncDirectory(DurableFile.directory(of: files.certificate))
            return .rolledForward
        }
        unlink(nextKey)
        unlink(nextCert)
        return .droppedPending
    }

    /// Whether the key file holds the private half of the certificate file's leaf.
    public static func matches(keyPath: String, certificatePath: String) -> Bool {
        guard case .success(let k) = FileIO.readAll(keyPath, limit: 1 << 20),
              case .success(let c) = FileIO.readAll(certificatePath, limit: 1 << 20),
              let key = try? PrivateKey(pem: k), let chain = try? Certificate.parseChain(pem: c), let leaf = chain.first
        else { return false }
        return leaf.publicKeySHA256 == key.publicKeySHA256
    }

    static func next(_ path: String) -> String { path + ".next" }

    private static func move(_ from: String, _ to: String) throws {
        if rename(from, to) != 0 { throw DurableFile.failure("rename \(from) to \(to)") }
    }
}
