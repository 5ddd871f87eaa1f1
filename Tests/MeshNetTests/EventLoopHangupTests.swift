#if canImport(Glibc)
import Glibc
#endif
import MeshNet
import Testing

/// Errors and hang-ups are reported whatever the interest; level-triggered, they would be reported on every
/// iteration to a handler that is not listening (a parked long poll, a pushed-back end), spinning the loop.
@Suite struct EventLoopHangupTests {
    @Test func aHangUpNobodyListensForIsReportedOnceUntilInterestReturns() throws {
        let pair = SocketPair()
        defer { pair.close() }
        let seen = Record<String>()
        let (_, timedOut) = try runLoop(watchdogMs: 2_000) { loop in
            try! loop.register(pair.a, .none, Handler { fd, _ in
                if seen.all.contains("interest") {
                    seen.add("hang-up after interest")
                    loop.deregister(fd)
                    loop.stop()
                    return
                }
                seen.add("hang-up")
                if seen.all.count > 20 { loop.stop() }  // spinning
            })
            shutdown(pair.b, Int32(SHUT_RDWR))
            loop.schedule(afterMs: 200) {
                seen.add("interest")
                loop.setInterest(pair.a, .read)
            }
        }
        #expect(!timedOut)
        #expect(seen.all == ["hang-up", "interest", "hang-up after interest"])
    }
}
