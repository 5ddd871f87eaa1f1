import Foundation
import Glibc
import Testing

/// Black box, real processes: a rule's `rateLimit` and a control-plane throttle at the receiving sidecar.
/// Before this change the sidecar admitted every allowed connection whatever its rate (and a rule could not
/// say otherwise): `burstAboveTheRateIsRefused` admitted all 20 with the enforcement taken out.
@Suite("Rate limits at the receiving sidecar")
struct RateLimitTests {
    static let limited = #"{"name": "frontend-to-payments", "action": "allow", "from": {"services": ["shop/frontend"]}, "to": {"services": ["shop/payments"]}, "ports": [8080], "rateLimit": {"connectionsPerSecond": 5, "burst": 5}}"#
    static let frontend = "spiffe://mesh.local/ns/shop/sa/frontend"
    static let ok = "hello from payments\n"

    /// `n` calls one after the other; how many reached the app, and how long they took (seconds).
    static func burst(_ mesh: ManagedMesh, _ n: Int) -> (admitted: Int, seconds: Double) {
        let started = Date()
        var admitted = 0
        for _ in 0..<n where mesh.call("frontend").hasSuffix(ok) { admitted += 1 }
        return (admitted, Date().timeIntervalSince(started))
    }

    static func series(_ s: SidecarProcess, _ name: String) -> Int {
        s.admin("GET", "/metrics").body.split(separator: "\n").first { $0.hasPrefix(name + " ") }
            .flatMap { Int($0.split(separator: " ").last!) } ?? 0
    }

    /// 5/s, burst 5, 20 calls as fast as they go: the burst is admitted, plus at most what the bucket refilled
    /// while they ran (5 × elapsed, rounded up: the "±1 for timing"); every other call is refused
    /// `rate-limited`, counted under the rule in all three counters.
    @Test func burstAboveTheRateIsRefused() throws {
        let mesh = try ManagedMesh(rules: Self.limited, callers: ["frontend"])
        defer { mesh.stop() }
        let payments = mesh.sidecars["payments"]!
        let (admitted, seconds) = Self.burst(mesh, 20)
        print("rate limit 5/s burst 5: admitted \(admitted) of 20 in \(String(format: "%.3f", seconds)) s")
        let refill = Int((seconds * 5).rounded(.up))
        #expect(admitted >= 5 && admitted <= 5 + refill, "admitted \(admitted) of 20 in \(seconds) s")
        #expect(admitted < 20)
        let refused = 20 - admitted
        usleep(200_000)
        #expect(Self.series(payments, #"mesh_rate_limited_total{rule="frontend-to-payments"}"#) == refused)
        #expect(Self.series(payments, #"mesh_connection_failures_total{direction="inbound",reason="rate-limited"}"#) == refused)
        #expect(Self.series(payments, #"mesh_authz_decisions_total{direction="inbound",verdict="deny",rule="frontend-to-payments"}"#) == refused)
        #expect(Self.series(payments, #"mesh_authz_decisions_total{direction="inbound",verdict="allow",rule="frontend-to-payments"}"#) == admitted)
        let line = payments.waitForEvent(timeout: 3) { $0["event"] as? String == "refused" && $0["reason"] as? String == "rate-limited" }
        #expect(line?["rule"] as? String == "frontend-to-payments")
        #expect(line?["identity"] as? String == Self.frontend)
    }

    /// Below the rate (one call every 300 ms against 5/s) nothing is refused.
    @Test func belowTheRateNothingIsRefused() throws {
        let mesh = try ManagedMesh(rules: Self.limited, callers: ["frontend"])
        defer { mesh.stop() }
        var admitted = 0
        for _ in 0..<12 {
            if mesh.call("frontend").hasSuffix(Self.ok) { admitted += 1 }
            usleep(300_000)
        }
        #expect(admitted == 12)
        #expect(Self.series(mesh.sidecars["payments"]!, #"mesh_rate_limited_total{rule="frontend-to-payments"}"#) == 0)
    }

