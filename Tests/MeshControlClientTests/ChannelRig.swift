import ControlPlaneKit
import Foundation
import MeshAPI
import MeshControlClient
import MeshCore
import MeshNet
import MeshTLS
import Synchronization

/// A real control plane on 127.0.0.1 (real TLS) with a two-service mesh applied, and workload identities
/// issued by it, for the shared-channel tests.
final class ChannelRig: @unchecked Sendable {
    // @unchecked: every stored property is set in init and only read afterwards.
    let dir: String
    let controlPlane: ControlPlane
    let server: ControlServer
    let adminToken: String
    let address: SocketAddress
    let bundle: BundleAnswer
    let roots: [Certificate]

    static let services = """
    {"trustDomain": "mesh.local", "services": [
      {"namespace": "shop", "name": "frontend", "ports": [8080]},
      {"namespace": "shop", "name": "payments", "ports": [8080]}]}
    """
    static let rule = #"{"rules": [{"name": "web-to-payments", "action": "allow", "from": {"services": ["shop/frontend"]}, "to": {"services": ["shop/payments"]}, "ports": [8080]}]}"#

    /// `loops`: the server's event loops (default 2, so every channel test also runs across loops).
    init(settings: ControlSettings = ControlSettings(), loops: Int = 2) throws {
        Syscall.ignoreSIGPIPE()  // as `mesh-control serve` does: the in-process server writes to sockets peers may close
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("chan-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        let passphrase = Array("correct horse battery staple".utf8)
        adminToken = try ControlPlane.initialize(dataDir: dir, trustDomain: TrustDomain("mesh.local"), passphrase: passphrase,
                                                 now: SystemClock().wallSeconds(), imported: nil)
        controlPlane = try ControlPlane(dataDir: dir, passphrase: passphrase, settings: settings)
        server = try ControlServer(controlPlane: controlPlane, loops: loops)
        try server.start(address: SocketAddress(HostPort(host: "127.0.0.1", port: 0)))
        address = server.boundAddress!
        bundle = try ControlPlaneClient(addresses: [address], tls: TLSContext.insecureClientForBootstrap(), expectServer: nil,
                                        skipServerVerification: true).bundle()
        roots = try Certificate.parseChain(pem: Array(bundle.bundlePEM.utf8), maxCount: 64, maxBytes: 1 << 20)
        try apply(rules: Self.rule)
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Applies the mesh with `rules` (a new version: parked polls are answered at once).
    func apply(rules: String) throws {
        _ = try controlPlane.applyPolicy([PolicyFile(name: "services.json", content: Self.services),
                                          PolicyFile(name: "rules.json", content: rules)],
                                         ifMatch: controlPlane.policy.version, actor: "test")
    }

    /// An operator's one-shot client (admin token, no certificate).
    func admin() throws -> ControlPlaneClient {
        ControlPlaneClient(addresses: [address], tls: try TLSContext.client(trusting: roots, trustDomain: bundle.trustDomain),
                           expectServer: bundle.controlPlane, bearerToken: adminToken)
    }

    /// A workload identity for `service`, bootstrapped with a join token as a sidecar does.
    func workload(_ service: String = "shop/frontend") throws -> TLSIdentity {
        let token = try admin().createToken(TokenRequest(service: service, ttlSeconds: 600))
        return try issue(token: token.token, with: try TLSContext.client(trusting: roots, trustDomain: bundle.trustDomain))
    }

    /// A new key and certificate from `client` (a token, or a renewal with the client's certificate).
    func issue(token: String?, with ctx: TLSContext? = nil, client: ControlPlaneClient? = nil) throws -> TLSIdentity {
        let key = try PrivateKey.generateP256()
        let csr = String(decoding: try CertificateSigningRequest.create(key: key).pem(), as: UTF8.self)
        let c = client ?? ControlPlaneClient(addresses: [address], tls: ctx!, expectServer: bundle.controlPlane)
        let answer = try c.issue(IdentityRequest(csrPEM: csr, token: token))
        return try TLSIdentity(certificatePEM: Array(answer.certificateChainPEM.utf8), keyPEM: key.pem(),
                               bundlePEM: Array(answer.trustBundlePEM.utf8), trustDomain: bundle.trustDomain)
    }

    /// A channel presenting whatever `holder` holds, and a sidecar-style client on it.
    func channel(_ holder: IdentityHolder, settings: ControlChannel.Settings = ControlChannel.Settings()) -> ControlChannel {
        ControlChannel(addresses: [address], expectServer: bundle.controlPlane, settings: settings) { holder.identity }
    }

    func client(on channel: ControlChannel, identity: TLSIdentity, timeoutMs: Int = 10_000) throws -> ControlPlaneClient {
        ControlPlaneClient(addresses: [address], tls: try TLSContext(role: .client, identity: identity, resumption: .off),
                           expectServer: bundle.controlPlane, timeoutMs: timeoutMs, maxBodyBytes: 64 << 20, channel: channel)
    }
}

/// The identity in force, swapped by a test as a renewal's reload would.
final class IdentityHolder: Sendable {
    private let current: Mutex<TLSIdentity>
    init(_ id: TLSIdentity) { current = Mutex(id) }
    var identity: TLSIdentity { current.withLock { $0 } }
    func set(_ id: TLSIdentity) { current.withLock { $0 = id } }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double { Double(SystemClock().monotonicMs()) / 1000 }

func meshError(_ body: () throws -> Void) -> MeshError? {
    do { try body() } catch let e as MeshError { return e } catch { return MeshError(.internalFailure, "\(error)") }
    return nil
}
