#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshHTTP
import MeshHTTP1
import MeshNet
import Synchronization

/// One watch: its own thread and its own stream connection. It remembers the last revision it delivered and,
/// whenever the stream breaks, re-connects (next member first, back-off between rounds) asking for last+1, so no
/// event is lost or repeated. A dead member is noticed by the stream closing, or — for a member that is alive
/// but silent (hung, partitioned, no quorum) — by a probe: after `watchProbeIntervalMs` without a byte, a
/// linearizable read of one key on that same member must succeed within `requestTimeoutMs`, else the watch moves.
/// The stream also asks for leader checks (`Grpc-Metadata-hasleader`: etcd cancels it when the member loses its
/// leader) and progress notifications (which advance the revision it resumes from on an idle prefix).
final class EtcdWatcher: EtcdWatch, @unchecked Sendable {
    // @unchecked: `thread` and `threadID` are written once in `start` before anyone can call cancel; the
    // rest is immutable or atomic; loop state lives on the watch thread only.
    private let client: EtcdClient
    private let prefix: [UInt8]
    private let onEvents: @Sendable ([EtcdEvent]) -> Void
    private let onError: @Sendable (MeshError) -> Void
    private let cancelled = Atomic<Bool>(false)
    private let pipeFDs: (read: Int32, write: Int32)
    private var thread: LoopThread?
    private let threadID = Mutex<pthread_t?>(nil)
    /// The last revision delivered (or known to be complete through progress notifications).
    private var last: Int64

    init(client: EtcdClient, prefix: [UInt8], fromRevision: Int64, onEvents: @escaping @Sendable ([EtcdEvent]) -> Void,
         onError: @escaping @Sendable (MeshError) -> Void) {
        self.client = client
        self.prefix = prefix
        self.onEvents = onEvents
        self.onError = onError
        self.last = fromRevision
        var fds: [Int32] = [-1, -1]
        precondition(pipe(&fds) == 0, "pipe failed")
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        pipeFDs = (fds[0], fds[1])
    }

    func start() {
        thread = LoopThread { [self] in
            threadID.withLock { $0 = pthread_self() }
            run()
        }
    }

    deinit {
        Glibc.close(pipeFDs.read)
        Glibc.close(pipeFDs.write)
    }

    /// Stops the watch: wakes the thread, which closes its socket, and waits for it (unless called from a
    /// handler on the watch thread itself). No handler runs after this returns.
    func cancel() {
        guard !cancelled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var one: UInt8 = 1
        _ = write(pipeFDs.write, &one, 1)
        if let id = threadID.withLock({ $0 }), pthread_equal(id, pthread_self()) != 0 {
            thread?.detach()  // nobody can join the thread from itself; it ends when the handler returns
            return
        }
        thread?.join()
    }

    private var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    private func run() {
        let settings = client.settings
        var backoff = settings.backoffInitialMs
        var next = 0
        while !isCancelled {
            var failures: [String] = []
            var streamed = false
            for k in 0..<client.members.count where !isCancelled {
                let member = client.members[(next + k) % client.members.count]
                do {
                    streamed = try stream(member)
                    if streamed { backoff = settings.backoffInitialMs }
                } catch is EtcdStreamConnection.Woken {
                    return
                } catch let e as MeshError where e.errorCode == .storeCompacted {
                    deliverError(e)
                    return
                } catch {
                    client.markFailed(member)
                    failures.append(EtcdMember.text(error))
                }
                if isCancelled { return }
                next = (next + k + 1) % client.members.count
                if streamed { break }
            }
            if streamed || isCancelled { continue }
            deliverError(MeshError(.storeUnavailable, "watch cannot reach any etcd member: \(failures.joined(separator: "; "))"))
            if sleepInterruptibly(backoff) { return }
            backoff = min(backoff * 2, settings.backoffMaxMs)
        }
    }

    /// Waits `ms` unless cancelled meanwhile (then true).
    private func sleepInterruptibly(_ ms: Int) -> Bool {
        var p = pollfd(fd: pipeFDs.read, events: Int16(POLLIN), revents: 0)
        _ = poll(&p, 1, Int32(ms))
        return isCancelled
    }

    private func deliverError(_ e: MeshError) {
        if !isCancelled { onError(e) }
    }

