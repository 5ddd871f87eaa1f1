import Dispatch

/// Where use cases that block run: fsync of the stores and the audit log (later a network store) must not stall
/// the event loop that serves every other request and the long polls. One serial queue, so writes run one at a
/// time in arrival order. Answers go back through the server's `respond`, which finishes on the loop's thread.
final class BlockingWork: Sendable {
    private let queue: DispatchQueue

    init(label: String = "mesh-control.blocking") { queue = DispatchQueue(label: label) }

    func run(_ work: @escaping @Sendable () -> Void) { queue.async(execute: work) }
}
