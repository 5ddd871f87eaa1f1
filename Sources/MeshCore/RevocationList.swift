/// The deny list a control plane hands every sidecar with its slice: identities revoked at a time, and single
/// certificates by serial. Pure and small, so the same value decides at the control plane (renewal, slice poll)
/// and at each sidecar (every handshake, resumed ones too, and live connections when a new list arrives).
///
/// An identity revoked at `t` refuses its certificates issued up to `t` (`notBefore ≤ t`): a certificate issued
/// later, from a new join token, is the operator's re-admission of that workload (the CA makes such
/// certificates start after `t`). A serial is refused whatever its identity.
public struct RevocationList: Sendable, Equatable {
    /// Only increases; a sidecar polls with the revision it holds, so a change reaches it at once.
    public var revision: Int
    /// Identity → when it was revoked (seconds since the epoch).
    public var identities: [SPIFFEID: Double]
    /// Revoked certificate serials, upper-case hex as `Certificate.serialHex` prints them.
    public var serials: Set<String>
    /// Quarantined identities: denied above every allow, in both directions, whatever their certificate. An
    /// entry with an expiry leaves this set when the control plane drops it (the revision changes then).
    public var quarantined: Set<SPIFFEID>
    /// Throttled identities (risk-adaptive limits): not a denial, a tighter connection rate at every receiving
    /// sidecar. Carried here so a change shares the deny list's revision and long-poll wake-up.
    public var throttled: ThrottleList

    public init(revision: Int = 0, identities: [SPIFFEID: Double] = [:], serials: Set<String> = [],
                quarantined: Set<SPIFFEID> = [], throttled: ThrottleList = .empty) {
        self.revision = revision
        self.identities = identities
        self.serials = serials
        self.quarantined = quarantined
        self.throttled = throttled
    }

    public static let empty = RevocationList()

    public var isEmpty: Bool { identities.isEmpty && serials.isEmpty && quarantined.isEmpty }

    /// True when `identity` is quarantined.
    public func quarantines(_ identity: SPIFFEID) -> Bool { quarantined.contains(identity) }

    /// True when a certificate of `identity` with `serial`, valid from `notBefore`, is revoked.
    public func revokes(_ identity: SPIFFEID, serial: String, notBefore: Double) -> Bool {
        if serials.contains(serial) { return true }
        if let at = identities[identity], notBefore <= at { return true }
        return false
    }

    /// `{"revision": N, "identities": [{"identity": …, "revokedAt": seconds}], "serials": [HEX, …]}`, sorted, plus
    /// `"quarantined": [identity, …]` when any (absent means none, so older readers see the same document), and
    /// `"throttled": [...]` (`ThrottleList.json`) when some identity is throttled.
    public func json() -> JSONValue {
        let ids = identities.keys.sorted { $0.description < $1.description }
        var members: [(String, JSONValue)] = [
            ("revision", .int(revision)),
            ("identities", .array(ids.map { .object([("identity", .string($0.description)), ("revokedAt", .int(Int(identities[$0]!)))]) })),
            ("serials", .array(serials.sorted().map { .string($0) })),
        ]
        if !quarantined.isEmpty {
            members.append(("quarantined", .array(quarantined.map(\.description).sorted().map { .string($0) })))
        }
        if !throttled.isEmpty { members.append(("throttled", throttled.json())) }
        return .object(members)
    }

    /// Strict: exact fields, workload identities, serials of hex digits (at most 40, the longest RFC 5280 allows).
    public init(json: JSONNode) throws(MeshError) {
        let r = try json.object(fields: ["revision", "identities", "serials", "quarantined", "throttled"])
        revision = try r.required("revision").int(in: 0...Int.max)
        identities = [:]
        for item in try r.required("identities").elements() {
            let e = try item.object(fields: ["identity", "revokedAt"])
            let node = try e.required("identity")
            let text = try node.string()
            let id: SPIFFEID
            do { id = try SPIFFEID.workload(text) } catch let e as MeshError { throw node.error(e.errorCode, e.reason) } catch {
                throw node.error(.revokeBadRequest, "\(error)")
            }
            identities[id] = Double(try e.required("revokedAt").int(in: 0...Int.max))
        }
        serials = []
        for item in try r.required("serials").elements() {
            let s = try item.string()
            guard Self.isSerial(s) else { throw item.error(.revokeBadRequest, "\(s.debugDescription) is not a serial (1-40 hex digits)") }
            serials.insert(s)
        }
        quarantined = []
        for item in try r.optional("quarantined")?.elements() ?? [] {
            let text = try item.string()
            do { quarantined.insert(try SPIFFEID.workload(text)) } catch let e as MeshError { throw item.error(e.errorCode, e.reason) } catch {
                throw item.error(.revokeBadRequest, "\(error)")
            }
        }
        throttled = try r.optional("throttled").map { n throws(MeshError) in try ThrottleList(json: n) } ?? .empty
    }

    /// 1-40 upper-case hex digits.
    public static func isSerial(_ s: String) -> Bool {
        (1...40).contains(s.utf8.count) && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x46).contains($0) }
    }
}
