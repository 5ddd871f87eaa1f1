import ControlPlaneKit
import Dispatch
import MeshAlerts
import MeshAPI
import MeshCore
import MeshHTTP
import MeshNet
import Synchronization
import Testing

/// Webhook delivery against a small local HTTP receiver: success, retries with back-off then giving up, the
/// bounded queue's overflow counted, and URLs we cannot deliver to refused up front.
@Suite struct AlertWebhookTests {
    /// A plain-HTTP receiver on 127.0.0.1: answers every POST with `status` and keeps the bodies.
    final class Receiver: Sendable {
        let loop: EventLoop
        let server: HTTPServer
        let thread: LoopThread
        final class Seen: Sendable {
            let bodies = Mutex<[String]>([])
            let status = Mutex(200)
        }
        let seen = Seen()
        var count: Int { seen.bodies.withLock { $0.count } }
        var bodies: [String] { seen.bodies.withLock { $0 } }
        func answer(_ status: Int) { seen.status.withLock { $0 = status } }

        init() throws {
            loop = try EventLoop()
            let seen = self.seen
            server = try HTTPServer(loop: loop, address: try SocketAddress(HostPort(host: "127.0.0.1", port: 0))) { req, respond in
                seen.bodies.withLock { $0.append(String(decoding: req.body, as: UTF8.self)) }
                respond(HTTPResponse(status: seen.status.withLock { $0 }))
            }
            thread = loop.startThread()
        }

        var url: String { "http://\(server.address)/hooks/alerts" }

        func stop() {
            loop.execute { [server] in server.close() }
            loop.stop()
            thread.join()
        }
    }

    static func transition(_ n: Int) -> AlertTransition {
        var e = AlertEvaluator(rules: [AlertRule(name: "spike", kind: .denySpike, severity: .warning, threshold: 1)], trustDomain: "mesh.local")
        var counts = EdgeCounts()
        counts.connections = 2
        let caller = "spiffe://mesh.local/ns/shop/sa/w\(n)"
        let edge = TelemetryEdge(key: EdgeKey(observer: .outbound, caller: caller, destination: "shop/orders", port: 8080, allowed: false,
                                              rule: "default-deny", reason: "policy-denied"), counts: counts)
        let report = TelemetryReport(source: try! SPIFFEID(parsing: caller), instance: "i", seq: 1, policyVersion: 1, windowStart: 0,
                                     windowEnd: 0, edges: [edge])
        return e.observe(report, now: n)[0]
    }

    @Test func deliversEachTransitionAsJSON() throws {
        let receiver = try Receiver()
        defer { receiver.stop() }
        let hook = try AlertWebhook(url: receiver.url, sleep: { _ in })
        hook.send(Self.transition(1))
        hook.send(Self.transition(2))
        hook.drain()
        #expect(hook.counts == AlertWebhook.Counts(delivered: 2))
        let bodies = receiver.bodies
        #expect(bodies.count == 2)
        let first = try StrictJSON.parse(Array(bodies[0].utf8))
        #expect(first["event"]?.stringValue == "alert-firing")
        #expect(first["alert"]?["subject"]?.stringValue == "spiffe://mesh.local/ns/shop/sa/w1")
        #expect(first["alert"]?["evidence"]?["count"]?.intValue == 2)
    }

    @Test func retriesWithBackOffThenGivesUp() throws {
        let receiver = try Receiver()
        defer { receiver.stop() }
        receiver.answer(503)
        let waits = Mutex<[Double]>([])
        let hook = try AlertWebhook(url: receiver.url, sleep: { s in waits.withLock { $0.append(s) } })
        hook.send(Self.transition(1))
        hook.drain()
        #expect(receiver.count == AlertWebhook.maxAttempts)
        #expect(waits.withLock { $0 } == [1, 2, 4, 8])
        #expect(hook.counts == AlertWebhook.Counts(retried: 4, failed: 1))
        // The next one is delivered once the receiver is back.
        receiver.answer(204)
        hook.send(Self.transition(2))
        hook.drain()
        #expect(hook.counts == AlertWebhook.Counts(delivered: 1, retried: 4, failed: 1))
    }

    @Test func aFullQueueDropsAndCounts() throws {
        let receiver = try Receiver()
        defer { receiver.stop() }
        receiver.answer(500)
        let gate = DispatchSemaphore(value: 0)
        let first = Mutex(true)
        // The first failed attempt parks the worker until the queue has been overfilled.
        let hook = try AlertWebhook(url: receiver.url, sleep: { _ in if first.withLock({ f in defer { f = false }; return f }) { gate.wait() } })
        hook.send(Self.transition(0))
        while receiver.count < 1 { AlertWebhook.nap(0.005) }
        let t = Self.transition(1)
        for _ in 0..<(AlertWebhook.maxQueued + 5) { hook.send(t) }
        #expect(hook.counts.dropped == 5)
        receiver.answer(200)
        gate.signal()
        hook.drain()
        #expect(hook.counts == AlertWebhook.Counts(delivered: AlertWebhook.maxQueued + 1, retried: 1, failed: 0, dropped: 5))
    }

    @Test(arguments: ["https://127.0.0.1:9/x", "http://hooks.example.com/x", "ftp://x", "http://127.0.0.1/x"])
    func refusesURLsItCannotDeliverTo(_ url: String) {
        #expect(throws: MeshError.self) { try AlertWebhook(url: url) }
        do { _ = try AlertWebhook(url: url) } catch { #expect(error.errorCode == .alertBadWebhook) }
    }
}
