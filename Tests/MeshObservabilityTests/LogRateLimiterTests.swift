import Foundation
import Synchronization
import MeshNet
import MeshObservability
import Testing

/// A clock the test moves by hand: the limiter is driven without sleeping.
final class ManualClock: Clock {
    private let ms = Mutex<Int64>(1_000_000)
    func advance(ms delta: Int64) { ms.withLock { $0 += delta } }
    func monotonicMs() -> Int64 { ms.withLock { $0 } }
    func monotonicNs() -> Int64 { monotonicMs() * 1_000_000 }
    func wallSeconds() -> Double { 1_700_000_000 }
}

/// Refusal lines are rate-limited per reason (a token bucket each), and what is held back is counted and
/// reported when that reason gets a line through again.
@Suite struct LogRateLimiterTests {
    @Test func aBurstPassesThenTheRateThenTheHeldBackCountIsReportedOnce() {
        let clock = ManualClock()
        let limiter = LogRateLimiter(perSecond: 2, burst: 5, clock: clock)
        for _ in 0..<5 { #expect(limiter.admit("plaintext-http") == .write(suppressedBefore: 0)) }
        for _ in 0..<6 { #expect(limiter.admit("plaintext-http") == .suppress) }
        clock.advance(ms: 499)
        #expect(limiter.admit("plaintext-http") == .suppress, "half a token is not a line")
        clock.advance(ms: 1)
        #expect(limiter.admit("plaintext-http") == .write(suppressedBefore: 7))
        #expect(limiter.admit("plaintext-http") == .suppress)
        clock.advance(ms: 500)
        #expect(limiter.admit("plaintext-http") == .write(suppressedBefore: 1))
        #expect(limiter.suppressedTotals() == ["plaintext-http": 8])
    }

    @Test func eachReasonHasItsOwnBucket() {
        let clock = ManualClock()
        let limiter = LogRateLimiter(perSecond: 1, burst: 2, clock: clock)
        for _ in 0..<2 { #expect(limiter.admit("not-tls") == .write(suppressedBefore: 0)) }
        #expect(limiter.admit("not-tls") == .suppress)
        for _ in 0..<2 { #expect(limiter.admit("identity-not-allowed") == .write(suppressedBefore: 0)) }
        #expect(limiter.suppressedTotals() == ["not-tls": 1])
    }

    @Test func aQuietHourRefillsOnlyUpToTheBurst() {
        let clock = ManualClock()
        let limiter = LogRateLimiter(perSecond: 20, burst: 3, clock: clock)
        for _ in 0..<3 { _ = limiter.admit("x") }
        clock.advance(ms: 3_600_000)
        for _ in 0..<3 { #expect(limiter.admit("x") == .write(suppressedBefore: 0)) }
        #expect(limiter.admit("x") == .suppress)
    }

    @Test func pendingCountsAreDrainedOnceTheReasonHasATokenAgain() {
        let clock = ManualClock()
        let limiter = LogRateLimiter(perSecond: 10, burst: 1, clock: clock)
        _ = limiter.admit("not-tls")
        for _ in 0..<4 { #expect(limiter.admit("not-tls") == .suppress) }
        #expect(limiter.drainPending().isEmpty, "no token yet: the summary waits")
        clock.advance(ms: 100)
        #expect(limiter.drainPending().map { "\($0.reason)=\($0.suppressed)" } == ["not-tls=4"])
        #expect(limiter.drainPending().isEmpty)
        #expect(limiter.suppressedTotals() == ["not-tls": 4])
    }

    @Test func theLogWritesTheSummaryLineBeforeTheFirstLineLetThroughAgain() throws {
        let path = EventLogTests.tempPath()
        defer { unlink(path) }
        let clock = ManualClock()
        let log = try EventLog(path: path, limiter: LogRateLimiter(perSecond: 1, burst: 3, clock: clock), clock: clock)
        for i in 0..<10 { log.refusal("refused", reason: "not-tls", fields: [("reason", .string("not-tls")), ("n", .int(i))]) }
        log.event("started")  // lifecycle lines are never limited
        clock.advance(ms: 1000)
        log.refusal("refused", reason: "not-tls", fields: [("reason", .string("not-tls")), ("n", .int(10))])
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 6, "\(lines)")
        #expect(lines.filter { $0.contains("\"event\":\"refused\"") }.count == 4)
        #expect(lines[4] == "{\"ts\":\"2023-11-14T22:13:20.000Z\",\"event\":\"log-suppressed\",\"reason\":\"not-tls\",\"suppressed\":7}")
        #expect(lines[5].hasSuffix("\"n\":10}"))
        #expect(log.suppressedTotals() == ["not-tls": 7])
    }
}
