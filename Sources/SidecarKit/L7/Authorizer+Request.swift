import MeshCore
import MeshPolicy

/// One request as the authorizer sees it: method, normalised path (no query), header fields (names lowercase)
/// and the token evidence. The connection's facts (peer, port, time) are added by the authorizer.
public struct RequestSummary: Sendable, Equatable {
    public var method: String
    public var path: String
    public var headers: [RequestFacts.Header]
    public var token: TokenEvidence

    public init(method: String, path: String, headers: [RequestFacts.Header] = [], token: TokenEvidence = .absent) {
        self.method = method
        self.path = path
        self.headers = headers
        self.token = token
    }
}

extension Authorizer {
    /// Default (static allow lists): a request is allowed exactly when its connection would be now, by the same
    /// rule; a refusal is `403`.
    public func request(listener: String, peer: SPIFFEID, request: RequestSummary, now: Double) -> RequestDecision {
        let d = inbound(listener: listener, peer: peer, now: now)
        return RequestDecision(decision: d, refusal: d.enforced.isAllowed ? nil : .forbidden)
    }
}

extension AllowListAuthorizer {
    /// Static allow lists decide by identity alone.
    public var readsRequestHeaders: Bool { false }
}

extension SliceAuthorizer {
    /// Only a slice with a header condition in some rule.
    public var readsRequestHeaders: Bool { slice?.readsRequestHeaders ?? false }

    /// The slice decides, on the connection's facts plus the request (fails closed without a slice or port).
    /// The slice is reached by optional chaining, never bound (`guard let slice` copies it: a retain and a
    /// release of each of its references, on every request).
    public func request(listener: String, peer: SPIFFEID, request r: RequestSummary, now: Double) -> RequestDecision {
        if let port = servicePorts[listener], let service = slice?.service,
           let decided = slice?.decideRequest(RequestFacts(connection: ConnectionFacts(peer: peer, destination: service, port: port, now: now),
                                                           method: r.method, path: r.path, headers: r.headers, token: r.token)) {
            return decided
        }
        return RequestDecision(decision: PolicyDecision(enforced: .deny(rule: Verdict.defaultDenyRule, reason: .noPolicy)),
                               refusal: .forbidden)
    }
}
