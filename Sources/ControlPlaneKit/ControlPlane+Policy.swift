import MeshCore
import MeshPolicy

/// The mesh configuration use cases: apply the whole mesh, replace one section, validate without storing.
extension ControlPlane {
    /// An accepted change: the snapshot now in force and what changed, line by line.
    public struct PolicyChange: Sendable {
        public let snapshot: PolicySnapshot
        public let diff: [String]
    }

    /// The sections of the mesh document that can be replaced on their own.
    public static let policySections: Set<String> = ["services", "segments", "rules"]

    /// Validates `files` as a whole mesh against the one in force; nothing is stored.
    public func validatePolicy(_ files: [PolicyFile]) throws -> (baseVersion: Int, diff: [String]) {
        let base = policy
        return (base.version, try PolicySnapshot.parse(files).diff(from: base.policy))
    }

    /// Replaces the mesh if `ifMatch` is the version in force: validate all, compare-and-set, audit, swap, notify.
    /// A failure at any step changes nothing.
    public func applyPolicy(_ files: [PolicyFile], ifMatch: Int, actor: String) throws -> PolicyChange {
        try writes.withLock { _ throws -> PolicyChange in
            let base = policy
            guard ifMatch == base.version else {
                throw MeshError(.policyConflict, "the mesh is at version \(base.version), not \(ifMatch): fetch it again and re-apply")
            }
            let parsed = try PolicySnapshot.parse(files)
            let diff = parsed.diff(from: base.policy)
            let next = PolicySnapshot(stored: StoredPolicy(version: ifMatch + 1, files: files), policy: parsed)
            try commit(next, over: base) {
                try audit.record(time: now(), actor: actor, action: "policy.apply", [
                    ("oldVersion", .int(base.version)), ("newVersion", .int(next.version)), ("contentSHA256", .string(next.hash)),
                    ("changes", .int(diff.count)),
                ])
            }
            return PolicyChange(snapshot: next, diff: diff)
        }
    }

    /// Replaces one section (`services`, `segments` or `rules`) with `items`, keeping the rest of the mesh in
    /// force; the result is validated whole and applied as one document, like a full apply.
    public func replaceSection(_ name: String, with items: JSONValue, ifMatch: Int, actor: String) throws -> PolicyChange {
        guard Self.policySections.contains(name), items.arrayValue != nil else {
            throw MeshError(.policyBadRequest, "the body needs \"\(name)\": [...]")
        }
        guard let current = policy.policy else {
            throw MeshError(.policyNothingApplied, "apply a whole mesh first (PUT /v1/mesh)")
        }
        guard case .object(let members) = current.json() else { throw MeshError(.internalFailure, "mesh is not an object") }
        let merged = JSONValue.object(members.map { $0.0 == name ? ($0.0, items) : $0 })
        return try applyPolicy([PolicyFile(name: "mesh.json", content: merged.text)], ifMatch: ifMatch, actor: actor)
    }

    /// Compare-and-set → audit (undone when it fails: not audited means not accepted) → swap → notify.
    /// Called holding `writes`.
    private func commit(_ next: PolicySnapshot, over base: PolicySnapshot, audit: () throws -> Void) throws {
        policyState.withLock { $0.pending = next.version }
        defer { policyState.withLock { $0.pending = nil } }
        do {
            try policyRepository.compareAndSet(expected: base.version, next.stored)
        } catch let e as MeshError where e.errorCode == .policyConflict {
            // Ours was not stored: a stored version with our number is another writer's (or an earlier write of
            // ours that timed out and committed later), so it must not be dropped as "ours in flight".
            policyState.withLock { $0.pending = nil }
            try? reloadPolicy()  // someone else wrote: take their version, so the caller can retry on it
            throw e
        }
        do {
            try audit()
        } catch {
            try? policyRepository.compareAndSet(expected: next.version, base.stored)
            throw error
        }
        policyState.withLock { $0.snapshot = next }
        policyChanges.notify(next)
    }

    /// A committed change told by the repository. Ours (in flight or already swapped in) is not news; another
    /// writer's newer version is parsed, swapped in and announced.
    func policyStored(_ stored: StoredPolicy) {
        let news = policyState.withLock { s in stored.version > s.snapshot.version && stored.version != s.pending }
        guard news, let next = try? PolicySnapshot.load(stored) else { return }
        let swapped = policyState.withLock { s -> Bool in
            guard next.version > s.snapshot.version else { return false }
            s.snapshot = next
            return true
        }
        if swapped { policyChanges.notify(next) }
    }

    private func reloadPolicy() throws { policyStored(try policyRepository.load()) }
}
