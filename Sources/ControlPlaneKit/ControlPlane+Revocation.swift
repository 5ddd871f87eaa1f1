import MeshCore
import MeshTLS

/// Identity lifecycle: only the latest certificate of an identity renews (an older one is a cloned key), and an
/// operator revokes identities or single certificates. Both are durable (`IdentityRepository`), audited, and the
/// deny list reaches every sidecar with its slice.
extension ControlPlane {
    /// Most revocations kept at once (default 10 000); entries drop out by themselves once everything they
    /// refuse has expired beyond the renewal grace.
    public static let maxRevocations = 10_000

    /// The records in force.
    public var identityRecords: IdentityRecords { identityState.withLock { $0 } }

    /// The deny list in force, built under the lock: no copy of all records escapes (one held while a renewal
    /// changes `latest` would make that change copy every identity's entry).
    var denyList: RevocationList { identityState.withLock { $0.denyList } }

    /// One identity's latest certificate in force.
    func latestEntry(_ id: SPIFFEID) -> IdentityRecords.Latest? { identityState.withLock { $0.latest[id] } }

    /// Revokes `identity` (its certificates issued until now) or one `serial`: validate → compare-and-set
    /// (durable) → audit (undone if it fails) → swap → every sidecar's poll is answered with the new deny list.
    public func revoke(identity: SPIFFEID?, serial: String?, reason: String, actor: String) throws -> IdentityRecords.Revocation {
        guard (identity == nil) != (serial == nil) else {
            throw MeshError(.revokeBadRequest, "name exactly one of identity or serial")
        }
        if let serial, !RevocationList.isSerial(serial) {
            throw MeshError(.revokeBadRequest, "\(serial.debugDescription) is not a certificate serial (1-40 hex digits)")
        }
        if let identity, identity.trustDomain != ca.trustDomain {
            throw MeshError(.revokeBadRequest, "\(identity) is not in trust domain \(ca.trustDomain)")
        }
        guard reason.utf8.count <= 1024 else { throw MeshError(.revokeBadRequest, "the reason is longer than 1024 bytes") }
        return try issuing.withLock { _ throws -> IdentityRecords.Revocation in
            let now = now()
            let base = identityRecords
            let horizon = now + settings.certTTL + settings.grace
            let until = serial.flatMap { s in base.latest.values.first { $0.serial == s }.map { $0.notAfter + settings.grace } } ?? horizon
            let entry = IdentityRecords.Revocation(identity: identity, serial: serial, revokedAt: now, reason: reason, actor: actor,
                                                   until: until)
            var next = base
            next.revocations = base.revocations.filter { $0.until > now } + [entry]
            guard next.revocations.count <= Self.maxRevocations else {
                throw MeshError(.revokeListFull, "the revocation list holds \(Self.maxRevocations) entries")
            }
            next.revision += 1
            next.revocationRevision += 1
            try commitIdentities(next, over: base) {
                try audit.record(time: now, actor: actor, action: "identity.revoke", [
                    ("identity", .optional(identity?.description)), ("serial", .optional(serial)), ("reason", .string(reason)),
                    ("revision", .int(next.revocationRevision)),
                ])
            }
            return entry
        }
    }

    /// A presented certificate that is revoked is refused (`identity.revoked`), counted and logged.
    func refuseIfRevoked(_ id: SPIFFEID, serial: String?, notBefore: Double, route: String) throws {
        guard denyList.revokes(id, serial: serial ?? "", notBefore: notBefore) else { return }
        security.raise("revoked-credential", [("identity", id.description), ("serial", serial ?? ""), ("route", route)])
        throw MeshError(.identityRevoked, "\(id): this certificate is revoked")
    }

