import Foundation
import Glibc
import Synchronization
import Testing

/// Black box (hardening #2): a decision taken at the end of a handshake uses the policy in force at that moment,
/// not the one the connection saw when it was accepted. A proxy in the test holds the last flight of the
/// handshake while the permission is revoked, then lets it through.
@Suite("Revocation during a handshake")
struct HandshakeRevocationTests {
    /// Points frontend's outbound listener at `proxy` (upstream addresses are applied on reload).
    static func route(_ mesh: MeshFixture, through proxy: FlightHoldingProxy) throws {
        try mesh.frontend.rewriteConfig { cfg in
            var outbound = cfg["outbound"] as! [[String: Any]]
            outbound[0]["upstream"] = "127.0.0.1:\(proxy.port)"
            cfg["outbound"] = outbound
        }
        let r = mesh.frontend.admin("POST", "/reload")
        #expect(r.status == 200, "\(r.body)")
    }

    /// One HTTP call through frontend on its own thread; `answer` holds the response once `done` is signalled.
    final class BackgroundCall: Sendable {
        let answer = Mutex<String?>(nil)
        let done = DispatchSemaphore(value: 0)

        init(port: UInt16) {
            spawnThread { [self] in
                let text = TCP.httpGet(port: port)
                answer.withLock { $0 = text }
                done.signal()
            }
        }
    }

    @Test func inboundRevokedWhileClientFinishedIsHeldIsRefused() throws {
        let mesh = try MeshFixture()
        defer { mesh.stop() }
        let proxy = try FlightHoldingProxy(to: mesh.inboundPort, holding: .fromClient)
        defer { proxy.stop() }
        try Self.route(mesh, through: proxy)
        let appBefore = mesh.app.accepted.load(ordering: .relaxed)
        let call = BackgroundCall(port: mesh.frontendPort)
        #expect(proxy.waitHolding(), "the client's last flight never reached the proxy")
        try mesh.payments.rewriteConfig { cfg in
            var inbound = cfg["inbound"] as! [[String: Any]]
            inbound[0]["allow"] = [String]()
            cfg["inbound"] = inbound
        }
        #expect(mesh.payments.admin("POST", "/reload").status == 200)
        proxy.release()
        #expect(call.done.wait(timeout: .now() + 15) == .success)
        let text = call.answer.withLock { $0 } ?? "timeout"
        #expect(!text.contains("hello from payments"), "a revoked peer reached the app: \(text.prefix(60))")
        #expect(mesh.app.accepted.load(ordering: .relaxed) == appBefore)
        let refused = mesh.payments.waitForEvent {
            $0["event"] as? String == "refused" && $0["identity"] as? String == "spiffe://mesh.local/ns/shop/sa/frontend"
        }
        #expect(["permission-revoked", "identity-not-allowed"].contains(refused?["reason"] as? String ?? ""),
                "\(String(describing: refused))")
    }

    @Test func outboundExpectIdentityChangedWhileServerFlightIsHeldIsRefused() throws {
        let mesh = try MeshFixture()
        defer { mesh.stop() }
        let proxy = try FlightHoldingProxy(to: mesh.inboundPort, holding: .fromServer)
        defer { proxy.stop() }
        try Self.route(mesh, through: proxy)
        let bytesBefore = mesh.app.bytesReceived.load(ordering: .relaxed)
        let call = BackgroundCall(port: mesh.frontendPort)
        #expect(proxy.waitHolding(), "the server's flight never reached the proxy")
        try mesh.frontend.rewriteConfig { cfg in
            var outbound = cfg["outbound"] as! [[String: Any]]
            outbound[0]["expectIdentity"] = "spiffe://mesh.local/ns/shop/sa/ledger"
            cfg["outbound"] = outbound
        }
        #expect(mesh.frontend.admin("POST", "/reload").status == 200)
        proxy.release()
        #expect(call.done.wait(timeout: .now() + 15) == .success)
        let text = call.answer.withLock { $0 } ?? "timeout"
        #expect(!text.contains("hello from payments"), "an upstream that is no longer expected was used: \(text.prefix(60))")
        // payments may dial its app (it allows frontend), but no byte of the request may get there.
        #expect(mesh.app.bytesReceived.load(ordering: .relaxed) == bytesBefore)
        let refused = mesh.frontend.waitForEvent { $0["event"] as? String == "refused" && $0["direction"] as? String == "outbound" }
        #expect(["server-identity-mismatch", "server-identity-changed"].contains(refused?["reason"] as? String ?? ""),
                "\(String(describing: refused))")
    }
}
