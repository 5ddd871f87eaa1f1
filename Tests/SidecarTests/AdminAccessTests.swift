import Foundation
import Synchronization
import Testing
import MeshCore
import MeshHTTP
import MeshHTTP1
import MeshNet
import MeshTLS
@testable import SidecarKit
import MeshTestSupport

/// The stats endpoint's access rule, driven without a socket: the caller's address is an input, so a
/// non-loopback caller can be tested on a machine where every test peer is on loopback.
@Suite("Stats endpoint access")
struct AdminAccessTests {
    static func sidecar() throws -> Sidecar {
        let td = try TrustDomain("mesh.local")
        let now = Date().timeIntervalSince1970
        let ca = try TestCA(trustDomain: td, now: now).ca
        let key = try PrivateKey.generateP256()
        let id = try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/payments")
        let cert = try ca.issue(.svid(id, now: now, lifetime: 3600), for: key)
        let identity = try TLSIdentity(chain: [cert], key: key, trustBundle: [ca.certificate], trustDomain: td)
        let config = SidecarConfig(identity: IdentityFiles(certificate: "/nonexistent.crt", key: "/nonexistent.key",
                                                           trustBundle: "/nonexistent.pem", trustDomain: td),
                                   inbound: [InboundListener(name: "api", listen: HostPort(host: "127.0.0.1", port: 1),
                                                             forwardTo: HostPort(host: "127.0.0.1", port: 2), allow: [])])
        let state = try SidecarState(config: config, identity: identity, generation: 1, loadedAt: now)
        let runtime = SidecarRuntime(config: config, state: state, log: try EventLog(path: "/dev/null"))
        return Sidecar(runtime: runtime, configPath: "/nonexistent.json")
    }

    static func call(_ handler: HTTPHandler, _ method: String, _ path: String, from host: String) -> HTTPResponse? {
        let answer = Mutex<HTTPResponse?>(nil)
        let req = HTTPRequest(head: HTTPRequestHead(method: method, target: path, headers: HTTPHeaders([("Host", "127.0.0.1")])),
                              body: [], peer: try! SocketAddress(HostPort(host: host, port: 40000)))
        handler(req) { r in answer.withLock { $0 = r } }
        return answer.withLock { $0 }
    }

    @Test(arguments: ["192.0.2.10", "10.1.2.3", "2001:db8::1"])
    func refusesStateChangesFromNonLoopbackCallers(_ host: String) throws {
        let handler = AdminServer.handler(sidecar: try Self.sidecar())
        let r = Self.call(handler, "POST", "/reload", from: host)
        #expect(r?.status == 403)
        let body = String(decoding: r?.body ?? [], as: UTF8.self)
        #expect(body.contains("admin.not-loopback"))
        // Reading stays allowed (an operator may bind the endpoint elsewhere for scraping).
        #expect(Self.call(handler, "GET", "/healthz", from: host)?.status == 200)
    }

    @Test(arguments: ["127.0.0.1", "127.9.9.9", "::1"])
    func acceptsStateChangesFromLoopback(_ host: String) throws {
        let handler = AdminServer.handler(sidecar: try Self.sidecar())
        // The reload itself fails (no config file at that path), which proves it was attempted: 422, not 403.
        let r = Self.call(handler, "POST", "/reload", from: host)
        #expect(r?.status == 422)
    }
}
