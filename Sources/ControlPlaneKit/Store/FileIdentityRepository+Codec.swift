import MeshCore

/// The JSON of `identities.json` (the snapshot) and of the deny-list lines of `identities.journal`.
extension FileIdentityRepository {
    static func encode(_ r: IdentityRecords) -> [UInt8] {
        let ids = r.latest.keys.sorted { $0.description < $1.description }
        let doc = JSONValue.object([
            ("revision", .int(r.revision)), ("revocationRevision", .int(r.revocationRevision)),
            ("latest", .array(ids.map { id in
                .object([("identity", .string(id.description)), ("serial", .string(r.latest[id]!.serial)),
                         ("notAfter", .int(Int(r.latest[id]!.notAfter)))])
            })),
            ("revocations", .array(r.revocations.map { v in
                .object([("identity", .optional(v.identity?.description)), ("serial", .optional(v.serial)),
                         ("revokedAt", .int(Int(v.revokedAt))), ("reason", .string(v.reason)), ("actor", .string(v.actor)),
                         ("until", .int(Int(v.until)))])
            })),
            ("quarantines", .array(r.quarantines.map { q in
                .object([("identity", .string(q.identity.description)), ("reason", .string(q.reason)), ("since", .int(Int(q.since))),
                         ("until", q.until.map { .int(Int($0)) } ?? .null), ("actor", .string(q.actor)), ("automatic", .bool(q.automatic))])
            })),
            ("throttles", .array(r.throttles.keys.sorted { $0.description < $1.description }.map { id in
                let t = r.throttles[id]!
                return .object([("identity", .string(id.description)),
                                ("perSecond", .number(ThrottleList.text(t.limit.connectionsPerSecond))),
                                ("burst", .number(ThrottleList.text(t.limit.burst))), ("since", .int(Int(t.since))),
                                ("until", t.until.map { .int(Int($0)) } ?? .null), ("actor", .string(t.actor))])
            })),
        ])
        return Array((doc.text + "\n").utf8)
    }

    static func decode(_ bytes: [UInt8], path: String) throws -> IdentityRecords {
        let doc = try StrictJSON.parse(bytes, limits: StrictJSON.Limits(maxBytes: 64 << 20))
        func corrupt(_ why: String) -> MeshError { MeshError(.identitiesCorrupt, "\(path): \(why)") }
        guard let revision = doc["revision"]?.intValue, let rr = doc["revocationRevision"]?.intValue,
              let latest = doc["latest"]?.arrayValue, let revs = doc["revocations"]?.arrayValue else {
            throw corrupt("lacks revision, revocationRevision, latest or revocations")
        }
        var out = IdentityRecords(revision: revision, revocationRevision: rr)
        for l in latest {
            guard let id = l["identity"]?.stringValue.flatMap({ try? SPIFFEID.workload($0) }), let serial = l["serial"]?.stringValue,
                  let notAfter = l["notAfter"]?.intValue else { throw corrupt("a latest entry lacks fields") }
            out.latest[id] = .init(serial: serial, notAfter: Double(notAfter))
        }
        for v in revs {
            guard let at = v["revokedAt"]?.intValue, let reason = v["reason"]?.stringValue, let actor = v["actor"]?.stringValue,
                  let until = v["until"]?.intValue else { throw corrupt("a revocation lacks fields") }
            let id = try v["identity"]?.stringValue.map { try SPIFFEID.workload($0) }
            let serial = v["serial"]?.stringValue
            guard id != nil || serial != nil else { throw corrupt("a revocation names neither identity nor serial") }
            out.revocations.append(.init(identity: id, serial: serial, revokedAt: Double(at), reason: reason, actor: actor,
                                         until: Double(until)))
        }
        // Absent in files written before quarantine existed.
        for q in doc["quarantines"]?.arrayValue ?? [] {
            guard let id = q["identity"]?.stringValue.flatMap({ try? SPIFFEID.workload($0) }), let reason = q["reason"]?.stringValue,
                  let since = q["since"]?.intValue, let actor = q["actor"]?.stringValue, let automatic = q["automatic"]?.boolValue else {
                throw corrupt("a quarantine lacks fields")
            }
            out.quarantines.append(.init(identity: id, reason: reason, since: Double(since), until: q["until"]?.intValue.map(Double.init),
                                         actor: actor, automatic: automatic))
        }
        // Absent in files written before throttles existed.
        for t in doc["throttles"]?.arrayValue ?? [] {
            guard let id = t["identity"]?.stringValue.flatMap({ try? SPIFFEID.workload($0) }),
                  let rate = Self.double(t["perSecond"]), let burst = Self.double(t["burst"]),
                  let since = t["since"]?.intValue, let actor = t["actor"]?.stringValue else {
                throw corrupt("a throttle lacks fields")
            }
            out.throttles[id] = .init(limit: RateLimit(connectionsPerSecond: rate, burst: burst), since: Double(since),
                                      until: t["until"]?.intValue.map(Double.init), actor: actor)
        }
        return out
    }

    private static func double(_ v: JSONValue?) -> Double? {
        guard case .number(let text)? = v else { return nil }
        return Double(text)
    }
}
