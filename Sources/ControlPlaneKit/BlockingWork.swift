import Dispatch
import Synchronization

/// Where use cases that block run: fsync of the stores and the audit log (later a network store) must not stall
/// the event loop that serves every other request and the long polls. Answers go back through the server's
/// `respond`, which finishes on the loop's thread.
///
/// Two lanes:
/// - `run`: one serial queue, so changes of the mesh, the CA, tokens and the deny list run one at a time in
///   arrival order (as they always did).
/// - `runIssuance`: certificate issuance, up to `issueWorkers` at once (default 16). An issuance is a little CPU
///   (read the CSR, one ECDSA signature) and mostly waiting for fsyncs (token, latest entry, audit record), which
///   group commit shares among whoever waits at the same time: the number of workers bounds that batch, so it
///   is set well above the 2–8 cores a control plane has, and small enough that a storm cannot take every
///   thread of the process. Issuances of one identity are kept apart by the store's compare-and-set.
final class BlockingWork: Sendable {
    private let queue: DispatchQueue
    /// Default number of issuances in flight at once.
    static let defaultIssueWorkers = 16
    let issueWorkers: Int
    private let issuance = Mutex<(pending: [@Sendable () -> Void], head: Int, active: Int)>(([], 0, 0))
    private let issueQueue: DispatchQueue

    init(label: String = "mesh-control.blocking", issueWorkers: Int = BlockingWork.defaultIssueWorkers) {
        queue = DispatchQueue(label: label)
        issueQueue = DispatchQueue(label: label + ".issue", attributes: .concurrent)
        self.issueWorkers = max(1, issueWorkers)
    }

    func run(_ work: @escaping @Sendable () -> Void) { queue.async(execute: work) }

    /// Runs `work` on one of at most `issueWorkers` drains, in arrival order of start.
    func runIssuance(_ work: @escaping @Sendable () -> Void) {
        let start = issuance.withLock { s -> Bool in
            s.pending.append(work)
            guard s.active < issueWorkers else { return false }
            s.active += 1
            return true
        }
        if start { issueQueue.async { [self] in drain() } }
    }

    /// Takes work until none is left, then gives its slot back.
    private func drain() {
        while let next = issuance.withLock({ s -> (@Sendable () -> Void)? in
            guard s.head < s.pending.count else {
                s.pending.removeAll(keepingCapacity: true)
                s.head = 0
                s.active -= 1
                return nil
            }
            defer { s.head += 1 }
            return s.pending[s.head]
        }) {
            next()
        }
    }
}
