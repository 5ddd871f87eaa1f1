import MeshNet
import Synchronization
import MeshCore

/// Identity records in `DIR/identities.json` (a snapshot) plus `DIR/identities.journal` (one line per change
/// since): a renewal appends one small line, fsynced together with the lines of concurrent renewals (group
/// commit, `Journal`), instead of rewriting every identity's record. Opening replays the journal over the
/// snapshot (a torn last line, never acknowledged, is cut) and compacts; so does a journal past `compactAbove`.
///
/// This process is the only writer. A compare-and-set is checked under `state` and the entry (or the deny list)
/// is marked in flight until its line is durable: a second write to the same entry meanwhile is refused with
/// `identities.conflict` (as if the first had already won), so two renewals of one identity never both commit,
/// while different identities commit in parallel. Memory shows only durable changes (the journal applies them).
public final class FileIdentityRepository: IdentityRepository {
    let path: String
    let journal: Journal
    /// Default journal size that triggers a compaction into `identities.json`: 8 MiB (about 50,000 renewals;
    /// a snapshot of 10,000 identities is about 1.5 MB).
    public static let defaultCompactAbove = 8 << 20
    private let state: Locked<(records: IdentityRecords, inFlight: Set<SPIFFEID>, denyInFlight: Bool)>
    private let observers = ChangeObservers<IdentityRecords>()
    private let latestObservers = ChangeObservers<(SPIFFEID, IdentityRecords.Latest?)>()

    public init(dataDir: String, compactAbove: Int = FileIdentityRepository.defaultCompactAbove) throws {
        path = "\(dataDir)/identities.json"
        var records = DurableFile.exists(path) ? try Self.decode(try DurableFile.read(path, limit: 64 << 20), path: path) : .empty
        journal = try Journal(path: "\(dataDir)/identities.journal", compactAbove: compactAbove)
        for line in journal.linesAtOpen { try Self.replay(line, into: &records, path: journal.path) }
        let state = Locked((records: records, inFlight: Set<SPIFFEID>(), denyInFlight: false))
        self.state = state
        journal.onCompaction { [path] in
            try DurableFile.write(path, Self.encode(state.withLock { $0.records }), mode: 0o600)
        }
        if !journal.linesAtOpen.isEmpty { try journal.compact() }
    }

    public func load() throws -> IdentityRecords { state.withLock { $0.records } }

    public func compareAndSet(expected: Int, _ next: IdentityRecords) throws {
        try state.withLock { (s) throws in
            guard !s.denyInFlight, s.records.revision == expected else {
                throw MeshError(.identitiesConflict, "the identity records are at revision \(s.records.revision)"
                                + (s.denyInFlight ? " with a change in flight" : "") + ", not \(expected)")
            }
            s.denyInFlight = true
        }
        defer { state.withLock { $0.denyInFlight = false } }
        var deny = next
        deny.latest = [:]
        let line = JSONValue.object([("denyList", try StrictJSON.parse(Self.encode(deny)))]).text
        let state = self.state
        try journal.append(Array(line.utf8)) { state.withLock { $0.records = $0.records.withDenyList(of: next) } }
        observers.notify(state.withLock { $0.records })
    }

    public func setLatest(_ identity: SPIFFEID, _ latest: IdentityRecords.Latest?, previous: IdentityRecords.Latest?) throws {
        try state.withLock { (s) throws in
            guard !s.inFlight.contains(identity), s.records.latest[identity] == previous else {
                throw MeshError(.identitiesConflict, "\(identity): its latest certificate changed meanwhile")
            }
            s.inFlight.insert(identity)
        }
        defer { _ = state.withLock { $0.inFlight.remove(identity) } }
        let line = JSONValue.object([
            ("latest", .string(identity.description)), ("serial", .optional(latest?.serial)),
            ("notAfter", latest.map { .int(Int($0.notAfter)) } ?? .null),
        ]).text
        let state = self.state
        try journal.append(Array(line.utf8)) { state.withLock { $0.records.latest[identity] = latest } }
        latestObservers.notify((identity, latest))
    }

    public func subscribe(_ onChange: @escaping @Sendable (IdentityRecords) -> Void) -> Subscription {
        observers.subscribe(onChange)
    }

    public func subscribeLatest(_ onChange: @escaping @Sendable (SPIFFEID, IdentityRecords.Latest?) -> Void) -> Subscription {
        latestObservers.subscribe { onChange($0.0, $0.1) }
    }

    /// One journal line over `records`: a latest entry set or removed, or a whole deny-list part. Each line
    /// sets a value, so replaying lines a snapshot already holds changes nothing.
    static func replay(_ line: [UInt8], into records: inout IdentityRecords, path: String) throws {
        func corrupt(_ why: String) -> MeshError { MeshError(.identitiesCorrupt, "\(path): \(why)") }
        let doc: JSONValue
        do { doc = try StrictJSON.parse(line, limits: StrictJSON.Limits(maxBytes: 64 << 20)) } catch { throw corrupt("a line is not JSON: \(error)") }
        if let id = doc["latest"]?.stringValue {
            guard let identity = try? SPIFFEID.workload(id) else { throw corrupt("a line names no identity") }
            if let serial = doc["serial"]?.stringValue {
                guard let notAfter = doc["notAfter"]?.intValue else { throw corrupt("a latest line lacks notAfter") }
                records.latest[identity] = .init(serial: serial, notAfter: Double(notAfter))
            } else {
                records.latest[identity] = nil
            }
        } else if let deny = doc["denyList"] {
            records = records.withDenyList(of: try decode(Array(deny.text.utf8), path: path))
        } else {
            throw corrupt("a line is neither a latest entry nor a deny list")
        }
    }
}
