import MeshCore

/// CA rotation: start one (operator), and move it along its schedule (the server's tick).
extension ControlPlane {
    /// Starts a rotation: validate (none under way) → compare-and-set (new root durable) → audit → swap → notify.
    public func rotate(actor: String) throws -> CAState.Root {
        try writes.withLock { _ throws -> CAState.Root in
            let now = now()
            let base = ca
            let (next, root) = try base.rotated(now: now, overlap: settings.overlap)
            try commit(next, over: base) {
                try audit.record(time: now, actor: actor, action: "ca.rotate", [
                    ("newRoot", .int(root.id)), ("sha256", .string(root.certificate.sha256Fingerprint)),
                    ("issuesAt", .int(Int(root.nextAt ?? now))),
                ])
            }
            return root
        }
    }

    /// Moves a rotation along its schedule; true when the issuing root changed (the caller renews its own
    /// serving certificate). Nothing due: nothing written, nothing audited.
    @discardableResult
    public func tick() throws -> Bool {
        guard isLeader else { return false }  // the leader alone moves rotations (over etcd)
        return try writes.withLock { _ throws -> Bool in
            let now = now()
            let base = ca
            guard let (next, changes) = base.advanced(now: now, retireAfter: settings.certTTL) else { return false }
            try commit(next, over: base) {
                for c in changes {
                    try audit.record(time: now, actor: "mesh-control", action: "ca.schedule", [("change", .string(c))])
                }
            }
            return next.issuing.id != base.issuing.id
        }
    }

    /// Compare-and-set → audit (undone when it fails) → swap → notify. Called holding `writes`.
    private func commit(_ next: CAState, over base: CAState, audit: () throws -> Void) throws {
        caState.withLock { $0.pending = next.revision }
        defer { caState.withLock { $0.pending = nil } }
        do {
            try caRepository.compareAndSet(expected: base.revision, next)
        } catch let e as MeshError where e.errorCode == .caConflict {
            if let stored = try? caRepository.load() { caStored(stored) }
            throw e
        }
        do {
            try audit()
        } catch {
            try? caRepository.compareAndSet(expected: next.revision, base)
            throw error
        }
        caState.withLock { $0.state = next }
        caChanges.notify(next)
    }

    /// A committed change told by the repository: another writer's newer state is swapped in and announced.
    func caStored(_ stored: CAState) {
        let swapped = caState.withLock { s -> Bool in
            guard stored.revision > s.state.revision, stored.revision != s.pending else { return false }
            s.state = stored
            return true
        }
        if swapped { caChanges.notify(stored) }
    }
}
