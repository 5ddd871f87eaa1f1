#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshCore
import MeshEtcd
import MeshNet

/// One control plane's view of its state in etcd: the client, the key prefix (default `/mesh/<trust-domain>/`),
/// and the one watch on that prefix that brings other replicas' commits to the repositories, in commit order.
///
/// The repositories read their keys when opened (`loadedAt`: the store revision of that read), then register a
/// route for their keys. `startWatching` watches the whole prefix from the oldest `loadedAt`; each event goes to
/// the route whose key prefix it has (a route drops events it has already seen: its own commits, which it told
/// its subscribers synchronously, or ones older than its read). When etcd compacted the history the watch
/// needs, every route reloads (and tells what changed) and the watch starts again from the reload.
public final class EtcdStore: Sendable {
    public let kv: any EtcdKV
    /// Ends with `/`.
    public let prefix: String
    private let routes = Mutex<[(suffix: String, route: any EtcdRoute)]>([])
    private let watching = Mutex<(watch: (any EtcdWatch)?, from: Int64?, generation: Int)>((nil, nil, 0))
    /// The last watch error (nil while the watch is healthy), for `storeHealth`.
    let watchError = Mutex<String?>(nil)

    /// The default prefix for a trust domain.
    public static func defaultPrefix(trustDomain: String) -> String { "/mesh/\(trustDomain)/" }

    public init(kv: any EtcdKV, prefix: String) {
        self.kv = kv
        self.prefix = prefix.hasSuffix("/") ? prefix : prefix + "/"
    }

    /// The full key of `suffix` (e.g. `policy/current`).
    public func key(_ suffix: String) -> [UInt8] { Array((prefix + suffix).utf8) }

    /// The suffix of a full key under the prefix.
    func suffix(of key: [UInt8]) -> String? {
        let text = String(decoding: key, as: UTF8.self)
        guard text.hasPrefix(prefix) else { return nil }
        return String(text.dropFirst(prefix.count))
    }

    /// One key and the store revision it was read at (a txn with one get: both in one answer).
    func read(_ suffix: String) throws -> (kv: EtcdKeyValue?, revision: Int64) {
        let r = try kv.txn([], success: [.get(key(suffix))], failure: [])
        return (r.gets.first ?? nil, r.revision)
    }

    /// Every key under `suffix`, paged (`pageSize` keys a call), and the revision of the first page's read.
    /// Later pages are read at later revisions; the watch from the first one fills in what changed meanwhile.
    func readAll(_ suffix: String, pageSize: Int = 1_000) throws -> (kvs: [EtcdKeyValue], revision: Int64) {
        var out: [EtcdKeyValue] = []
        var after: [UInt8]?
        var first: Int64?
        while true {
            let page = try kv.range(prefix: key(suffix), after: after, limit: pageSize)
            if first == nil { first = page.revision }
            out += page.kvs
            guard page.more, let last = page.kvs.last else { break }
            after = last.key
        }
        return (out, first ?? 0)
    }

    /// Whether anything at all is stored under the prefix (init and migrate refuse a non-empty target).
    public func isEmpty() throws -> Bool {
        try kv.range(prefix: key(""), after: nil, limit: 1).kvs.isEmpty
    }

    /// Routes events of keys starting with `suffix` to `route`; its `loadedAt` bounds where the watch starts.
    func register(_ suffix: String, _ route: any EtcdRoute) {
        routes.withLock { $0.append((suffix, route)) }
    }

    /// Starts the one watch, from the oldest revision a route read at. Idempotent.
    public func startWatching() {
        let from = routes.withLock { $0.map { $0.route.loadedAt }.min() } ?? 0
        watch(from: from, restart: false)
    }

    private func watch(from: Int64, restart: Bool) {
        let generation = watching.withLock { w -> Int? in
            if w.watch != nil && !restart { return nil }
            w.watch?.cancel()
            w.generation += 1
            return w.generation
        }
        guard let generation else { return }
        let watch = kv.watch(prefix: key(""), fromRevision: from, onEvents: { [weak self] events in
            self?.deliver(events)
        }, onError: { [weak self] error in
            self?.failed(error, generation: generation)
        })
        let stale = watching.withLock { w -> Bool in
            guard w.generation == generation else { return true }
            w.watch = watch
            w.from = from
            return false
        }
        if stale { watch.cancel() }
    }

    private func deliver(_ events: [EtcdEvent]) {
        watchError.withLock { $0 = nil }
        let list = routes.withLock { $0 }
        for e in events {
            guard let s = suffix(of: e.kv.key) else { continue }
            for r in list where s.hasPrefix(r.suffix) { r.route.apply(e, suffix: s) }
        }
    }

    /// A compacted watch: every route reloads, the watch starts again from the reload. Anything else is told to
    /// `storeHealth` (the client keeps re-connecting on its own).
    private func failed(_ error: MeshError, generation: Int) {
        watchError.withLock { $0 = "\(error.code): \(error.reason)" }
        guard error.errorCode == .storeCompacted else { return }
        LoopThread(start: { [weak self] in self?.reloadAfterCompaction(generation) }).detach()
    }

    private func reloadAfterCompaction(_ generation: Int) {
        guard watching.withLock({ $0.generation == generation }) else { return }
        var from: Int64 = .max
        for r in routes.withLock({ $0 }) {
            while true {
                do { from = min(from, try r.route.reload()); break } catch {
                    watchError.withLock { $0 = "reload after compaction: \(error)" }
                    usleep(1_000_000)
                }
            }
        }
        watch(from: from == .max ? 0 : from, restart: true)
    }

    /// Stops the watch (no route hears anything after this returns).
    public func stop() {
        let w = watching.withLock { w -> (any EtcdWatch)? in
            defer { w.watch = nil; w.generation += 1 }
            return w.watch
        }
        w?.cancel()
    }

    deinit { watching.withLock { $0.watch?.cancel() } }
}

/// A repository's side of the watch.
protocol EtcdRoute: Sendable {
    /// The store revision its state was read at: events at or before it are already in it.
    var loadedAt: Int64 { get }
    /// One change of a key under its suffix (`suffix` is the key without the store's prefix).
    func apply(_ event: EtcdEvent, suffix: String)
    /// Reads its keys again (after a compaction), tells subscribers what changed, returns the read's revision.
    func reload() throws -> Int64
}
