import Foundation
import Glibc
import Testing
import MeshCore
@testable import MeshTLS

/// Black box: a HEAD answer carries headers only, so the next answer on a keep-alive connection starts where the
/// client expects it (no desync), on every HTTP server we run.
@Suite("HEAD requests")
struct HeadRequestTests {
    static let pair = "HEAD /stats HTTP/1.1\r\nHost: t\r\n\r\nGET /stats HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"

    /// Splits two answers: the first head, and what follows it (which must be the second answer's status line).
    static func check(_ received: [UInt8], headPath: String) {
        let text = String(decoding: received, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else {
            Issue.record("no complete answer to HEAD \(headPath): \(text)")
            return
        }
        let head = text[..<end.lowerBound].lowercased()
        let rest = text[end.upperBound...]
        #expect(head.contains("content-length: ") && !head.contains("content-length: 0\r"), "HEAD keeps the GET length: \(head)")
        #expect(rest.hasPrefix("HTTP/1.1 "), "after the HEAD answer comes the next answer, not a body: \(rest.prefix(80))")
    }

    @Test func statsEndpointAnswersHeadWithoutBody() throws {
        let mesh = try MeshFixture()
        defer { mesh.stop() }
        let fd = try TCP.connect(port: mesh.payments.adminPort, timeoutSeconds: 5)
        defer { close(fd) }
        #expect(TCP.sendAll(fd, Array(Self.pair.utf8)))
        Self.check(TCP.readToEOF(fd).bytes, headPath: "/stats")
    }

    @Test func controlPlaneAnswersHeadWithoutBody() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        let bundle = try Certificate.parseChain(pem: Array(try Data(contentsOf: URL(fileURLWithPath: "\(cp.dataDir)/bundle.pem"))), maxCount: 16)
        let ctx = try TLSContext.client(trusting: bundle, trustDomain: TrustDomain("mesh.local"))
        // Unauthenticated, so both answers are the same 401 with a JSON body; the HEAD one must not carry it.
        let pair = "HEAD /v1/mesh HTTP/1.1\r\nHost: t\r\n\r\nGET /v1/mesh HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        let out = try BlockingTLSClient.connect(port: cp.port, context: ctx, send: Array(pair.utf8))
        Self.check(out.received, headPath: "/v1/mesh")
    }
}
