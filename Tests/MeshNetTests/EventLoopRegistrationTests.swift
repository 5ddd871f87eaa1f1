#if canImport(Glibc)
import Glibc
#endif
import MeshNet
import Testing

/// Registration: handlers hear readiness for their fd only while registered, with the interest they asked for.
@Suite struct EventLoopRegistrationTests {
    @Test func aReadableFdIsReportedToItsHandler() throws {
        let pair = SocketPair()
        defer { pair.close() }
        let seen = Record<String>()
        try send(pair.b, "ping")
        let (_, timedOut) = try runLoop { loop in
            try! loop.register(pair.a, .read, Handler { fd, r in
                seen.add(r.readable ? ((try? receive(fd)) ?? nil) ?? "?" : "not readable")
                loop.deregister(fd)
                loop.stop()
            })
        }
        #expect(!timedOut)
        #expect(seen.all == ["ping"])
    }

    @Test func noInterestMeansNoEventsAndSetInterestTurnsThemOn() throws {
        let pair = SocketPair()
        defer { pair.close() }
        let seen = Record<String>()
        try send(pair.b, "x")
        let (_, timedOut) = try runLoop { loop in
            try! loop.register(pair.a, .none, Handler { fd, _ in
                seen.add("ready")
                loop.deregister(fd)
                loop.stop()
            })
            loop.schedule(afterMs: 30) {
                seen.add("timer")
                loop.setInterest(pair.a, .read)
            }
        }
        #expect(!timedOut)
        #expect(seen.all == ["timer", "ready"])
    }

    /// A lazily registered fd with no interest is outside the epoll set, so even a hang-up (which epoll reports
    /// for a registered fd whatever its interest) is not heard until it asks for something. Registered the
    /// ordinary way, the same fd hears the hang-up before the timer.
    @Test(arguments: [true, false])
    func aLazilyRegisteredFdIsHeardOnlyOnceItAsks(lazily: Bool) throws {
        let pair = SocketPair()
        defer { pair.close() }
        shutdown(pair.b, Int32(SHUT_RDWR))
        let seen = Record<String>()
        let (_, timedOut) = try runLoop { loop in
            try! loop.register(pair.a, .none, Handler { fd, r in
                seen.add(r.hangUp ? "hang-up" : "ready")
                loop.deregister(fd)
            }, lazily: lazily)
            loop.schedule(afterMs: 50) {
                seen.add("timer")
                if lazily {
                    loop.setInterest(pair.a, .read)
                    loop.schedule(afterMs: 50) { loop.stop() }
                } else {
                    loop.stop()
                }
            }
        }
        #expect(!timedOut)
        #expect(seen.all == (lazily ? ["timer", "hang-up"] : ["hang-up", "timer"]))
    }

    /// Both fds are ready in the same `epoll_wait` batch; whichever handler runs first deregisters the other
    /// fd and registers it again with no interest and a new handler. The event already fetched for it carries
    /// the old generation and must be dropped: neither the old nor the new handler may hear it.
    @Test func anEventFetchedBeforeReregistrationIsDroppedAsStale() throws {
        let first = SocketPair()
        let second = SocketPair()
        defer { first.close(); second.close() }
        try send(first.b, "1")
        try send(second.b, "2")
        let calls = Record<String>()
        let (_, timedOut) = try runLoop { loop in
            let fds = [first.a, second.a]
            for fd in fds {
                try! loop.register(fd, .read, Handler { me, _ in
                    calls.add("old \(me)")
                    let other = fds.first { $0 != me }!
                    loop.deregister(other)
                    try! loop.register(other, .none, Handler { _, _ in calls.add("new \(other)") })
                    loop.setInterest(me, .none)
                })
            }
            loop.schedule(afterMs: 50) { loop.stop() }
        }
        #expect(!timedOut)
        #expect(calls.all.count == 1, "only the first handler ran: \(calls.all)")
        #expect(calls.all.first?.hasPrefix("old ") == true)
    }

    @Test func aDeregisteredFdIsNotReported() throws {
        let pair = SocketPair()
        defer { pair.close() }
        try send(pair.b, "x")
        let calls = Record<Int32>()
        let (_, timedOut) = try runLoop { loop in
            try! loop.register(pair.a, .read, Handler { fd, _ in calls.add(fd) })
            loop.deregister(pair.a)
            loop.schedule(afterMs: 30) { loop.stop() }
        }
        #expect(!timedOut)
        #expect(calls.all.isEmpty)
    }
}
