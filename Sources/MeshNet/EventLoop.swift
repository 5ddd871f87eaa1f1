#if canImport(Glibc)
import Glibc
#endif
import CMeshSysShims
import Synchronization

/// What a registered file descriptor wants to hear about. Errors and hang-ups are always reported.
public struct Interest: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let read = Interest(rawValue: EPOLLIN.rawValue)
    public static let write = Interest(rawValue: EPOLLOUT.rawValue)
    /// The peer shut its sending side (FIN), even while we do not read: for a request parked with its handler,
    /// whose client went away (`Readiness.peerClosed`).
    public static let peerClosed = Interest(rawValue: EPOLLRDHUP.rawValue)
    public static let none: Interest = []
}

/// The readiness bits delivered to a handler.
public struct Readiness: Sendable {
    public let bits: UInt32
    /// For a handler driven without an event (a read tried at once, before waiting).
    public static let readable = Readiness(bits: EPOLLIN.rawValue)
    public var readable: Bool { bits & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 }
    public var writable: Bool { bits & (EPOLLOUT.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 }
    public var error: Bool { bits & EPOLLERR.rawValue != 0 }
    /// The peer reset the connection or both directions are shut: nothing more will come, whatever the interest.
    public var hangUp: Bool { bits & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 }
    /// The peer shut its sending side (reported only with `.peerClosed` interest).
    public var peerClosed: Bool { bits & EPOLLRDHUP.rawValue != 0 }
}

/// Something that owns registered file descriptors and reacts to their readiness. Lives on one loop.
public protocol EventHandler: AnyObject {
    func ready(fd: Int32, _ readiness: Readiness)
}

/// One epoll instance driven by one thread. Everything registered with a loop is touched only from that
/// loop's thread; other threads talk to it with `execute`. Level-triggered: a handler that leaves bytes
/// unread is told again, so backpressure is expressed by dropping `.read` interest.
public final class EventLoop: @unchecked Sendable {
    // @unchecked: all mutable state except `inbox` is confined to the loop thread; `inbox` is a Mutex.
    public let index: Int
    public let clock: any Clock
    private let epfd: Int32
    private let wakeFd: Int32
    private var handlers: [EventHandler?] = []
    private var generations: [UInt32] = []
    /// The interest each fd asked for, and whether it is parked: taken out of the epoll set after an error or
    /// hang-up arrived while it asked for nothing (level-triggered, it would be reported on every iteration).
    private var interests: [UInt32] = []
    private var parked: [Bool] = []
    private var nextGeneration: UInt32 = 1
    private var timers = TimerQueue()
    private let inbox = Mutex<[@Sendable () -> Void]>([])
    private let stopping = Atomic<Bool>(false)
    /// The monotonic time at the start of this iteration (cheap "now" for hot paths).
    public private(set) var now: Int64 = 0

