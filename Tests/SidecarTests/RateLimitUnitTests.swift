import Foundation
import MeshCore
import MeshPolicy
@testable import SidecarKit
import Testing

/// Token buckets, the per-loop LRU of callers, the policy field and the throttle list, without sockets.
@Suite struct RateLimitUnitTests {
    static func id(_ name: String) -> SPIFFEID { try! SPIFFEID(parsing: "spiffe://mesh.local/ns/shop/sa/\(name)") }

    static func load(_ rule: String) throws -> MeshPolicy {
        let doc = #"{"trustDomain": "mesh.local", "services": [{"namespace": "shop", "name": "payments", "ports": [8080]}, {"namespace": "shop", "name": "frontend", "ports": [8080]}], "rules": ["# + rule + "]}"
        return try MeshPolicy.load(files: [(name: "mesh.json", bytes: Array(doc.utf8))])
    }

    static func rule(_ rateLimit: String, action: String = "allow") -> String {
        #"{"name": "fe", "action": ""# + action + #"", "from": {"services": ["shop/frontend"]}, "to": {"services": ["shop/payments"]}, "rateLimit": "# + rateLimit + "}"
    }

    @Test func bucketIsExactOnAnInjectedClock() {
        let limit = RateLimit(connectionsPerSecond: 5, burst: 5)
        let tighter = RateLimit(connectionsPerSecond: 1, burst: 1)
        var b = TokenBucket(full: limit, now: 100)
        // (limit, time) → admitted?
        let steps: [(RateLimit, Double, Bool)] = [
            (limit, 100, true), (limit, 100, true), (limit, 100, true), (limit, 100, true), (limit, 100, true),
            (limit, 100, false), (limit, 100.19, false),  // 0.95 token
            (limit, 100.2, true), (limit, 100.2, false),  // exactly 1 token after 200 ms
            (limit, 110, true), (limit, 110, true), (limit, 110, true), (limit, 110, true), (limit, 110, true),
            (limit, 110, false),                           // refilled to the burst, not beyond
            (limit, 50, false),                            // a clock going back mints nothing
            (tighter, 111, true), (tighter, 111.5, false), // 5 tokens capped to the tighter burst of 1
        ]
        var got: [Bool] = []
        for (l, t, _) in steps { got.append(b.take(l, now: t)) }
        #expect(got == steps.map(\.2))
    }

    @Test func defaultBurstIsOneSecondAtLeastOne() {
        #expect(RateLimit(connectionsPerSecond: 20).burst == 20)
        #expect(RateLimit(connectionsPerSecond: 0.5).burst == 1)
        #expect(RateLimit(connectionsPerSecond: 0).problem != nil)
        #expect(RateLimit(connectionsPerSecond: 100_001).problem != nil)
        #expect(RateLimit(connectionsPerSecond: 10, burst: 2).tighter(RateLimit(connectionsPerSecond: 3, burst: 3)) == RateLimit(connectionsPerSecond: 3, burst: 2))
    }

    @Test func lruKeepsAtMostCapCallersAndEvictsTheLeastRecent() {
        let limit = RateLimit(connectionsPerSecond: 1, burst: 1)
        var buckets = CallerBuckets(cap: 3)
        let keys = ["a", "b", "c", "d"].map { CallerBuckets.Key(identity: Self.id($0), rule: "r") }
        var got: [Bool] = []
        for k in keys.prefix(3) { got.append(buckets.admit(k, limit: limit, now: 0)) }
        got.append(buckets.admit(keys[0], limit: limit, now: 0))  // refused; a is now the most recent
        got.append(buckets.admit(keys[3], limit: limit, now: 0))  // evicts b, the least recent
        #expect(got == [true, true, true, false, true])
        #expect(buckets.count == 3 && buckets.evictions == 1)
        #expect(!buckets.tracks(keys[1]) && buckets.tracks(keys[0]) && buckets.tracks(keys[2]) && buckets.tracks(keys[3]))
        let back = buckets.admit(keys[1], limit: limit, now: 0)   // b comes back with a full bucket, evicting c
        #expect(back && !buckets.tracks(keys[2]))
        // Same identity, another rule: its own bucket.
        let other = buckets.admit(CallerBuckets.Key(identity: Self.id("a"), rule: "other"), limit: limit, now: 0)
        #expect(other)
        // Many callers: the table never grows past the cap.
        var big = CallerBuckets(cap: 100)
        for i in 0..<1_000 { _ = big.admit(CallerBuckets.Key(identity: Self.id("w\(i)"), rule: "r"), limit: limit, now: 0) }
        #expect(big.count == 100 && big.evictions == 900)
    }