    /// A caller no rateLimit rule limits: `meshctl throttle add` limits it within about a second at the
    /// receiving sidecar; `meshctl throttle release` lifts it.
    @Test func throttleLimitsAnUnlimitedCallerAndReleaseLiftsIt() throws {
        let mesh = try ManagedMesh(rules: SegmentPolicyTests.frontendToPayments, callers: ["frontend"])
        defer { mesh.stop() }
        let payments = mesh.sidecars["payments"]!
        #expect(Self.burst(mesh, 20).admitted == 20)

        let add = try mesh.cp.meshctl(["throttle", "add", Self.frontend, "--per-second", "2", "--for", "1h"])
        #expect(add.status == 0, "\(add.stderr)")
        // Within ~1 s the new deny list (with the throttle) reaches the sidecar: calls start being refused.
        let added = Date()
        var firstRefusal: Double?
        while firstRefusal == nil && Date().timeIntervalSince(added) < 3 {
            if !mesh.call("frontend").hasSuffix(Self.ok) { firstRefusal = Date().timeIntervalSince(added) }
        }
        print("throttle: first refusal \(firstRefusal.map { String(format: "%.3f", $0) } ?? "never") s after meshctl returned")
        #expect(firstRefusal.map { $0 < 1.5 } == true)
        let metrics = try mesh.cp.meshctl(["metrics"])
        #expect(metrics.stdout.contains("mesh_control_throttles 1"), "\(metrics.stdout)")
        let list = try mesh.cp.meshctl(["throttle", "list"])
        #expect(list.stdout.contains(Self.frontend) && list.stdout.contains("operator"), "\(list.stdout)")
        // Once the bucket has refilled (1 s at 2/s), a burst is cut to 2 + what refills while it runs.
        usleep(1_000_000)
        let (admitted, seconds) = Self.burst(mesh, 20)
        print("throttle 2/s: admitted \(admitted) of 20 in \(String(format: "%.3f", seconds)) s")
        #expect(admitted >= 2 && admitted <= 2 + Int((seconds * 2).rounded(.up)), "admitted \(admitted) in \(seconds) s")
        // No rateLimit rule matched: the refusals are named after the allow rule that did.
        #expect(Self.series(payments, #"mesh_rate_limited_total{rule="frontend-to-payments"}"#) == 20 - admitted + 1)  // + the first refusal above

        let release = try mesh.cp.meshctl(["throttle", "release", Self.frontend])
        #expect(release.status == 0, "\(release.stderr)")
        usleep(1_000_000)
        #expect(Self.burst(mesh, 20).admitted == 20)
        let empty = try mesh.cp.meshctl(["-o", "json", "throttle", "list"])
        #expect(empty.stdout.contains(#""throttles":[]"#), "\(empty.stdout)")
    }

    /// `--for 2s`: limited at once; the control plane's tick drops it when it expires and audits that, and then
    /// nothing is limited. (That a sidecar ignores an expired entry by itself is `ThrottleList`'s unit test: right
    /// after expiry, under load, a burst here once saw 6 of 10 admitted — not explained yet, see the notes.)
    @Test func throttleExpires() throws {
        let mesh = try ManagedMesh(rules: SegmentPolicyTests.frontendToPayments, callers: ["frontend"])
        defer { mesh.stop() }
        let add = try mesh.cp.meshctl(["throttle", "add", Self.frontend, "--per-second", "1", "--for", "2s"])
        #expect(add.status == 0, "\(add.stderr)")
        usleep(300_000)
        #expect(Self.burst(mesh, 10).admitted <= 2)
        usleep(2_500_000)
        // The control plane's tick (about once a second, after the previous one finished) drops it.
        var list = try mesh.cp.meshctl(["-o", "json", "throttle", "list"])
        let deadline = Date().addingTimeInterval(5)
        while !list.stdout.contains(#""throttles":[]"#) && Date() < deadline {
            usleep(100_000)
            list = try mesh.cp.meshctl(["-o", "json", "throttle", "list"])
        }
        #expect(list.stdout.contains(#""throttles":[]"#), "\(list.stdout)")
        usleep(300_000)  // the slice without it reaches the sidecar
        #expect(Self.burst(mesh, 10).admitted == 10)
        let audit = try mesh.cp.meshctl(["-o", "json", "audit"])
        #expect(audit.stdout.contains("identity.throttle-expired"))
    }

    @Test func throttleUsageErrorsExit64() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        for args in [["throttle"], ["throttle", "add", Self.frontend], ["throttle", "add", Self.frontend, "--per-second", "0"],
                     ["throttle", "add", "not-an-id", "--per-second", "5"], ["throttle", "release"],
                     ["throttle", "add", Self.frontend, "--per-second", "5", "--for", "soon"]] {
            #expect(try cp.meshctl(args).status == 64, "\(args)")
        }
        let missing = try cp.meshctl(["throttle", "release", Self.frontend])
        #expect(missing.status == 1 && missing.stderr.contains("throttle.not-found"), "\(missing.stderr)")
    }
}
