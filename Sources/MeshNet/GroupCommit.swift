import Dispatch
import Synchronization

/// Group commit: many threads submit entries, one of them (the leader) hands every entry queued so far to
/// `commit` as one batch (one write and one fsync for all), and all of them return after it. While the leader
/// commits, newcomers queue; when it is done it passes the lead to the first of them, so a storm of N writers
/// costs about N / batch fsyncs instead of N, and nobody leads forever.
///
/// `commit` runs on one thread at a time, in submission order, and is all-or-nothing: it returns one result per
/// entry, or throws, and then every submitter of that batch gets the error (it must have undone the batch).
public final class GroupCommit<Entry: Sendable, Result: Sendable>: Sendable {
    public typealias Commit = @Sendable ([Entry]) throws -> [Result]

    private final class Ticket: @unchecked Sendable {
        // @unchecked: `outcome` is written before `signal` and read after `wait` (the semaphore orders them).
        enum Outcome { case done(Result), failed(any Error), lead }
        let ready = DispatchSemaphore(value: 0)
        var outcome: Outcome?
    }

    private let commit: Commit
    private let state = Mutex<(queue: [(Entry, Ticket)], leading: Bool)>(([], false))
    private let counters = Mutex<(batches: Int, entries: Int, largest: Int)>((0, 0, 0))

    public init(commit: @escaping Commit) { self.commit = commit }

    /// Queues `entry` and returns once the batch holding it is committed (or throws that batch's error).
    public func submit(_ entry: Entry) throws -> Result {
        let mine = Ticket()
        let lead = state.withLock { s -> Bool in
            s.queue.append((entry, mine))
            if s.leading { return false }
            s.leading = true
            return true
        }
        if !lead {
            mine.ready.wait()
            switch mine.outcome! {
            case .done(let r): return r
            case .failed(let e): throw e
            case .lead: break
            }
        }
        // The leader: our entry is still queued (only a leader takes the queue, and the lead passes to the first).
        let batch = state.withLock { s -> [(Entry, Ticket)] in
            defer { s.queue.removeAll(keepingCapacity: true) }
            return s.queue
        }
        do {
            let results = try commit(batch.map(\.0))
            precondition(results.count == batch.count, "GroupCommit: commit must return one result per entry")
            for (i, t) in batch.enumerated() { t.1.outcome = .done(results[i]) }
        } catch {
            for t in batch { t.1.outcome = .failed(error) }
        }
        counters.withLock { c in
            c.batches += 1
            c.entries += batch.count
            c.largest = max(c.largest, batch.count)
        }
        let next = state.withLock { s -> Ticket? in
            guard let first = s.queue.first else {
                s.leading = false
                return nil
            }
            return first.1
        }
        if let next {
            next.outcome = .lead
            next.ready.signal()
        }
        for t in batch where t.1 !== mine { t.1.ready.signal() }
        switch mine.outcome! {
        case .done(let r): return r
        case .failed(let e): throw e
        case .lead: fatalError("GroupCommit: the leader's own entry was not in its batch")
        }
    }

    /// Batches committed (so fsyncs, for a journal), entries in them, and the largest batch, since creation.
    public var stats: (batches: Int, entries: Int, largest: Int) { counters.withLock { $0 } }
}