    @Test func ruleRateLimitIsParsedValidatedAndCompiledIntoTheSlice() throws {
        let policy = try Self.load(Self.rule(#"{"connectionsPerSecond": 5}"#))
        #expect(policy.rules[0].rateLimit == RateLimit(connectionsPerSecond: 5, burst: 5))
        let slice = policy.compile(version: 1).slice(for: ServiceKey(namespace: "shop", name: "payments"))!
        #expect(slice.rateLimit(rule: "fe") == RateLimit(connectionsPerSecond: 5, burst: 5))
        let back = try ServiceSlice(bytes: Array(slice.json().text.utf8))
        #expect(back.rules == slice.rules && back.rateLimit(rule: "fe") == slice.rateLimit(rule: "fe"))
        let bad: [(String, String, String)] = [
            (Self.rule(#"{"connectionsPerSecond": 0}"#), "policy.bad-rate-limit", "rules[0].rateLimit.connectionsPerSecond"),
            (Self.rule(#"{"connectionsPerSecond": 100001}"#), "policy.bad-rate-limit", "rules[0].rateLimit.connectionsPerSecond"),
            (Self.rule(#"{"connectionsPerSecond": 5, "burst": 0}"#), "policy.bad-rate-limit", "rules[0].rateLimit.burst"),
            (Self.rule(#"{"connectionsPerSecond": 5}"#, action: "deny"), "policy.bad-rate-limit", "rules[0].rateLimit"),
            (Self.rule(#"{"burst": 5}"#), "config.missing-field", "rules[0].rateLimit.connectionsPerSecond"),
        ]
        for (rule, code, path) in bad {
            do {
                _ = try Self.load(rule)
                Issue.record("accepted \(rule)")
            } catch let e as MeshError {
                #expect(e.code == code && e.reason.contains(path), "\(e.code): \(e.reason)")
            }
        }
    }

    @Test func throttleTravelsWithTheDenyListAndTheTighterLimitApplies() throws {
        let policy = try Self.load(Self.rule(#"{"connectionsPerSecond": 10, "burst": 20}"#))
        var slice = policy.compile(version: 1).slice(for: ServiceKey(namespace: "shop", name: "payments"))!
        slice.revoked = RevocationList(revision: 4, throttled: ThrottleList(identities: [
            Self.id("frontend"): .init(limit: RateLimit(connectionsPerSecond: 2), until: 1_000)]))
        let back = try ServiceSlice(bytes: Array(slice.json().text.utf8))
        #expect(back.throttled == slice.throttled)
        #expect(back.revoked.isEmpty)  // throttled is not revoked
        var config = AuthorizerTests.config(managed: true)
        config.inbound[0].servicePort = 8080
        let auth = SliceAuthorizer(config: config, slice: back)
        #expect(auth.rateLimit(rule: "fe", peer: Self.id("frontend"), now: 999) == RateLimit(connectionsPerSecond: 2, burst: 2))
        #expect(auth.rateLimit(rule: "fe", peer: Self.id("frontend"), now: 1_000) == RateLimit(connectionsPerSecond: 10, burst: 20))
        #expect(auth.rateLimit(rule: "other", peer: Self.id("frontend"), now: 0) == RateLimit(connectionsPerSecond: 2, burst: 2))
        #expect(auth.rateLimit(rule: "other", peer: Self.id("orders"), now: 0) == nil)
    }

    /// The per-connection cost of the check on the accept path (one admit on a warm table of 10,000 callers).
    @Test func measuresTheCostOfOneBucketCheck() {
        let limit = RateLimit(connectionsPerSecond: 1_000, burst: 1_000)
        var buckets = CallerBuckets()
        let keys = (0..<10_000).map { CallerBuckets.Key(identity: Self.id("w\($0)"), rule: "frontend-to-payments") }
        for k in keys { _ = buckets.admit(k, limit: limit, now: 0) }
        let rounds = 1_000_000
        var admitted = 0
        let started = DispatchTime.now().uptimeNanoseconds
        for i in 0..<rounds where buckets.admit(keys[i % keys.count], limit: limit, now: Double(i) * 1e-6) { admitted += 1 }
        let ns = Double(DispatchTime.now().uptimeNanoseconds - started) / Double(rounds)
        print("rate-limit check: \(String(format: "%.0f", ns)) ns per new connection (10,000 callers tracked)")
        #expect(admitted > 0 && buckets.count == 10_000)
    }
}
