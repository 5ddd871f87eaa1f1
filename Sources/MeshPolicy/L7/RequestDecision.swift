import MeshCore

/// What the receiving sidecar learned about the request's end-user token before policy is asked (verification
/// needs OpenSSL and lives in `MeshJWT`; policy only reads the outcome, so it stays pure).
public enum TokenEvidence: Sendable, Equatable {
    /// No token where the slice's issuers read one.
    case absent
    /// A token was there and failed verification; `code` is its `jwt.*` code, `reason` the human text.
    case invalid(code: String, reason: String)
    /// Verified against `issuer` (signature, `exp`/`nbf`/`iat`, `iss`, `aud`); `claims` is the whole payload.
    case valid(issuer: String, subject: String?, claims: JSONValue)
}

/// The answer for one HTTP request: the policy decision (rule, reason, shadow verdict), how a refusal is
/// answered, and the route (the deciding rule's path pattern, never the raw path) for per-request telemetry.
public struct RequestDecision: Sendable, Equatable {
    public enum Refusal: Sendable, Equatable {
        /// `403`: no rule allows this request, or a deny rule matched.
        case forbidden
        /// `401` with `WWW-Authenticate: Bearer`: an allow rule would have matched with a valid token, and the
        /// token was missing or invalid. `issuers` are the ones that rule accepts (for the challenge).
        case unauthenticated(issuers: [String])
    }

    public var decision: PolicyDecision
    /// nil when the request is allowed.
    public var refusal: Refusal?
    /// The `http.paths` entry of the rule that decided (e.g. `/v1/payments/*/status`), nil when it has none.
    public var route: String?

    public init(decision: PolicyDecision, refusal: Refusal?, route: String? = nil) {
        self.decision = decision
        self.refusal = refusal
        self.route = route
    }

    /// 0 when allowed, else 401 or 403.
    public var status: Int {
        switch refusal {
        case nil: 0
        case .forbidden: 403
        case .unauthenticated: 401
        }
    }
}

/// A token issuer as a slice carries it to the sidecars (`mesh-config/mesh/issuers.json`, validated by the
/// control plane at apply time, keys included). The sidecar turns it into a `MeshJWT.Issuer`.
public struct SliceIssuer: Sendable, Equatable {
    /// The `iss` a token must carry.
    public let issuer: String
    /// A token must name one of these in `aud`.
    public let audiences: [String]
    /// The JWKS document (`{"keys": [...]}`), public keys only.
    public let jwks: JSONValue
    /// `ES256`, `RS256`, `EdDSA` (a subset).
    public let algorithms: [String]
    /// Tolerated on `exp`/`nbf`/`iat`; 0...300, default 60.
    public let clockSkewSeconds: Int
    /// Where the token is read: a header name (lowercase, default `authorization`) …
    public let header: String
    /// … and the text before the token in it (default `Bearer `; empty: the whole value).
    public let prefix: String
    /// Whether the app still receives the field the token came in once this issuer verified it. Default false:
    /// the app gets the verified subject (`x-mesh-token-subject`), not a bearer credential it could replay to
    /// other services or write to its logs (least privilege; Istio's `forwardOriginalToken` default too).
    public let forwardToken: Bool
    /// Claims of a verified token the app receives as `x-mesh-claim-<name>` (lower-case token names; incoming
    /// `x-mesh-*` fields are stripped, so a caller cannot forge them).
    public let claimHeaders: [String]

    public init(issuer: String, audiences: [String], jwks: JSONValue, algorithms: [String], clockSkewSeconds: Int = 60,
                header: String = "authorization", prefix: String = "Bearer ", forwardToken: Bool = false,
                claimHeaders: [String] = []) {
        self.issuer = issuer
        self.audiences = audiences
        self.jwks = jwks
        self.algorithms = algorithms
        self.clockSkewSeconds = clockSkewSeconds
        self.header = header
        self.prefix = prefix
        self.forwardToken = forwardToken
        self.claimHeaders = claimHeaders
    }
}

extension SliceIssuer {
    /// `{"issuer", "audiences", "jwks", "algorithms", "clockSkewSeconds", "header", "prefix", "forwardToken",
    /// "claimHeaders"}` (a slice without the last two reads as false and none).
    public var json: JSONValue {
        .object([("issuer", .string(issuer)), ("audiences", .array(audiences.map { .string($0) })), ("jwks", jwks),
                 ("algorithms", .array(algorithms.map { .string($0) })), ("clockSkewSeconds", .int(clockSkewSeconds)),
                 ("header", .string(header)), ("prefix", .string(prefix)), ("forwardToken", .bool(forwardToken)),
                 ("claimHeaders", .array(claimHeaders.map { .string($0) }))])
    }

    /// Reads the slice form (shape only: the keys were validated by the control plane; the sidecar's
    /// `MeshJWT.Issuer` refuses them again if not).
    init(node: JSONNode) throws(MeshError) {
        let o = try node.object(fields: ["issuer", "audiences", "jwks", "algorithms", "clockSkewSeconds", "header", "prefix",
                                         "forwardToken", "claimHeaders"])
        var audiences: [String] = []
        for a in try o.required("audiences").elements() { audiences.append(try a.string()) }
        var algorithms: [String] = []
        for a in try o.required("algorithms").elements() { algorithms.append(try a.string()) }
        var claimHeaders: [String] = []
        for c in try o.optional("claimHeaders")?.elements() ?? [] {
            let name = try c.string()
            guard IssuerFields.isClaimHeaderName(name) else { throw c.error(.policyBadIssuer, "\(name.debugDescription) is not a claim header name") }
            claimHeaders.append(name)
        }
        self.init(issuer: try o.required("issuer").string(), audiences: audiences, jwks: try o.required("jwks").value,
                  algorithms: algorithms, clockSkewSeconds: try o.required("clockSkewSeconds").int(in: 0...300),
                  header: try o.required("header").string(), prefix: try o.required("prefix").string(),
                  forwardToken: try o.optional("forwardToken")?.bool() ?? false, claimHeaders: claimHeaders)
    }
}
