import Glibc
import Synchronization

/// The part every in-process test backend shares: a listening socket on a free loopback port, an accept loop
/// on its own thread, a thread per connection (`serve`, overridden), a count of accepted connections, and
/// `stop`. Subclasses set their own stored properties before calling `super.init`, which starts accepting.
class LoopbackServer: @unchecked Sendable {
    // @unchecked: `fd` and `ioTimeoutSeconds` are immutable; the counters are Atomics.
    let port: UInt16
    let accepted = Atomic<Int>(0)
    private let fd: Int32
    private let ioTimeoutSeconds: Int
    /// Set by `stop`; a connection that idles on purpose (a sink) watches it.
    let stopped = Atomic<Bool>(false)

    /// `ioTimeoutSeconds`: receive/send timeout of every accepted connection, so a stuck test ends.
    init(ioTimeoutSeconds: Int) throws {
        port = TCP.freePort()
        fd = try TCP.listen(port: port)
        self.ioTimeoutSeconds = ioTimeoutSeconds
        let me = self
        spawnThread { me.acceptLoop() }
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    /// One accepted connection, on its own thread; the subclass closes `c`.
    func serve(_ c: Int32) { close(c) }

    private func acceptLoop() {
        while !stopped.load(ordering: .relaxed) {
            let c = accept(fd, nil, nil)
            if c < 0 { if errno == EINTR { continue }; return }
            accepted.add(1, ordering: .relaxed)
            TCP.setTimeout(c, seconds: ioTimeoutSeconds)
            let me = self
            spawnThread { me.serve(c) }
        }
    }
}
