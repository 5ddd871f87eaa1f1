#if canImport(Glibc)
import Glibc
#endif
import MeshNet
import Synchronization
import Testing

/// Cross-thread work goes through the inbox and the eventfd; everything else stays on the loop thread.
@Suite struct EventLoopThreadTests {
    @Test func executeFromAnotherThreadRunsOnTheLoopThreadInOrder() throws {
        let loop = try EventLoop()
        let loopThread = Mutex<pthread_t?>(nil)
        let ran = Record<(Int, Bool)>()
        let thread = loop.startThread()
        loop.execute { loopThread.withLock { $0 = pthread_self() } }
        let caller = pthread_self()
        for i in 0..<100 {
            loop.execute {
                let onLoop = loopThread.withLock { $0.map { pthread_equal($0, pthread_self()) != 0 } } ?? false
                ran.add((i, onLoop && pthread_equal(caller, pthread_self()) == 0))
            }
        }
        loop.stop()
        thread.join()
        let items = ran.all
        #expect(items.map(\.0) == Array(0..<100))
        #expect(items.filter { !$0.1 }.isEmpty, "every work item ran on the loop thread, not the caller's")
    }

    @Test func executeFromManyThreadsRunsEveryItemOnce() throws {
        let loop = try EventLoop()
        let count = Atomic<Int>(0)
        let thread = loop.startThread()
        let senders = (0..<4).map { _ in
            LoopThread(start: { for _ in 0..<250 { loop.execute { count.add(1, ordering: .relaxed) } } })
        }
        for s in senders { s.join() }
        loop.stop()
        thread.join()
        let total = count.load(ordering: .relaxed)
        #expect(total == 1_000)
    }

    @Test func executeWakesALoopBlockedWithoutTimers() throws {
        let loop = try EventLoop()
        let thread = loop.startThread()
        usleep(20_000)  // let it block in epoll_wait with no timer (infinite timeout)
        let ran = Atomic<Bool>(false)
        loop.execute {
            ran.store(true, ordering: .relaxed)
            loop.stop()
        }
        thread.join()
        let didRun = ran.load(ordering: .relaxed)
        #expect(didRun)
    }
}
