#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet

/// The etcd v3 client of the control plane's replicas, over etcd 3.4's JSON gateway (HTTP/1.1 POSTs of JSON;
/// `https` with a CA and optionally a client certificate). Thread-safe: calls may come from any thread.
///
/// Members: one keep-alive connection each; calls go to the first member in configured order that has not
/// failed recently. A member that fails to connect, times out or says it has no leader is skipped for
/// `skipFailedMemberMs` (unless every member is), so a dead member costs one timeout, not one per call.
///
/// Retries: reads (get, range, status, keep-alive, revoke) go on to the next member after any failure, in rounds
/// with back-off, until `readRetryBudgetMs`. Writes (`txn`, lease grant) go on to another member only when
/// nothing was sent (connect failed); once the request was sent, a failure is `store.unavailable` at once — the
/// write may or may not have been applied, and only the caller can tell by re-reading (compare-and-set).
public final class EtcdClient: EtcdKV, Sendable {
    // Every stored property is immutable after init; members carry their own locks.
    public let settings: EtcdClientSettings
    let members: [EtcdMember]
    let clock: any Clock

    public init(_ settings: EtcdClientSettings, clock: any Clock = SystemClock()) throws {
        self.settings = settings
        self.clock = clock
        members = try EtcdEndpoint.all(settings).map(EtcdMember.init)
    }

    deinit { close() }

    /// Closes the kept connections (watches close their own when cancelled).
    public func close() {
        for m in members { m.disconnect() }
    }

    /// Members to ask, in order: the healthy ones in configured order, then the skipped ones, soonest first.
    func ordered() -> [EtcdMember] {
        let now = clock.monotonicMs()
        let healthy = members.filter { $0.skipUntil.load(ordering: .relaxed) <= now }
        let skipped = members.filter { $0.skipUntil.load(ordering: .relaxed) > now }
            .sorted { $0.skipUntil.load(ordering: .relaxed) < $1.skipUntil.load(ordering: .relaxed) }
        return healthy + skipped
    }

    func markFailed(_ m: EtcdMember) {
        m.skipUntil.store(clock.monotonicMs() + Int64(settings.skipFailedMemberMs), ordering: .relaxed)
    }

    /// One call with the failover and retry rules above.
    func call(_ path: String, _ body: JSONValue, write: Bool) throws -> JSONValue {
        let bytes = Array(body.text.utf8)
        let start = clock.monotonicMs()
        var backoff = settings.backoffInitialMs
        var last = MeshError(.storeUnavailable, "no etcd member answered")
        while true {
            for m in ordered() {
                // A read stops at its budget even in the middle of a round.
                let left = Int(Int64(settings.readRetryBudgetMs) - (clock.monotonicMs() - start))
                if !write && left <= 0 { break }
                do {
                    let v = try m.exchange(path, bytes, settings: settings, timeoutMs: write ? nil : left)
                    m.skipUntil.store(0, ordering: .relaxed)
                    return v
                } catch {
                    switch error {
                    case .notSent(let e):
                        markFailed(m)
                        last = e
                    case .noAnswer(let e):
                        if e.errorCode != .storeProtocol { markFailed(m) }
                        if write || e.errorCode == .storeProtocol {
                            throw MeshError(e.errorCode, write ? "\(e.reason); the write may or may not have been applied" : e.reason)
                        }
                        last = e
                    case .refused(let status, let code, let message):
                        let e = Self.mapRefusal(status: status, code: code, message: message, url: m.endpoint.url)
                        guard e.errorCode == .storeUnavailable else { throw e }
                        markFailed(m)
                        if write { throw MeshError(.storeUnavailable, "\(e.reason); the write may or may not have been applied") }
                        last = e
                    }
                }
            }
            if write { throw last }
            let elapsed = clock.monotonicMs() - start
            if elapsed + Int64(backoff) > Int64(settings.readRetryBudgetMs) {
                throw MeshError(.storeUnavailable, "no etcd member answered within \(settings.readRetryBudgetMs) ms: \(last.reason)")
            }
            usleep(UInt32(backoff) * 1000)
            backoff = min(backoff * 2, settings.backoffMaxMs)
        }
    }

    /// etcd's error answer as a MeshError: no leader, timeouts and gRPC "unavailable" (14) / "deadline
    /// exceeded" (4) mean the cluster cannot serve now; "compacted" (11) is its own code; the rest is a protocol
    /// error (a bug here or an incompatible etcd).
    static func mapRefusal(status: Int, code: Int, message: String, url: String) -> MeshError {
        let m = message.lowercased()
        if code == 14 || code == 4 || m.contains("no leader") || m.contains("timed out") || m.contains("leader changed")
            || m.contains("too many requests") || status == 503 {
            return MeshError(.storeUnavailable, "etcd \(url): \(message)")
        }
        if code == 11 || m.contains("compacted") { return MeshError(.storeCompacted, "etcd \(url): \(message)") }
        if code == 16 || code == 7 {
            return MeshError(.storeUnavailable, "etcd \(url) refused the client: \(message)")
        }
        return MeshError(.storeProtocol, "etcd \(url) (HTTP \(status), code \(code)): \(message)")
    }
}
