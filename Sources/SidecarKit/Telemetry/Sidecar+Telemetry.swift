#if canImport(Glibc)
import Glibc
#endif
import MeshAPI
import MeshCore
import MeshNet

/// Taking the loops' edge tables for the reporter, without a lock on the data path: each loop swaps its own
/// table out on its own thread (`execute`) and drops it in an inbox; the reporter waits (bounded) for every loop.
/// A table handed over after the wait gave up stays in the inbox for the next round: nothing is lost.
extension Sidecar {
    func takeEdgeTables(timeoutMs: Int = 2_000) -> [EdgeTable] {
        edgeTaking.withLock { _ in
            if !loopsRunning.load(ordering: .relaxed) {
                // Stopped (threads joined) or not started: the tables are ours to read.
                let direct = contexts.compactMap { $0.takeEdges() }
                return edgeInbox.withLock { inbox in defer { inbox.tables.removeAll() }; return inbox.tables } + direct
            }
            let target = edgeInbox.withLock { $0.handed } + loops.count
            for (i, loop) in loops.enumerated() {
                nonisolated(unsafe) let ctx = contexts[i]
                loop.execute { [self] in
                    let t = ctx.takeEdges()
                    edgeInbox.withLock { box in
                        if let t { box.tables.append(t) }
                        box.handed += 1
                    }
                }
            }
            let clock = runtime.clock
            let deadline = clock.monotonicMs() + Int64(timeoutMs)
            while edgeInbox.withLock({ $0.handed }) < target && clock.monotonicMs() < deadline { usleep(500) }
            return edgeInbox.withLock { inbox in defer { inbox.tables.removeAll() }; return inbox.tables }
        }
    }

    /// Starts reporting (after `start`): the reporter's thread.
    public func startTelemetry() -> LoopThread? {
        guard let telemetry else { return nil }
        return telemetry.start(collect: { [unowned self] in self.takeEdgeTables() })
    }

    /// At shutdown, after `stop`: one last batch with everything counted (≤ `TelemetryReporter.finalFlushSeconds`).
    public func finalTelemetryFlush() {
        guard let telemetry else { return }
        let result = telemetry.finalFlush(tables: takeEdgeTables())
        switch result {
        case .success(let ack): runtime.log.event("telemetry-final-flush", ["seq": .int(ack?.seq ?? 0)])
        case .failure(let e): runtime.log.event("telemetry-final-flush-failed", ["error": .string("\(e.code): \(e.reason)")])
        }
    }
}
