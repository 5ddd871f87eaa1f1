import MeshNet
import Testing

/// Timers: a min-heap per loop, lazily cancelled, actions run on the loop thread outside the heap's mutation.
@Suite struct EventLoopTimerTests {
    @Test func timersFireInDeadlineOrderNotSchedulingOrder() throws {
        let fired = Record<Int>()
        let (_, timedOut) = try runLoop { loop in
            for ms in [30, 10, 20, 0] {
                loop.schedule(afterMs: Int64(ms)) { fired.add(ms) }
            }
            loop.schedule(afterMs: 60) { loop.stop() }
        }
        #expect(!timedOut)
        #expect(fired.all == [0, 10, 20, 30])
    }

    @Test func aTimerDoesNotFireBeforeItsDeadline() throws {
        let firedAfter = Record<Int64>()
        let (_, timedOut) = try runLoop { loop in
            let start = loop.clock.monotonicMs()
            loop.schedule(afterMs: 50) {
                firedAfter.add(loop.clock.monotonicMs() - start)
                loop.stop()
            }
        }
        #expect(!timedOut)
        #expect(firedAfter.all.count == 1)
        #expect(firedAfter.all.allSatisfy { $0 >= 50 })
    }

    @Test func aCancelledTimerNeverFires() throws {
        let fired = Record<String>()
        let (_, timedOut) = try runLoop { loop in
            let early = loop.schedule(afterMs: 10) { fired.add("cancelled") }
            loop.schedule(afterMs: 20) { fired.add("kept") }
            loop.cancel(early)
            loop.schedule(afterMs: 50) { loop.stop() }
        }
        #expect(!timedOut)
        #expect(fired.all == ["kept"])
    }

    @Test func anActionMayCancelALaterTimerAndScheduleANewOne() throws {
        let fired = Record<String>()
        let (_, timedOut) = try runLoop { loop in
            let later = loop.schedule(afterMs: 30) { fired.add("later") }
            loop.schedule(afterMs: 10) {
                fired.add("first")
                loop.cancel(later)
                loop.schedule(afterMs: 10) { fired.add("rescheduled") }
            }
            loop.schedule(afterMs: 60) { loop.stop() }
        }
        #expect(!timedOut)
        #expect(fired.all == ["first", "rescheduled"])
    }

    @Test func cancellingTwiceOrAfterFiringIsHarmless() throws {
        let fired = Record<String>()
        let (_, timedOut) = try runLoop { loop in
            let once = loop.schedule(afterMs: 0) { fired.add("once") }
            loop.schedule(afterMs: 20) {
                loop.cancel(once)
                loop.cancel(once)
                loop.stop()
            }
        }
        #expect(!timedOut)
        #expect(fired.all == ["once"])
    }
}
