import ControlPlaneKit
import Foundation
import MeshAPI
import MeshControlClient
import MeshCore
import MeshNet
import MeshTLS
import Testing

/// The client against a real control plane on 127.0.0.1: typed answers, refusals as `MeshError`s with their
/// declared kinds, and fail-over past an address that refuses connections.
@Suite struct ControlPlaneClientTests {
    /// A control plane serving on an ephemeral loopback port, in a fresh folder.
    final class LiveControlPlane {
        let dir: String
        let server: ControlServer
        let adminToken: String
        let address: SocketAddress

        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("cpc-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
            let passphrase = Array("correct horse battery staple".utf8)
            adminToken = try ControlPlane.initialize(dataDir: dir, trustDomain: TrustDomain("mesh.local"), passphrase: passphrase,
                                                     now: SystemClock().wallSeconds(), imported: nil)
            let cp = try ControlPlane(dataDir: dir, passphrase: passphrase, settings: ControlSettings())
            server = try ControlServer(controlPlane: cp)
            try server.start(address: SocketAddress(HostPort(host: "127.0.0.1", port: 0)))
            address = server.boundAddress!
        }

        deinit {
            server.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }

        /// The bundle fetched without checking the server, as a bootstrapping sidecar does.
        func bundle() throws -> BundleAnswer {
            try ControlPlaneClient(addresses: [address], tls: TLSContext.insecureClientForBootstrap(), expectServer: nil,
                                   skipServerVerification: true).bundle()
        }

        /// A client that trusts the bundle and expects the control plane's identity.
        func client(admin: Bool = true, addresses: [SocketAddress]? = nil) throws -> ControlPlaneClient {
            let b = try bundle()
            let roots = try Certificate.parseChain(pem: Array(b.bundlePEM.utf8), maxCount: 64, maxBytes: 1 << 20)
            return ControlPlaneClient(addresses: addresses ?? [address], tls: try TLSContext.client(trusting: roots, trustDomain: b.trustDomain),
                                      expectServer: b.controlPlane, bearerToken: admin ? adminToken : nil)
        }
    }

    func refusal(_ body: () throws -> Void) -> MeshError? {
        do { try body() } catch let e as MeshError { return e } catch { Issue.record("not a MeshError: \(error)") }
        return nil
    }

    @Test func typedCallsFromBundleToIdentity() throws {
        let live = try LiveControlPlane()
        let bundle = try live.bundle()
        #expect(bundle.trustDomain.name == "mesh.local")
        #expect(bundle.controlPlane.description == "spiffe://mesh.local/ns/mesh-system/sa/mesh-control")

        let client = try live.client()
        let ca = try client.caStatus()
        #expect(ca.trustDomain == "mesh.local")
        #expect(ca.roots.map(\.id) == [ca.issuing])
        #expect(ca.roots.first?.phase == "issuing")

        let token = try client.createToken(TokenRequest(service: "shop/cart", ttlSeconds: 600))
        #expect(token.spiffeID.description == "spiffe://mesh.local/ns/shop/sa/cart")

        let key = try PrivateKey.generateP256()
        let csr = String(decoding: try CertificateSigningRequest.create(key: key).pem(), as: UTF8.self)
        let issued = try client.issue(IdentityRequest(csrPEM: csr, token: token.token))
        #expect(issued.spiffeID == token.spiffeID)
        let chain = try Certificate.parseChain(pem: Array(issued.certificateChainPEM.utf8), maxCount: 8, maxBytes: 1 << 20)
        #expect(chain.first?.serialHex == issued.serial)
        #expect(issued.notAfter == Int(chain[0].notAfter))

        // A join token is single use: the refusal comes back with its code and declared kind.
        let again = refusal { _ = try client.issue(IdentityRequest(csrPEM: csr, token: token.token)) }
        #expect(again?.errorCode == .tokenUsed)
        #expect(again?.kind == .forbidden)

        let status = try client.sidecars()
        #expect(status.sidecars.isEmpty)
    }

    @Test func refusalsCarryTheServersCodeAndKind() throws {
        let live = try LiveControlPlane()
        let anonymous = try live.client(admin: false)
        let noAdmin = refusal { _ = try anonymous.createToken(TokenRequest(service: "shop/cart", ttlSeconds: nil)) }
        #expect(noAdmin?.errorCode == .authRequired)
        #expect(noAdmin?.kind == .unauthenticated)

        let noCertificate = refusal { _ = try anonymous.pollSlice(after: -1) }
        #expect(noCertificate?.errorCode == .authSidecarRequired)

        let notFound = refusal { _ = try anonymous.json("GET", "/v1/nothing-here") }
        #expect(notFound?.errorCode == .httpNotFound)

        // A 200 that is not the promised answer is the server's fault: unavailable, so callers retry it.
        let wrongShape = refusal { _ = try anonymous.call("GET", "/v1/bundle", as: TokenAnswer.self) }
        #expect(wrongShape?.errorCode == .apiUnexpectedAnswer)
        #expect(wrongShape?.reason.contains("api.unknown-field") == true)
        // A 200 whose body is not JSON at all.
        let notJSON = refusal { _ = try anonymous.json("GET", "/healthz") }
        #expect(notJSON?.errorCode == .apiUnexpectedAnswer)
    }

    @Test func failsOverPastAnAddressThatRefusesConnections() throws {
        let live = try LiveControlPlane()
        let closed = try SocketAddress(HostPort(host: "127.0.0.1", port: 1))
        let client = try live.client(addresses: [closed, live.address])
        #expect(try client.caStatus().trustDomain == "mesh.local")

        let onlyClosed = try live.client(addresses: [closed])
        #expect(refusal { _ = try onlyClosed.caStatus() }?.errorCode == .httpConnect)
    }
}
