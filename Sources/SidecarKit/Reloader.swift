#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshCore
import MeshNet
import MeshObservability
import MeshTLS

/// What the last reload did, for `/config`, `/metrics` and the log.
public struct ReloadRecord: Sendable {
    public let time: Double
    public let trigger: String
    public let ok: Bool
    public let error: String?
    public let generation: Int
}

/// Re-reads the configuration and the identity files, builds a new `SidecarState` and swaps it in. New
/// handshakes use the new certificate, key, bundle and allow lists; established connections carry on, except
/// those the new policy no longer allows (closed by the loops, `permission-revoked`). A reload that fails
/// (broken JSON, half-written PEM, key not matching the certificate, changed listeners) keeps the old state.
///
/// Takes effect on reload: identity files, trust bundle, allow lists, app addresses, upstream addresses and
/// expected identities, TLS resumption settings. Needs a restart: listeners (names, addresses), loops,
/// limits, log settings.
public final class Reloader: Sendable {
    let runtime: SidecarRuntime
    let configPath: String
    private let serial = Mutex<FileSignatures>(FileSignatures())
    private let last = Mutex<ReloadRecord?>(nil)
    /// Called with the new state after a successful swap (the sidecar re-checks live connections).
    private let onSwap: @Sendable (SidecarState) -> Void
    /// Test seam: runs right after the files were read, where a concurrent write would land.
    private let afterRead: (@Sendable () -> Void)?

    public init(runtime: SidecarRuntime, configPath: String, afterRead: (@Sendable () -> Void)? = nil,
                onSwap: @escaping @Sendable (SidecarState) -> Void) {
        self.runtime = runtime
        self.configPath = configPath
        self.onSwap = onSwap
        self.afterRead = afterRead
        serial.withLock { $0 = FileSignatures(paths: Self.watchedPaths(runtime.config, configPath)) }
    }

    public var lastReload: ReloadRecord? { last.withLock { $0 } }

    /// Reloads now. Serialized: concurrent callers wait for each other.
    @discardableResult
    public func reload(trigger: String) -> ReloadRecord {
        serial.withLock { sigs -> ReloadRecord in
            // Signatures are taken before reading: a write that lands while we read changes the files after
            // this point, so the next check sees it and reloads again (taken after, it would be missed).
            let before = FileSignatures(paths: sigs.paths)
            let record: ReloadRecord
            switch buildState() {
            case .success(let (state, config)):
                onSwap(state)
                let paths = Self.watchedPaths(config, configPath)
                // Newly named files were read without a prior signature: look at them again next time.
                sigs = paths == before.paths ? before : FileSignatures(unseen: paths)
                record = ReloadRecord(time: runtime.clock.wallSeconds(), trigger: trigger, ok: true, error: nil,
                                      generation: state.generation)
                runtime.stats.reloadsOK.add(1, ordering: .relaxed)
                runtime.log.event("reloaded", fields: [
                    ("trigger", .string(trigger)), ("generation", .int(state.generation)),
                    ("identity", .string(state.identity.spiffeID.description)),
                    ("certSerial", .string(state.identity.leaf.serialHex)),
                    ("certNotAfter", .string(UTCTime.iso8601(state.identity.leaf.notAfter, milliseconds: true))),
                ])
            case .failure(let e):
                // Remember what we saw so a broken file is not retried every second; a later write retries.
                sigs = before
                record = ReloadRecord(time: runtime.clock.wallSeconds(), trigger: trigger, ok: false, error: e.description,
                                      generation: runtime.state.generation)
                runtime.stats.reloadsFailed.add(1, ordering: .relaxed)
                runtime.log.event("reload-failed", fields: [("trigger", .string(trigger)), ("error", .string(e.description))])
            }
            last.withLock { $0 = record }
            return record
        }
    }

    /// Reloads when the config file or a file it names changed since the last look (size, mtime, inode).
    public func reloadIfFilesChanged() {
        let changed = serial.withLock { $0 != FileSignatures(paths: $0.paths) }
        if changed { reload(trigger: "file-change") }
    }

    private func buildState() -> Result<(SidecarState, SidecarConfig), MeshError> {
        let config: SidecarConfig
        switch SidecarConfig.load(path: configPath) {
        case .failure(let e): return .failure(e)
        case .success(let c): config = c
        }
        afterRead?()
        let old = runtime.config
        // Everything a listener is bound to and decided by, beyond what a reload applies: names, addresses, the
        // service port (inbound) and the destination (outbound) are read once, at start.
        func inbound(_ c: SidecarConfig) -> [String] { c.inbound.map { "\($0.name)@\($0.listen)#\($0.servicePort.map(String.init) ?? "-")" } }
        func outbound(_ c: SidecarConfig) -> [String] {
            c.outbound.map { "\($0.name)@\($0.listen)>\($0.destination?.description ?? "-"):\($0.destinationPort.map(String.init) ?? "-")/\($0.allowNonLoopback)" }
        }
        if inbound(config) != inbound(old) || outbound(config) != outbound(old) {
            return .failure(MeshError(.reloadListenersChanged,
                                      "listener names, addresses, service ports or destinations changed; that needs a restart (nothing was changed)"))
        }
        do {
            let identity = try TLSIdentity.load(config.identity)
            let now = runtime.clock.wallSeconds()
            // Built and swapped in one step, keeping the policy slice in force.
            let state = try runtime.update { old in
                try SidecarState(config: config, identity: identity, generation: old.generation + 1, loadedAt: now, slice: old.slice)
            }
            return .success((state, config))
        } catch let e as MeshError {
            return .failure(e)
        } catch {
            return .failure(MeshError(.reloadFailed, "\(error)"))
        }
    }

    static func watchedPaths(_ c: SidecarConfig, _ configPath: String) -> [String] {
        [configPath, c.identity.certificate, c.identity.key, c.identity.trustBundle]
    }
}

/// Size, modification time and inode of a set of files; a change in any of them means "look again".
struct FileSignatures: Equatable, Sendable {
    var paths: [String] = []
    var values: [[Int]] = []

    init() {}

    /// Signatures that match no file, so the next look reloads.
    init(unseen paths: [String]) {
        self.paths = paths
        values = paths.map { _ in [-2] }
    }

    init(paths: [String]) {
        self.paths = paths
        values = paths.map { p in
            var st = stat()
            guard stat(p, &st) == 0 else { return [-1] }
            return [Int(st.st_size), Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec), Int(st.st_ino)]
        }
    }
}

extension TLSIdentity {
    /// Reads the three PEM files a config names (each at most 1 MiB) and builds the identity.
    public static func load(_ files: IdentityFiles) throws -> TLSIdentity {
        var pems: [[UInt8]] = []
        for (field, file) in [("identity.certificate", files.certificate), ("identity.key", files.key),
                              ("identity.trustBundle", files.trustBundle)] {
            switch FileIO.readAll(file, limit: 1 << 20) {
            case .failure(let e): throw MeshError(e.errorCode, "\(field): \(e.reason)")
            case .success(let b): pems.append(b)
            }
        }
        return try TLSIdentity(certificatePEM: pems[0], keyPEM: pems[1], bundlePEM: pems[2], trustDomain: files.trustDomain)
    }
}