    /// Streams from one member until the stream breaks. Returns whether the watch was established (then the
    /// caller re-connects without back-off); throws when it could not be.
    private func stream(_ member: EtcdMember) throws -> Bool {
        let settings = client.settings
        let conn = try EtcdStreamConnection(member.endpoint, wakeFD: pipeFDs.read, timeoutMs: settings.dialTimeoutMs)
        defer { conn.close() }
        let create: [(String, JSONValue)] = [("key", EtcdJSON.bytes(prefix.isEmpty ? [0] : prefix)),
                                             ("range_end", EtcdJSON.bytes(EtcdJSON.prefixEnd(prefix))),
                                             ("start_revision", EtcdJSON.int64(last + 1)), ("progress_notify", .bool(true))]
        var h = HTTPHeaders()
        h.add("Content-Type", "application/json")
        h.add("Grpc-Metadata-hasleader", "true")
        let body = JSONValue.object([("create_request", .object(create))])
        try conn.send(path: "/v3/watch", headers: h, body: Array(body.text.utf8), timeoutMs: settings.requestTimeoutMs)
        var lines = EtcdLineSplitter()
        var created = false
        var probe: HTTPConnection?
        defer { probe?.close() }
        // Until created, the member must answer within the request timeout.
        var deadline = SystemClock().monotonicMs() + Int64(settings.requestTimeoutMs)
        while !isCancelled {
            switch try conn.read(until: deadline) {
            case .end:
                if !created { throw MeshError(.storeUnavailable, "etcd \(member.endpoint.url) ended the watch before creating it") }
                return true
            case .idle:
                if !created { throw MeshError(.storeUnavailable, "etcd \(member.endpoint.url): watch not created within \(settings.requestTimeoutMs) ms") }
                // Silent stream: is the member alive and part of a quorum?
                do {
                    try probeMember(member, &probe)
                } catch {
                    client.markFailed(member)
                    throw error
                }
            case .body(let bytes):
                if let status = conn.head?.status, status != 200 {
                    throw MeshError(.storeUnavailable, "etcd \(member.endpoint.url) refused the watch: HTTP \(status) \(String(decoding: bytes, as: UTF8.self))")
                }
                for line in lines.feed(bytes) {
                    if try handle(line, member) { created = true }
                }
            }
            if created { deadline = SystemClock().monotonicMs() + Int64(settings.watchProbeIntervalMs) }
        }
        return true
    }

    /// A linearizable one-key read on the watch's member (its own keep-alive connection).
    private func probeMember(_ member: EtcdMember, _ probe: inout HTTPConnection?) throws {
        let settings = client.settings
        if probe == nil || !(probe!.canCarry(maxAgeMs: .max, maxIdleMs: 60_000)) {
            probe?.close()
            probe = try HTTPConnection(connecting: member.endpoint.address, tls: member.endpoint.tls,
                                       skipServerVerification: member.endpoint.tls != nil, timeoutMs: settings.dialTimeoutMs)
        }
        var h = HTTPHeaders()
        h.add("Content-Type", "application/json")
        let body = JSONValue.object([("key", EtcdJSON.bytes(prefix.isEmpty ? [0] : prefix)), ("limit", .string("1")),
                                     ("keys_only", .bool(true))])
        do {
            let r = try probe!.send(method: "POST", path: "/v3/kv/range", headers: h, body: Array(body.text.utf8),
                                    timeoutMs: settings.requestTimeoutMs)
            guard r.status == 200 else { throw MeshError(.storeUnavailable, "etcd \(member.endpoint.url) probe: HTTP \(r.status) \(r.text)") }
        } catch {
            probe?.close()
            probe = nil
            throw error
        }
    }

    /// One stream message; true when it says the watch was created.
    private func handle(_ line: [UInt8], _ member: EtcdMember) throws -> Bool {
        let v = try EtcdJSON.parse(line, what: "watch")
        if let e = v["error"] {
            throw MeshError(.storeUnavailable, "etcd \(member.endpoint.url) watch error: \(e["message"]?.stringValue ?? e.text)")
        }
        guard let r = v["result"] else { throw MeshError(.storeProtocol, "etcd watch message without result: \(v.text)") }
        let compact = try EtcdJSON.int64(r["compact_revision"], "compact_revision")
        if compact > 0 {
            throw MeshError(.storeCompacted, "etcd compacted the history up to revision \(compact); the watch needed \(last + 1)")
        }
        if EtcdJSON.bool(r["canceled"]) {
            let why = r["cancel_reason"]?.stringValue ?? "no reason given"
            throw MeshError(.storeUnavailable, "etcd \(member.endpoint.url) cancelled the watch: \(why)")
        }
        let created = EtcdJSON.bool(r["created"])
        let events = try (r["events"]?.arrayValue ?? []).map(EtcdJSON.event).filter { $0.kv.modRevision > last }
        if !events.isEmpty {
            last = events.map(\.kv.modRevision).max()!
            if !isCancelled { onEvents(events) }
        } else if !created, r["events"] == nil {
            // A progress notification: everything up to the header's revision has been sent.
            let rev = try EtcdJSON.headerRevision(r)
            if rev > last { last = rev }
        }
        return created
    }
}

/// Splits the stream's bytes into newline-terminated messages (the gateway writes one JSON object per line).
struct EtcdLineSplitter {
    private var pending: [UInt8] = []
    /// A message longer than this is a protocol error (a watch answer carries at most etcd's 1.5 MiB request cap
    /// per event, a few per message). Default 64 MiB.
    static let maxLineBytes = 64 << 20

    mutating func feed(_ bytes: [UInt8]) -> [[UInt8]] {
        pending += bytes
        var out: [[UInt8]] = []
        var start = 0
        while let nl = pending[start...].firstIndex(of: 0x0a) {
            let line = Array(pending[start..<nl])
            if !line.allSatisfy({ $0 == 0x20 || $0 == 0x0d }) { out.append(line) }
            start = nl + 1
        }
        pending.removeFirst(start)
        return out
    }
}
