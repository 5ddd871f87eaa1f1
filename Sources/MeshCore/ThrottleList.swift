/// The control plane's throttles: identity → a tighter rate of new connections than policy gives it, until an
/// optional expiry. Travels with the deny list (`RevocationList.throttled`), so it shares its revision and
/// reaches every sidecar on the same long poll; each receiving sidecar applies the tighter of this and the
/// matching rule's `rateLimit` (also to callers no `rateLimit` rule matches).
public struct ThrottleList: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var limit: RateLimit
        /// Seconds since the epoch; nil: until released.
        public var until: Double?
        public init(limit: RateLimit, until: Double?) {
            self.limit = limit
            self.until = until
        }
    }

    public var identities: [SPIFFEID: Entry]

    public init(identities: [SPIFFEID: Entry] = [:]) { self.identities = identities }

    public static let empty = ThrottleList()
    public var isEmpty: Bool { identities.isEmpty }

    /// The throttle on `identity` in force at `now` (an expired one no longer applies, even before the control
    /// plane's tick drops it).
    @inline(__always)
    public func limit(for identity: SPIFFEID, now: Double) -> RateLimit? {
        guard let e = identities[identity] else { return nil }
        if let until = e.until, !(now < until) { return nil }
        return e.limit
    }

    /// `[{"identity": …, "perSecond": N, "burst": M, "until": seconds?}]`, sorted by identity.
    public func json() -> JSONValue {
        let ids = identities.keys.sorted { $0.description < $1.description }
        return .array(ids.map { id in
            let e = identities[id]!
            return .object([("identity", .string(id.description)), ("perSecond", .number(Self.text(e.limit.connectionsPerSecond))),
                            ("burst", .number(Self.text(e.limit.burst))), ("until", e.until.map { .int(Int($0)) } ?? .null)])
        })
    }

    /// Strict: exact fields, workload identities, valid limits.
    public init(json: JSONNode) throws(MeshError) {
        identities = [:]
        for item in try json.elements() {
            let e = try item.object(fields: ["identity", "perSecond", "burst", "until"])
            let node = try e.required("identity")
            let text = try node.string()
            let id: SPIFFEID
            do { id = try SPIFFEID.workload(text) } catch let e as MeshError { throw node.error(e.errorCode, e.reason) } catch {
                throw node.error(.throttleBadRequest, "\(error)")
            }
            let limit = RateLimit(connectionsPerSecond: try e.required("perSecond").double(in: 0...RateLimit.maxPerSecond),
                                  burst: try e.required("burst").double(in: 0...RateLimit.maxBurst))
            if let problem = limit.problem { throw item.error(.throttleBadRequest, problem) }
            let until = try e.optional("until").map { n throws(MeshError) in Double(try n.int(in: 0...Int.max)) }
            guard identities.updateValue(Entry(limit: limit, until: until), forKey: id) == nil else {
                throw node.error(.throttleBadRequest, "\(id) is listed twice")
            }
        }
    }

    /// Integers without a fraction, others as Swift prints them (round-trips through `Double(_:)`).
    public static func text(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
    }
}