    public init(index: Int = 0, clock: any Clock = SystemClock()) throws(SyscallError) {
        self.index = index
        self.clock = clock
        epfd = try Syscall.must("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        wakeFd = try Syscall.must("eventfd") { eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC)) }
        var ev = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: UInt64(UInt32.max)))
        _ = try Syscall.must("epoll_ctl") { epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFd, &ev) }
        now = clock.monotonicMs()
    }

    deinit {
        close(epfd)
        close(wakeFd)
    }

    // MARK: registration

    /// `lazily` with an empty `interest`: the handler is known but the fd joins the epoll set only when it first
    /// asks for something (`setInterest`), which saves the `epoll_ctl` of a connection that is served without
    /// ever waiting on it (read at once after a deferred accept, answered, closed). Until then neither errors
    /// nor hang-ups are reported for it, as for a parked fd.
    public func register(_ fd: Int32, _ interest: Interest, _ handler: EventHandler, lazily: Bool = false) throws(SyscallError) {
        let i = Int(fd)
        if i >= handlers.count {
            let n = max(i + 1, handlers.count * 2, 64)
            handlers.append(contentsOf: repeatElement(nil, count: n - handlers.count))
            generations.append(contentsOf: repeatElement(0, count: n - generations.count))
            interests.append(contentsOf: repeatElement(0, count: n - interests.count))
            parked.append(contentsOf: repeatElement(false, count: n - parked.count))
        }
        nextGeneration &+= 1
        if nextGeneration == 0 { nextGeneration = 1 }
        handlers[i] = handler
        generations[i] = nextGeneration
        interests[i] = interest.rawValue
        parked[i] = lazily && interest.isEmpty
        if parked[i] { return }
        var ev = epoll_event(events: interest.rawValue, data: epoll_data_t(u64: UInt64(nextGeneration) << 32 | UInt64(UInt32(fd))))
        do {
            _ = try Syscall.must("epoll_ctl") { epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) }
        } catch {
            handlers[i] = nil
            generations[i] = 0
            throw error
        }
    }

    public func setInterest(_ fd: Int32, _ interest: Interest) {
        let i = Int(fd)
        guard i < generations.count, generations[i] != 0 else { return }
        interests[i] = interest.rawValue
        if parked[i] && interest.isEmpty { return }  // still asks for nothing: stays out of the set
        var ev = epoll_event(events: interest.rawValue, data: epoll_data_t(u64: UInt64(generations[i]) << 32 | UInt64(UInt32(fd))))
        _ = epoll_ctl(epfd, parked[i] ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev)
        parked[i] = false
    }

    /// Removes `fd`; pending events for it in this iteration are dropped as stale. Call before `close`.
    public func deregister(_ fd: Int32) {
        let i = Int(fd)
        guard i < generations.count, generations[i] != 0 else { return }
        if !parked[i] { _ = epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nil) }
        handlers[i] = nil
        generations[i] = 0
        parked[i] = false
    }

    /// For an fd about to be closed: forget its handler without an `epoll_ctl` call (closing the last
    /// descriptor of a socket removes it from the epoll set). Events already fetched for it are dropped as stale.
    /// Only valid because we never duplicate descriptors.
    public func forget(_ fd: Int32) {
        let i = Int(fd)
        guard i < generations.count, generations[i] != 0 else { return }
        handlers[i] = nil
        generations[i] = 0
        parked[i] = false
    }

    // MARK: timers

    /// Runs `action` on this loop after `ms` milliseconds unless cancelled. Returns the timer's id.
    @discardableResult
    public func schedule(afterMs ms: Int64, _ action: @escaping () -> Void) -> TimerID {
        timers.add(deadline: now + ms, action)
    }

    public func cancel(_ id: TimerID) { timers.cancel(id) }

    // MARK: cross-thread

    /// Runs `work` on the loop thread soon. Safe from any thread.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        inbox.withLock { $0.append(work) }
        var one: UInt64 = 1
        _ = write(wakeFd, &one, 8)
    }

    /// Asks the loop to return from `run` after the current iteration. Safe from any thread.
    public func stop() {
        stopping.store(true, ordering: .relaxed)
        execute {}
    }

    // MARK: running

    /// Runs until `stop`. Call on the thread that owns this loop.
    public func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        while !stopping.load(ordering: .relaxed) {
            now = clock.monotonicMs()
            let timeout = timers.nextTimeout(now: now)
            let n = events.withUnsafeMutableBufferPointer { epoll_wait(epfd, $0.baseAddress, Int32($0.count), timeout) }
            now = clock.monotonicMs()
            if n < 0 {
                if errno == EINTR { continue }
                preconditionFailure("epoll_wait failed: \(errno)")
            }
            for k in 0..<Int(n) {
                let ev = events[k]
                let data = ev.data.u64
                if data == UInt64(UInt32.max) {
                    drainInbox()
                    continue
                }
                let fd = Int32(truncatingIfNeeded: data & 0xffff_ffff)
                let gen = UInt32(truncatingIfNeeded: data >> 32)
                let i = Int(fd)
                guard i < generations.count, generations[i] == gen, let h = handlers[i] else { continue }
                h.ready(fd: fd, Readiness(bits: ev.events))
                if ev.events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 { parkIfDeaf(fd, gen) }
            }
            while let action = timers.popExpired(now: now) { action() }
        }
        drainInbox()
    }

    /// After an error or hang-up was handed to a handler that still asks for nothing: take the fd out of the
    /// set until it asks again (`setInterest` adds it back), so a parked long poll or a pushed-back end whose
    /// peer reset does not spin the loop. Its handler hears the condition again when it next listens.
    private func parkIfDeaf(_ fd: Int32, _ gen: UInt32) {
        let i = Int(fd)
        guard generations[i] == gen, interests[i] == 0, !parked[i] else { return }
        _ = epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nil)
        parked[i] = true
    }

    private func drainInbox() {
        var one: UInt64 = 0
        _ = read(wakeFd, &one, 8)
        let work = inbox.withLock { q -> [@Sendable () -> Void] in
            let w = q
            q.removeAll()
            return w
        }
        for w in work { w() }
    }

    /// Starts a thread that runs this loop. Returns when the thread has started.
    public func startThread() -> LoopThread {
        LoopThread(start: { [self] in self.run() })
    }
}

/// A POSIX thread running a closure; `join` waits for it.
public final class LoopThread: @unchecked Sendable {
    // @unchecked: `thread` is written once before the object is shared.
    private var thread = pthread_t()
    private final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }

    public init(start body: @escaping () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let r = pthread_create(&thread, nil, { arg in
            let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        precondition(r == 0, "pthread_create failed: \(r)")
    }

    public func join() { pthread_join(thread, nil) }

    /// Nobody will `join`: the thread's stack is given back when it ends. A thread that is neither joined nor
    /// detached keeps its stack mapped forever (a thread per connection then runs out of mappings after ~32,000).
    public func detach() { pthread_detach(thread) }
}
