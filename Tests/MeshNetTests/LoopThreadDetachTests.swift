import Foundation
import Glibc
import MeshNet
import Testing

/// A thread nobody joins must be detached, or its stack stays mapped after it ends: `mesh-dev http-app` (a
/// thread per connection) trapped in `pthread_create` after ~32,000 connections under wrk.
@Suite(.serialized) struct LoopThreadDetachTests {
    /// Virtual memory of this process, in MiB (`VmSize`): every thread stack that is never given back adds ~8 MiB.
    static func virtualMiB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmSize:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) / 1024
    }

    static func runThreads(_ n: Int, detach: Bool) -> Int {
        let before = virtualMiB()
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<n {
            let t = LoopThread(start: { done.signal() })
            if detach { t.detach() }
        }
        for _ in 0..<n { done.wait() }
        usleep(200_000)  // the threads return after signalling
        return virtualMiB() - before
    }

    @Test func detachedThreadsGiveTheirStacksBack() {
        // Stacks of ended detached threads are reused (glibc's cache), so 200 of them cost a few stacks at most.
        #expect(Self.runThreads(200, detach: true) < 400)
    }

    @Test func joinableThreadsThatNobodyJoinsKeepTheirStacks() {
        // The leak the detach fixes (shows the test above can fail): ~8 MiB of stack per thread stays mapped.
        #expect(Self.runThreads(200, detach: false) >= 1_000)
    }
}
