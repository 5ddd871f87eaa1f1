import Foundation
import Synchronization
import MeshAPI
import MeshCore
import MeshHTTP
import MeshNet
import MeshTLS
import MeshTestSupport

/// A control plane in the path (the attack of hardening item 1): its own root signs a certificate with the
/// control plane's SPIFFE ID; `/v1/bundle` answers `offered` roots (e.g. the real root + its own), and
/// `/v1/identity` records any join token it receives and signs the CSR with its own root.
final class FakeControlPlane: @unchecked Sendable {
    // @unchecked: `server` is set once before the loop thread starts and touched only on it afterwards.
    let attacker: TestCA
    let loop: EventLoop
    var server: HTTPServer?
    var thread: LoopThread?
    let tokens = Mutex<[String]>([])
    let bundleCalls = Atomic<Int>(0)

    init(attacker: TestCA, offered: [Certificate]) throws {
        self.attacker = attacker
        loop = try EventLoop(index: 0)
        let controlID = try SPIFFEID.workload("spiffe://mesh.local/ns/mesh-system/sa/mesh-control")
        let serving = try TLSContext.apiServer(identity: try attacker.identity(controlID.description))
        let bundlePEM = offered.map { String(decoding: $0.pem(), as: UTF8.self) }.joined()
        let attacker = self.attacker
        server = try HTTPServer(loop: loop, address: SocketAddress(HostPort(host: "127.0.0.1", port: 0)), tls: serving, handler: { [self] req, respond in
            switch (req.method, req.path) {
            case ("GET", "/v1/bundle"):
                bundleCalls.add(1, ordering: .relaxed)
                respond(.json(BundleAnswer(trustDomain: TestCA.meshDomain, bundlePEM: bundlePEM, controlPlane: controlID).json.text))
            case ("POST", "/v1/identity"):
                guard let ask = try? IdentityRequest(bytes: req.body) else { return respond(.error(400, code: "api.bad-value", reason: "bad")) }
                if let t = ask.token { tokens.withLock { $0.append(t) } }
                do {
                    let csr = try CertificateSigningRequest(pem: Array(ask.csrPEM.utf8))
                    let id = try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/payments")
                    let cert = try attacker.ca.issue(.svid(id, now: attacker.now, lifetime: 3600), for: csr)
                    respond(.json(IdentityAnswer(spiffeID: id, certificateChainPEM: String(decoding: cert.pem(), as: UTF8.self),
                                                 trustBundlePEM: bundlePEM, serial: cert.serialHex,
                                                 notAfter: Int(cert.notAfter)).json.text))
                } catch {
                    respond(.error(500, code: "ca.sign", reason: "\(error)"))
                }
            default:
                respond(.error(404, code: "api.not-found", reason: "no route"))
            }
        })
        thread = loop.startThread()
    }

    var port: UInt16 { server!.address.port }

    func stop() {
        loop.execute { [self] in server?.close() }
        loop.stop()
        thread?.join()
    }
}