    /// Only the latest certificate of an identity renews. An older serial renewing means its key was copied:
    /// refused, raised as a security event and audited. Identities never recorded (issued before this rule)
    /// renew once and are recorded from then on. `latest`: the entry the issuance will compare-and-set against.
    func refuseIfNotLatest(_ id: SPIFFEID, serial: String, latest: IdentityRecords.Latest?, now: Double) throws {
        guard let latest, latest.serial != serial else { return }
        security.raise("clone-suspected", [("identity", id.description), ("serial", serial), ("latest", latest.serial)])
        try? audit.record(time: now, actor: id.description, action: "security.clone-suspected", [
            ("identity", .string(id.description)), ("serial", .string(serial)), ("latestSerial", .string(latest.serial)),
        ])
        throw MeshError(.issueCloneSuspected, "\(id): serial \(serial) is not the latest certificate of this identity; "
                        + "its key is in more than one place. Use a new join token")
    }

    /// `chain[0]` is now the latest certificate of `identity`: a compare-and-set of that identity's entry alone
    /// against `previous`, the entry the issuance checked (another issuance of it, here or at another replica,
    /// may have won meanwhile: `identities.conflict`, nothing changed). Called sharing `issuing`; `audit` runs
    /// after the durable write and undoes it when it fails. `overwrite` (a join-token issuance: any earlier
    /// certificate is superseded whoever issued it) retries a conflict on the entry now stored, a few times; a
    /// renewal does not (another renewal of the same identity won: only one copy of a key may renew).
    func recordIssued(_ identity: SPIFFEID, _ leaf: Certificate, previous checked: IdentityRecords.Latest?, overwrite: Bool = false,
                      audit: () throws -> Void) throws {
        let next = IdentityRecords.Latest(serial: leaf.serialHex, notAfter: leaf.notAfter)
        var previous = checked
        var attempts = overwrite ? 3 : 1
        while true {
            do {
                try identityRepository.setLatest(identity, next, previous: previous)
                break
            } catch let e as MeshError where e.errorCode == .identitiesConflict {
                // Catch up with a winner at another replica, unless memory has moved on meanwhile (the winner's own
                // notification may already be in: a stale load must not undo it).
                let stored = (try? identityRepository.load())?.latest[identity]
                identityState.withLock { if $0.latest[identity] == previous { $0.latest[identity] = stored } }
                attempts -= 1
                if attempts == 0 { throw e }
                previous = stored
            }
        }
        do {
            try audit()
        } catch {
            try? identityRepository.setLatest(identity, previous, previous: next)
            latestStored(identity, previous)
            throw error
        }
        latestStored(identity, next)
    }

    /// One identity's latest certificate as committed (by us or another replica).
    func latestStored(_ identity: SPIFFEID, _ latest: IdentityRecords.Latest?) {
        identityState.withLock { $0.latest[identity] = latest }
    }

    /// Deny-list compare-and-set → audit (undone when it fails) → swap → notify. Called holding `issuing`.
    func commitIdentities(_ next: IdentityRecords, over base: IdentityRecords, audit: () throws -> Void) throws {
        identityPending.withLock { $0 = next.revision }
        defer { identityPending.withLock { $0 = nil } }
        do {
            try identityRepository.compareAndSet(expected: base.revision, next)
        } catch let e as MeshError where e.errorCode == .identitiesConflict {
            identityPending.withLock { $0 = nil }  // what is stored is not ours, even at the revision we tried
            if let stored = try? identityRepository.load() { identitiesStored(stored) }
            throw e
        }
        do {
            try audit()
        } catch {
            try? identityRepository.compareAndSet(expected: next.revision, base)
            identitiesStored(base, force: true)
            throw error
        }
        identitiesStored(next, force: true)
    }

    /// Deny-list records committed (by us or another writer): swap in the newer ones (the `latest` entries in
    /// force stay: they change through `latestStored`); a new deny list goes to the sidecars.
    func identitiesStored(_ stored: IdentityRecords, force: Bool = false) {
        if !force && identityPending.withLock({ $0 == stored.revision }) { return }
        let changedList = identityState.withLock { s -> Bool in
            guard force || stored.revision > s.revision else { return false }
            let changed = stored.revocationRevision != s.revocationRevision
            s = s.withDenyList(of: stored)
            return changed
        }
        if changedList { distribution.revocationsChanged(stored.denyList) }
    }
}
