import MeshCore
import MeshHTTP1
import MeshPolicy

/// A verified claim the app receives as `x-mesh-claim-<name>: <value>`.
struct ClaimHeader: Equatable {
    let name: String
    let value: String
}

/// The verdict on one request head, in this order: the target is normalised (a refused path is a 400 with its
/// `http.path-*` code, and nothing else is asked); the token is read and verified per the slice's issuers; the
/// authorizer decides on the normalised path. Allowed requests go to the app with exactly that path.
enum RequestGate {
    enum Outcome: Equatable {
        /// `target` is the normalised path and the raw query; `subject` the verified token's `sub`; `dropping`
        /// the fields that carried tokens kept from the app (lowercase names, `droppedFields`); `claims` the
        /// verified claims its issuer hands to the app.
        case forward(target: String, subject: String?, route: String?, rule: String, dropping: [String] = [],
                     claims: [ClaimHeader] = [])
        case refuse(RequestRefusal, route: String?, rule: String)

        var route: String? {
            switch self {
            case .forward(_, _, let r, _, _, _), .refuse(_, let r, _): r
            }
        }

        var rule: String {
            switch self {
            case .forward(_, _, _, let r, _, _), .refuse(_, _, let r): r
            }
        }
    }

    /// The fields kept from the app: each that holds a token in the format (header and prefix) of an issuer that
    /// does not forward tokens (`forwardToken`, default false), verified or not (a token for another audience is
    /// still a credential there), except that the field a verified token came in follows its own issuer's word.
    /// Empty: no token in any issuer's format (a `Basic …` value passes), or only forwarded ones.
    static func droppedFields(_ token: TokenEvidence, _ headers: HTTPHeaders, issuers: [SliceIssuer]) -> [String] {
        if case .absent = token { return [] }
        var verified: SliceIssuer?
        if case .valid(let issuer, _, _) = token { verified = issuers.first { $0.issuer == issuer } }
        var out: [String] = []
        for i in issuers where !out.contains(i.header) {
            if let v = verified, i.header == v.header {
                if !v.forwardToken { out.append(i.header) }
            } else if !i.forwardToken && TokenReader.read(headers, header: i.header, prefix: i.prefix) != nil {
                out.append(i.header)
            }
        }
        return out
    }

    /// The claims a verified token's issuer hands to the app (`claimHeaders`), in that order: a string claim as
    /// it is, any other as its JSON text; one that is absent, longer than 1 KiB or not visible ASCII is left out.
    static func claimHeaders(_ token: TokenEvidence, issuers: [SliceIssuer]) -> [ClaimHeader] {
        guard case .valid(let issuer, _, let claims) = token,
              let i = issuers.first(where: { $0.issuer == issuer }), !i.claimHeaders.isEmpty else { return [] }
        return i.claimHeaders.compactMap { name in
            guard let v = claims[name] else { return nil }
            let text: String
            if case .string(let s) = v { text = s } else { text = v.text }
            guard text.utf8.count <= 1024, HeaderSanitizer.isSafeValue(text) else { return nil }
            return ClaimHeader(name: name, value: text)
        }
    }

    /// The rule named for requests refused before policy was asked (bad path).
    static let pathRule = "request-target"

    /// Decided on `state` (the snapshot current now: its authorizer and its slice's issuers).
    static func decide(_ head: HTTPRequestHead, listener: String, peer: SPIFFEID, state: SidecarState,
                       tokens: TokenReader, now: Double) -> Outcome {
        decide(head, listener: listener, peer: peer, authorizer: state.authorizer, issuers: state.slice?.issuers ?? [],
               owner: state, tokens: tokens, now: now)
    }

    /// The same, with the parts of a state spelled out (`owner` keys the built issuers).
    static func decide(_ head: HTTPRequestHead, listener: String, peer: SPIFFEID, authorizer: any Authorizer,
                       issuers: [SliceIssuer], owner: AnyObject, tokens: TokenReader, now: Double) -> Outcome {
        let target: NormalizedTarget
        do { target = try PathNormalizer.normalize(head.target) } catch {
            return .refuse(RequestRefusal(error), route: nil, rule: pathRule)
        }
        let token = tokens.evidence(head.headers, issuers: issuers, owner: owner, now: now)
        // The fields only when a rule can look at them (static allow lists and slices without header conditions
        // never do): an array and a lower-cased name per field saved on every request.
        let fields = authorizer.readsRequestHeaders
            ? head.headers.map { RequestFacts.Header(name: $0.name.lowercased(), value: $0.value) } : []
        let summary = RequestSummary(method: head.method, path: target.path, headers: fields, token: token)
        let d = authorizer.request(listener: listener, peer: peer, request: summary, now: now)
        let rule = d.decision.enforced.rule
        switch d.refusal {
        case nil:
            var subject: String?
            if case .valid(_, let sub, _) = token { subject = sub }
            return .forward(target: target.target, subject: subject, route: d.route, rule: rule,
                            dropping: droppedFields(token, head.headers, issuers: issuers), claims: claimHeaders(token, issuers: issuers))
        case .forbidden:
            return .refuse(RequestRefusal(status: 403, code: ErrorCode.requestForbidden.id,
                                          reason: "\(head.method) \(target.path) is not allowed for \(peer) (rule \(rule))",
                                          challenge: nil), route: d.route, rule: rule)
        case .unauthenticated(let issuers):
            let realm = issuers.first ?? "mesh"
            switch token {
            case .invalid(let code, let reason):
                return .refuse(RequestRefusal(status: 401, code: code, reason: reason,
                                              challenge: RequestRefusal.challenge(realm: realm, invalidToken: true)),
                               route: d.route, rule: rule)
            default:
                return .refuse(RequestRefusal(status: 401, code: ErrorCode.requestTokenMissing.id,
                                              reason: "\(head.method) \(target.path) needs a valid token from \(issuers.joined(separator: ", "))",
                                              challenge: RequestRefusal.challenge(realm: realm, invalidToken: false)),
                               route: d.route, rule: rule)
            }
        }
    }
}
