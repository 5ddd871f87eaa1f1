#if canImport(Glibc)
import Glibc
#endif
import MeshNet
import Synchronization

/// Things seen on a loop, in order, readable from the test thread after the loop has stopped.
final class Record<T: Sendable>: Sendable {
    private let items = Mutex<[T]>([])
    func add(_ item: T) { items.withLock { $0.append(item) } }
    var all: [T] { items.withLock { $0 } }
}

/// Runs a fresh loop on its own thread: `setup` runs on the loop, which stops when the test calls
/// `loop.stop()` or after `watchdogMs` (then `timedOut` is true). Returns once the loop thread has ended.
@discardableResult
func runLoop(watchdogMs: Int64 = 5_000, _ setup: @escaping @Sendable (EventLoop) -> Void) throws -> (loop: EventLoop, timedOut: Bool) {
    let loop = try EventLoop()
    let timedOut = Atomic<Bool>(false)
    let thread = loop.startThread()
    loop.execute { [loop] in
        loop.schedule(afterMs: watchdogMs) {
            timedOut.store(true, ordering: .relaxed)
            loop.stop()
        }
        setup(loop)
    }
    thread.join()
    return (loop, timedOut.load(ordering: .relaxed))
}

/// Two connected non-blocking Unix stream sockets; the test closes them (`defer { pair.close() }`) once the
/// loop has stopped, so no fd is closed while registered.
struct SocketPair: Sendable {
    let a: Int32
    let b: Int32

    init() {
        var fds: [Int32] = [0, 0]
        precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds) == 0)
        (a, b) = (fds[0], fds[1])
    }

    func close() {
        Glibc.close(a)
        Glibc.close(b)
    }
}

/// An `EventHandler` that forwards to a closure (loop thread only).
final class Handler: EventHandler {
    let body: (Int32, Readiness) -> Void
    init(_ body: @escaping (Int32, Readiness) -> Void) { self.body = body }
    func ready(fd: Int32, _ readiness: Readiness) { body(fd, readiness) }
}

/// Waits up to `ms` for `events` on `fd` with poll(2); true when they came.
func waitFor(_ fd: Int32, _ events: Int16, ms: Int32 = 2_000) -> Bool {
    var p = pollfd(fd: fd, events: events, revents: 0)
    return poll(&p, 1, ms) == 1 && p.revents & events != 0
}

/// Writes all of `text` to a blocking-enough socket (tests send a few bytes only).
func send(_ fd: Int32, _ text: String) throws {
    let bytes = Array(text.utf8)
    let r = try bytes.withUnsafeBytes { b in try Socket.write(fd, b) }
    guard case .done(let n) = r, n == bytes.count else { throw SyscallError("short send", 0) }
}

/// Reads what is there (up to 4 KiB): the text, "" at end of stream, nil when it would block.
func receive(_ fd: Int32) throws -> String? {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let r = try buffer.withUnsafeMutableBytes { b in try Socket.read(fd, b) }
    switch r {
    case .wouldBlock: return nil
    case .done(let n): return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}
