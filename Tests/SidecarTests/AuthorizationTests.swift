import Foundation
import Glibc
import Testing
import MeshCore
@testable import MeshTLS

/// Black box: real `mesh-sidecar` processes on loopback, real OpenSSL, certificates minted per test.
@Suite("Who reaches the app")
struct AuthorizationTests {
    @Test func allowedIdentityReachesTheApp() throws {
        let mesh = try MeshFixture()
        defer { mesh.stop() }
        let response = TCP.httpGet(port: mesh.frontendPort)
        #expect(response.hasPrefix("HTTP/1.1 200 OK"))
        #expect(response.hasSuffix("hello from payments\n"))
        let allowed = mesh.payments.waitForEvent { $0["event"] as? String == "allowed" }
        #expect(allowed?["identity"] as? String == "spiffe://mesh.local/ns/shop/sa/frontend")
        #expect(allowed?["rule"] as? String == "http/allow/0")
        #expect(mesh.fdsAfterSettling() == mesh.baselineFDs)
    }

    @Test func validIdentityThatIsNotAllowedIsRefusedBeforeTheApp() throws {
        let mesh = try MeshFixture()
        defer { mesh.stop() }
        let before = mesh.app.accepted.load(ordering: .relaxed)
        let response = TCP.httpGet(port: mesh.intruderPort)
        #expect(response == "")
        let refused = mesh.payments.waitForEvent { $0["reason"] as? String == "identity-not-allowed" }
        #expect(refused?["identity"] as? String == "spiffe://mesh.local/ns/shop/sa/intruder")
        #expect(refused?["rule"] as? String == "default-deny")
        #expect(refused?["verdict"] as? String == "deny")
        #expect(refused?["port"] as? Int == Int(mesh.inboundPort))
        #expect(refused?["peer"] as? String != nil)
        #expect(mesh.app.accepted.load(ordering: .relaxed) == before)
        #expect(mesh.fdsAfterSettling() == mesh.baselineFDs)
    }

    @Test func clientWithoutCertificateIsRefused() throws {
        let mesh = try MeshFixture()
        defer { mesh.stop() }
        let before = mesh.app.accepted.load(ordering: .relaxed)
        let identity = try TLSIdentity(certificatePEM: Array(try Data(contentsOf: URL(fileURLWithPath: "\(mesh.pki.dir)/frontend.crt"))),
                                       keyPEM: Array(try Data(contentsOf: URL(fileURLWithPath: "\(mesh.pki.dir)/frontend.key"))),
                                       bundlePEM: mesh.pki.ca.certificate.pem(), trustDomain: mesh.pki.trustDomain)
        let ctx = try TLSContext(role: .client, identity: identity, resumption: .off, sessionCacheSize: 1,
                                 sessionLifetimeSeconds: 1, presentCertificate: false)
        let outcome = try BlockingTLSClient.connect(port: mesh.inboundPort, context: ctx, send: Array("GET / HTTP/1.1\r\n\r\n".utf8))
        #expect(outcome.received.isEmpty)
        let refused = mesh.payments.waitForEvent { $0["reason"] as? String == "no-client-certificate" }
        #expect(refused != nil)
        #expect(mesh.app.accepted.load(ordering: .relaxed) == before)
    }

    @Test(arguments: [("plaintext HTTP", "plaintext-http"), ("random bytes", "not-tls")])
    func nonTLSBytesOnTheMTLSPortAreRefused(_ label: String, _ reason: String) throws {
        let bytes: [UInt8] = label == "plaintext HTTP" ? Array("GET / HTTP/1.1\r\nHost: payments\r\n\r\n".utf8)
                                                       : (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        let mesh = try MeshFixture()
        defer { mesh.stop() }
        let before = mesh.app.accepted.load(ordering: .relaxed)
        let fd = try TCP.connect(port: mesh.inboundPort, timeoutSeconds: 5)
        _ = TCP.sendAll(fd, bytes)
        let answer = TCP.readToEOF(fd)
        close(fd)
        #expect(!String(decoding: answer.bytes, as: UTF8.self).contains("hello"), "\(label)")
        let refused = mesh.payments.waitForEvent { $0["reason"] as? String == reason }
        #expect(refused != nil, "\(label): no refusal with reason \(reason) in \(mesh.payments.logEvents())")
        #expect(mesh.app.accepted.load(ordering: .relaxed) == before)
        #expect(mesh.fdsAfterSettling() == mesh.baselineFDs)
    }

    @Test func serverPresentingAnotherIdentityIsRefusedByTheOutboundSide() throws {
        let mesh = try MeshFixture(frontendExpects: "spiffe://mesh.local/ns/shop/sa/ledger")
        defer { mesh.stop() }
        let before = mesh.app.accepted.load(ordering: .relaxed)
        let response = TCP.httpGet(port: mesh.frontendPort)
        #expect(response == "")
        let refused = mesh.frontend.waitForEvent { $0["reason"] as? String == "server-identity-mismatch" }
        #expect(refused?["identity"] as? String == nil || refused?["identity"] as? String == "spiffe://mesh.local/ns/shop/sa/payments")
        #expect(refused?["direction"] as? String == "outbound")
        // The payments side did allow frontend and dialled its app, but the outbound side hung up before
        // forwarding a byte of the request.
        usleep(200_000)
        #expect(mesh.app.accepted.load(ordering: .relaxed) <= before + 1)
        #expect(mesh.app.bytesReceived.load(ordering: .relaxed) == 0)
    }
}
