#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshAPI
import MeshControlClient
import MeshCore
import MeshNet
import MeshObservability
import MeshTLS

/// Gets this sidecar's identity from the control plane and keeps it fresh:
/// - bootstrap: a new P-256 key (written 0600, never sent), a CSR, the join token → certificate chain and
///   trust bundle, written to the configured identity files;
/// - renewal: at about half the certificate's life (± 5 % jitter), a new key and CSR sent over mTLS with the
///   current certificate; the files are replaced and the sidecar reloads (new handshakes use the new
///   certificate, established connections carry on). When the control plane is away it retries with
///   exponential backoff and full jitter (`RetryPolicy`: 1 s … 30 s, and at most a sixth of the certificate's
///   life) and alarms when less than a quarter of the life is left.
public final class IdentityAgent: Sendable {
    let settings: BootstrapSettings
    let files: IdentityFiles
    let clock: any Clock
    let log: @Sendable (String, [(String, LogValue)]) -> Void
    private let stopping = Atomic<Bool>(false)
    private let rng = Mutex(SplitMix64(seed: UInt64(SystemClock().monotonicNs())))
    public let renewalsOK = Atomic<Int>(0)
    public let renewalsFailed = Atomic<Int>(0)
    /// The shared keep-alive connection renewals go over once the sidecar runs (nil: a connection per renewal).
    /// Bootstrap never uses it: a join token is single use.
    private let channelInUse = Mutex<ControlChannel?>(nil)

    /// Renewals from now on go over `channel`.
    public func use(channel: ControlChannel?) { channelInUse.withLock { $0 = channel } }

    public init(files: IdentityFiles, clock: any Clock = SystemClock(),
                log: @escaping @Sendable (String, [(String, LogValue)]) -> Void) {
        self.files = files
        self.settings = files.bootstrap!
        self.clock = clock
        self.log = log
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }
    var stopped: Bool { stopping.load(ordering: .relaxed) }

    // MARK: bootstrap

    /// Returns once valid identity files are on disk: the ones already there (a restart), or new ones from the
    /// join token. Retries with backoff while the control plane cannot be reached; nil when stopped or when the
    /// control plane refused the token for good (used, expired, unknown), with the reason logged.
    public func ensureIdentity() -> TLSIdentity? {
        if let id = existingIdentity() { return id }
        if stopped { return nil }
        var backoff = Backoff(random: SystemRandomNumberGenerator())
        do {
            return try backoff.run(sleep: { [self] delay in nap(until: clock.wallSeconds() + delay); return !stopped },
                                   final: { error in (error as? MeshError).map(Self.refusedForGood) ?? false },
                                   retrying: { [self] attempt, error, _ in
                                       log("bootstrap-retry", [("attempt", .int(attempt)), ("error", .string("\(error)"))])
                                   }) {
                try bootstrap()
                return try TLSIdentity.load(files)
            }
        } catch {
            log("bootstrap-refused", [("error", .string("\(error)"))])
            return nil
        }
    }

    /// The identity on disk, after finishing (or dropping) a key/certificate switch a crash interrupted; nil
    /// when there is none, it expired, or its key does not match its certificate (logged, never used).
    func existingIdentity() -> TLSIdentity? {
        do {
            let r = try IdentityFileSwitch.recover(files)
            if r != .none { log("identity-files-recovered", [("action", .string(r.rawValue))]) }
        } catch {
            log("identity-files-recovery-failed", [("error", .string("\(error)"))])
        }
        guard let id = try? TLSIdentity.load(files), id.leaf.notAfter > clock.wallSeconds() else { return nil }
        guard id.leaf.publicKeySHA256 == id.key.publicKeySHA256 else {
            log("identity-key-mismatch", [("key", .string(files.key)), ("certificate", .string(files.certificate))])
            return nil
        }
        return id
    }

    /// A token the control plane will never accept (used, expired, unknown), a bundle without our anchor, or a
    /// file we cannot read: retrying cannot help.
    static func refusedForGood(_ e: MeshError) -> Bool {
        [.tokenUsed, .tokenExpired, .tokenUnknown, .tokenForeignTrustDomain, .bootstrapAnchorMismatch].contains(e.errorCode)
            || [.fileUnreadable, .fileTooLarge, .fileUnwritable].contains(e.errorCode)
    }

    /// With a fingerprint pin, only the pinned root is trusted for the call that carries the join token: the
    /// control plane must prove a chain to it (and its SPIFFE ID) before the token is sent, and the bundle it
    /// answers must hold the pinned root. Other roots arrive only in that authenticated answer.
    func bootstrap() throws {
        let token = String(decoding: try read(settings.tokenFile), as: UTF8.self).trimming(" \n\r\t")
        let anchors = try bootstrapAnchors()
        let ctx = try TLSContext.client(trusting: anchors, trustDomain: files.trustDomain)
        guard let pin = settings.trustAnchorSHA256 else {
            return try obtain(via: ctx, token: token, trigger: "bootstrap")
        }
        do {
            try obtain(via: ctx, token: token, trigger: "bootstrap", mustHoldRoot: pin)
        } catch let e as MeshError where e.errorCode == .httpTls {
            throw MeshError(.bootstrapUnproven, "the control plane at \(settings.controlPlane) did not prove a chain to the pinned "
                            + "root SHA-256 \(pin) (join token not sent): \(e.reason)")
        }
    }

