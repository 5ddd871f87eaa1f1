import Synchronization
import MeshCore
import MeshEtcd

/// What one repository has seen of its keys: per key the value (nil: deleted) and the revision of that change,
/// and the revision of its last full read. Changes arrive two ways — the repository's own commits (told at
/// once, so a caller sees its change told before its compare-and-set returns) and the watch (other replicas,
/// and our own again, later) — and `accept` lets each change through exactly once, newest wins, telling
/// subscribers one at a time in revision order per key.
final class EtcdKeyed<Value: Sendable>: Sendable {
    private let state: Mutex<(values: [String: (value: Value?, mod: Int64)], loadedAt: Int64)>
    /// Held while telling, so two changes are never told at once (or out of order).
    private let telling = Mutex<Void>(())

    init(_ values: [String: (value: Value?, mod: Int64)], loadedAt: Int64) {
        state = Mutex((values, loadedAt))
    }

    var loadedAt: Int64 { state.withLock { $0.loadedAt } }

    func value(_ suffix: String) -> (value: Value?, mod: Int64) {
        state.withLock { $0.values[suffix] ?? (nil, 0) }
    }

    /// Every present value.
    var present: [String: Value] {
        state.withLock { s in s.values.compactMapValues { $0.value } }
    }

    /// Takes `value` for `suffix` as changed at revision `mod` when that is newer than what is known; then
    /// calls `tell` (outside the state lock, inside the telling lock). True when it was news.
    @discardableResult
    func accept(_ suffix: String, _ value: Value?, mod: Int64, tell: (Value?) -> Void) -> Bool {
        telling.withLock { _ in
            let news = state.withLock { s -> Bool in
                guard mod > s.loadedAt, mod > (s.values[suffix]?.mod ?? 0) else { return false }
                s.values[suffix] = (value, mod)
                return true
            }
            if news { tell(value) }
            return news
        }
    }

    /// A full re-read at `revision`: every key that differs from what is known is told (a vanished key as nil).
    func reloaded(_ values: [String: (value: Value?, mod: Int64)], at revision: Int64, tell: (String, Value?) -> Void) {
        telling.withLock { _ in
            let changed = state.withLock { s -> [(String, Value?)] in
                var out: [(String, Value?)] = []
                for (k, v) in values where v.mod > (s.values[k]?.mod ?? 0) {
                    s.values[k] = v
                    out.append((k, v.value))
                }
                for (k, v) in s.values where values[k] == nil && v.value != nil {
                    s.values[k] = (nil, revision)
                    out.append((k, nil))
                }
                s.loadedAt = max(s.loadedAt, revision)
                return out
            }
            for (k, v) in changed { tell(k, v) }
        }
    }
}

/// A stored value that does not decode.
func etcdCorrupt(_ key: String, _ why: Any) -> MeshError {
    MeshError(.storeCorrupt, "etcd key \(key): \(why)")
}
