import MeshControlClient
import MeshCore
import Testing


/// Exponential back-off with full jitter: windows double from [1, 2] s to [1, 30] s, every draw stays in its
/// window, and draws spread over the whole window (no lock-step after an outage).
@Suite struct RetryPolicyTests {
    @Test func windowsDoubleUpToTheCap() {
        let p = RetryPolicy.standard
        #expect((1...8).map { p.ceiling(attempt: $0) } == [2, 4, 8, 16, 30, 30, 30, 30])
        #expect(p.ceiling(attempt: 1_000) == 30)
        // A caller's lower cap (the identity agent: a sixth of a 30 s certificate's life).
        #expect((1...4).map { p.ceiling(attempt: $0, cap: 5) } == [2, 4, 5, 5])
        // A caller cannot raise the cap.
        #expect(p.ceiling(attempt: 9, cap: 100) == 30)
        #expect(RetryPolicy(floor: 1, cap: 15).ceiling(attempt: 9) == 15)
    }

    @Test(arguments: [UInt64(1), 42, 0xDEAD_BEEF])
    func everyDrawIsInsideItsWindow(_ seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let p = RetryPolicy.standard
        for attempt in 1...12 {
            for _ in 0..<500 {
                let d = p.delay(attempt: attempt, using: &random)
                #expect(d >= 1 && d <= p.ceiling(attempt: attempt), "attempt \(attempt): \(d)")
                let capped = p.delay(attempt: attempt, cap: 3, using: &random)
                #expect(capped >= 1 && capped <= 3, "attempt \(attempt), cap 3: \(capped)")
            }
        }
    }

    @Test func drawsSpreadOverTheWholeWindow() {
        var random = SplitMix64(seed: 7)
        let draws = (0..<2_000).map { _ in RetryPolicy.standard.delay(attempt: 6, using: &random) }
        #expect(draws.min()! < 2)
        #expect(draws.max()! > 29)
        let mean = draws.reduce(0, +) / Double(draws.count)
        #expect(abs(mean - 15.5) < 1.0, "mean \(mean)")
        // Each tenth of the window gets its share (uniform, within a generous margin).
        var buckets = [Int](repeating: 0, count: 10)
        for d in draws { buckets[min(9, Int((d - 1) / 29 * 10))] += 1 }
        #expect(buckets.allSatisfy { $0 > 120 && $0 < 280 }, "\(buckets)")
    }

    @Test func aFleetRetriesAtDifferentMoments() {
        // 100 sidecars see the same outage; their first retries must not coincide.
        let firsts = (0..<100).map { seed -> Double in
            var random = SplitMix64(seed: UInt64(seed) &* 0x1234_5678_9ABC)
            return RetryPolicy.standard.delay(attempt: 1, using: &random)
        }
        let distinctTenths = Set(firsts.map { Int($0 * 10) })
        #expect(distinctTenths.count >= 9, "\(distinctTenths.sorted())")
    }

    @Test func aCapBelowTheFloorIsTheDelayItself() {
        var random = SplitMix64(seed: 1)
        #expect(RetryPolicy.standard.delay(attempt: 3, cap: 0.5, using: &random) == 0.5)
    }

    @Test func sameSeedSameSequence() {
        var a = Backoff(random: SplitMix64(seed: 99))
        var b = Backoff(random: SplitMix64(seed: 99))
        #expect((0..<10).map { _ in a.failed() } == (0..<10).map { _ in b.failed() })
    }

    @Test func backoffCountsFailuresAndStartsOverAfterASuccess() {
        var b = Backoff(random: SplitMix64(seed: 3))
        for n in 1...6 {
            let d = b.failed()
            #expect(b.attempt == n)
            #expect(d <= RetryPolicy.standard.ceiling(attempt: n))
        }
        b.succeeded()
        #expect(b.attempt == 0)
        #expect(b.failed() <= 2)
    }

    struct Refused: Error {}
    struct Flaky: Error {}

    @Test func runRetriesUntilSuccessSleepingEachDrawnDelay() throws {
        var b = Backoff(random: SplitMix64(seed: 5))
        var slept: [Double] = []
        var reported: [Int] = []
        var calls = 0
        let value = try b.run(sleep: { slept.append($0); return true }, retrying: { attempt, _, _ in reported.append(attempt) }) {
            calls += 1
            if calls < 4 { throw Flaky() }
            return "ok"
        }
        #expect(value == "ok")
        #expect(calls == 4)
        #expect(reported == [1, 2, 3])
        #expect(slept.count == 3)
        for (i, d) in slept.enumerated() { #expect(d >= 1 && d <= RetryPolicy.standard.ceiling(attempt: i + 1)) }
        #expect(b.attempt == 0)
    }

    @Test func runRethrowsAFinalErrorWithoutSleeping() {
        var b = Backoff(random: SplitMix64(seed: 5))
        var slept = 0
        #expect(throws: Refused.self) {
            _ = try b.run(sleep: { _ in slept += 1; return true }, final: { $0 is Refused }) { () throws -> Int in throw Refused() }
        }
        #expect(slept == 0)
    }

    @Test func runGivesUpWhenSleepSaysStop() throws {
        var b = Backoff(random: SplitMix64(seed: 5))
        var naps = 0
        let value = try b.run(cap: 4, sleep: { d in naps += 1; #expect(d <= 4); return naps < 3 }) { () throws -> Int in throw Flaky() }
        #expect(value == nil)
        #expect(naps == 3)
    }
}