    /// The roots to trust the control plane with at bootstrap: the configured file, or — with a fingerprint —
    /// the one root of the control plane's (unauthenticated) bundle whose SHA-256 is the pin, and nothing else.
    func bootstrapAnchors() throws -> [Certificate] {
        if let file = settings.trustAnchor {
            return try Certificate.parseChain(pem: try read(file), maxCount: 64, maxBytes: 1 << 20)
        }
        let want = settings.trustAnchorSHA256 ?? ""
        let insecure = ControlPlaneClient(addresses: try settings.controlPlaneAddresses(),
                                          tls: try TLSContext.insecureClientForBootstrap(), expectServer: nil,
                                          timeoutMs: 10_000, skipServerVerification: true)
        let answer = try insecure.bundle()
        let offered = try Certificate.parseChain(pem: Array(answer.bundlePEM.utf8), maxCount: 64, maxBytes: 1 << 20)
        guard let pinned = offered.first(where: { $0.sha256Fingerprint == want }) else {
            throw MeshError(.bootstrapAnchorMismatch, "the control plane's bundle has no root with SHA-256 \(want)")
        }
        return [pinned]
    }

    /// New key + CSR → POST /v1/identity → write key (0600), certificate chain and bundle.
    /// `mustHoldRoot`: the SHA-256 of a root the answered bundle must contain (the bootstrap pin).
    func obtain(via ctx: TLSContext, token: String?, trigger: String, mustHoldRoot: String? = nil) throws {
        let key = try PrivateKey.generateP256()
        let csr = try CertificateSigningRequest.create(key: key)
        let channel = token == nil ? channelInUse.withLock { $0 } : nil
        let answer = try ControlPlaneClient(settings: settings, tls: ctx, channel: channel)
            .issue(IdentityRequest(csrPEM: String(decoding: csr.pem(), as: UTF8.self), token: token))
        let chainPEM = answer.certificateChainPEM, bundlePEM = answer.trustBundlePEM
        // Check before writing: the answer must be a valid SVID for our trust domain, for our key.
        let identity = try TLSIdentity(certificatePEM: Array(chainPEM.utf8), keyPEM: key.pem(), bundlePEM: Array(bundlePEM.utf8),
                                       trustDomain: files.trustDomain)
        _ = try TLSContext(role: .server, identity: identity, resumption: .off)  // key matches certificate
        if let pin = mustHoldRoot, !identity.trustBundle.contains(where: { $0.sha256Fingerprint == pin }) {
            throw MeshError(.bootstrapAnchorMismatch, "the control plane's answer drops the pinned root SHA-256 \(pin)")
        }
        do {
            try IdentityFileSwitch.write(files, keyPEM: key.pem(), chainPEM: Array(chainPEM.utf8), bundlePEM: Array(bundlePEM.utf8))
        } catch {
            throw MeshError(.fileUnwritable, (error as? MeshError)?.reason ?? "\(error)")
        }
        log("identity-obtained", [("trigger", .string(trigger)), ("identity", .string(identity.spiffeID.description)),
                                  ("serial", .string(identity.leaf.serialHex)),
                                  ("notAfter", .string(UTCTime.iso8601(identity.leaf.notAfter, milliseconds: true)))])
    }

    // MARK: renewal

    /// Runs the renewal loop on a new thread; `current` gives the identity in force, `renewed` is called after
    /// new files are written (the sidecar reloads).
    public func startRenewal(current: @escaping @Sendable () -> TLSIdentity, renewed: @escaping @Sendable () -> Void) -> LoopThread {
        LoopThread(start: { [self] in
            var backoff = Backoff(random: SystemRandomNumberGenerator())
            var alarmed = ""
            while !stopped {
                let id = current()
                let now = clock.wallSeconds()
                let life = id.leaf.notAfter - id.leaf.notBefore
                let jitter = rng.withLock { Double($0.next() % 1000) / 1000 * 0.1 - 0.05 }
                let renewAt = id.leaf.notBefore + life * (0.5 + jitter)
                if backoff.attempt == 0 && now < renewAt {
                    nap(until: renewAt)
                    continue
                }
                do {
                    let ctx = try TLSContext(role: .client, identity: id, resumption: .off)
                    try obtain(via: ctx, token: nil, trigger: "renewal")
                    renewalsOK.add(1, ordering: .relaxed)
                    backoff.succeeded()
                    renewed()
                } catch {
                    // Retry sooner than 30 s when the certificate is short-lived: a sixth of its life at most.
                    let delay = backoff.failed(cap: max(1, life / 6))
                    renewalsFailed.add(1, ordering: .relaxed)
                    let left = id.leaf.notAfter - clock.wallSeconds()
                    log("renewal-failed", [("attempt", .int(backoff.attempt)), ("error", .string("\(error)")),
                                           ("secondsLeft", .int(Int(left)))])
                    if left < life / 4 && alarmed != id.leaf.serialHex {
                        alarmed = id.leaf.serialHex
                        log("certificate-expiring", [("serial", .string(id.leaf.serialHex)), ("secondsLeft", .int(Int(left)))])
                    }
                    nap(until: clock.wallSeconds() + delay)
                }
            }
        })
    }

    /// Sleeps in short steps so `stop` is noticed.
    private func nap(until t: Double) {
        while !stopped {
            let left = t - clock.wallSeconds()
            if left <= 0 { return }
            usleep(UInt32(min(left, 0.2) * 1_000_000))
        }
    }

    private func read(_ path: String) throws -> [UInt8] {
        switch FileIO.readAll(path, limit: 1 << 20) {
        case .success(let b): return b
        case .failure(let e): throw e
        }
    }
}


