#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet
import Synchronization

/// The sidecar's DNS responder for the app (UDP, on one loop): mesh names answered from the slice's virtual
/// IPs, other names under the domain NXDOMAIN, everything else forwarded to the system resolver under a fresh
/// random ID over a connected socket (only the resolver's datagrams are read), with at most `maxInFlight`
/// forwards waiting and each dropped (SERVFAIL) after `forwardTimeoutMs`. Malformed queries are dropped.
final class DNSResponder: EventHandler {
    struct Pending {
        let client: SocketAddress
        let clientID: UInt16
        /// The query's question bytes: an answer must repeat them.
        let question: [UInt8]
        let query: DNSQuery
        let queryBytes: [UInt8]
        let timer: TimerID
    }

    /// Counters for `/stats` (read from other threads, so atomic).
    final class Counters: Sendable {
        let answered = Atomic<Int>(0), nxdomain = Atomic<Int>(0), forwarded = Atomic<Int>(0)
        let malformed = Atomic<Int>(0), overflow = Atomic<Int>(0), timedOut = Atomic<Int>(0)
    }

    let settings: DNSSettings
    let loop: EventLoop
    let fd: Int32
    /// Set by `close` (on the loop thread).
    private var closed = false
    let upstreamFD: Int32?
    let counters = Counters()
    private let names: () -> DNSNames
    private let randomID: () -> UInt16
    private var pending: [UInt16: Pending] = [:]
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: DNSWire.maxAnswerBytes, alignment: 8)

    /// `names`: the current name table (read once per query; the caller caches it per state).
    init(settings: DNSSettings, upstream: SocketAddress?, loop: EventLoop, randomID: @escaping () -> UInt16 = { UInt16.random(in: 0...UInt16.max) },
         names: @escaping () -> DNSNames) throws {
        self.settings = settings
        self.loop = loop
        self.names = names
        self.randomID = randomID
        fd = try UDPSocket.open(bind: SocketAddress(settings.listen))
        do {
            upstreamFD = try upstream.map { a throws(SyscallError) in try UDPSocket.open(bind: nil, connect: a) }
        } catch {
            Glibc.close(fd)
            throw error
        }
        do {
            try loop.register(fd, .read, self)
            if let u = upstreamFD { try loop.register(u, .read, self) }
        } catch {
            close()
            throw error
        }
    }

    deinit { buffer.deallocate() }

    func close() {
        guard !closed else { return }  // a second close must not close a reused fd number
        closed = true
        loop.deregister(fd)
        Glibc.close(fd)
        if let u = upstreamFD {
            loop.deregister(u)
            Glibc.close(u)
        }
        for p in pending.values { loop.cancel(p.timer) }
        pending.removeAll()
    }

    func ready(fd: Int32, _ readiness: Readiness) {
        // Bounded per wake-up, so a flood cannot hold the loop.
        for _ in 0..<64 {
            guard let (n, from) = UDPSocket.receive(fd, into: buffer) else { return }
            if fd == self.fd { query(n, from: from) } else { relay(n) }
        }
    }

    private func query(_ n: Int, from client: SocketAddress) {
        guard n <= DNSWire.maxQueryBytes else { counters.malformed.add(1, ordering: .relaxed); return }
        let bytes = [UInt8](UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        guard let q = try? DNSWire.query(bytes) else { counters.malformed.add(1, ordering: .relaxed); return }
        switch names().outcome(q.question) {
        case .answer(let ip):
            counters.answered.add(1, ordering: .relaxed)
            UDPSocket.send(fd, DNSWire.answer(to: q, in: bytes, rcode: 0, addresses: [ip], ttl: DNSNames.ttl, authoritative: true), to: client)
        case .noData:
            counters.answered.add(1, ordering: .relaxed)
            UDPSocket.send(fd, DNSWire.answer(to: q, in: bytes, rcode: 0, addresses: [], ttl: 0, authoritative: true), to: client)
        case .nxdomain:
            counters.nxdomain.add(1, ordering: .relaxed)
            UDPSocket.send(fd, DNSWire.answer(to: q, in: bytes, rcode: 3, addresses: [], ttl: 0, authoritative: true), to: client)
        case .forward:
            forward(q, bytes, from: client)
        }
    }

    private func forward(_ q: DNSQuery, _ bytes: [UInt8], from client: SocketAddress) {
        guard let u = upstreamFD, pending.count < settings.maxInFlight, let id = freeID() else {
            counters.overflow.add(1, ordering: .relaxed)
            UDPSocket.send(fd, DNSWire.answer(to: q, in: bytes, rcode: 2, addresses: [], ttl: 0, authoritative: false), to: client)
            return
        }
        var out = bytes
        out[0] = UInt8(id >> 8)
        out[1] = UInt8(id & 0xFF)
        let timer = loop.schedule(afterMs: Int64(settings.forwardTimeoutMs)) { [weak self] in self?.expire(id) }
        pending[id] = Pending(client: client, clientID: q.id, question: Array(bytes[DNSWire.headerBytes..<q.questionEnd]),
                              query: q, queryBytes: bytes, timer: timer)
        counters.forwarded.add(1, ordering: .relaxed)
        if !UDPSocket.send(u, out) { expire(id) }
    }

    /// An ID no pending forward uses (a few random tries; nil when unlucky, answered SERVFAIL).
    private func freeID() -> UInt16? {
        for _ in 0..<8 {
            let id = randomID()
            if pending[id] == nil { return id }
        }
        return nil
    }

    /// The resolver's answer: only for a pending ID with the same question; relayed under the client's ID.
    private func relay(_ n: Int) {
        guard n >= DNSWire.headerBytes, n <= DNSWire.maxAnswerBytes else { return }
        let id = UInt16(buffer[0]) << 8 | UInt16(buffer[1])
        guard let p = pending[id] else { return }
        let end = DNSWire.headerBytes + p.question.count
        guard n >= end, buffer[0] == UInt8(id >> 8), buffer[2] & 0x80 != 0,
              p.question.elementsEqual(UnsafeRawBufferPointer(rebasing: buffer[DNSWire.headerBytes..<end])) else { return }
        pending[id] = nil
        loop.cancel(p.timer)
        var out = [UInt8](UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        out[0] = UInt8(p.clientID >> 8)
        out[1] = UInt8(p.clientID & 0xFF)
        UDPSocket.send(fd, out, to: p.client)
    }

    private func expire(_ id: UInt16) {
        guard let p = pending.removeValue(forKey: id) else { return }
        counters.timedOut.add(1, ordering: .relaxed)
        UDPSocket.send(fd, DNSWire.answer(to: p.query, in: p.queryBytes, rcode: 2, addresses: [], ttl: 0, authoritative: false), to: p.client)
    }
}
