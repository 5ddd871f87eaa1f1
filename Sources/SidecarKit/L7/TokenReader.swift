import MeshCore
import MeshHTTP1
import MeshJWT
import MeshPolicy

/// Reads and verifies the end-user token of a request per the slice's issuers (header and prefix each), with
/// one loop's cache of verified tokens. The `MeshJWT.Issuer`s are built once per state snapshot (keys parsed
/// once, not per request); a new slice brings new keys without touching live connections.
final class TokenReader {
    private var tokens: VerifiedTokenCache
    /// The owner (the state snapshot) the issuers below were built for (by identity: a swap builds them again).
    private weak var builtFor: AnyObject?
    private var issuers: [(slice: SliceIssuer, issuer: Result<Issuer, MeshError>)] = []

    /// `cacheCapacity`: verified tokens kept per loop (default 1,024).
    init(cacheCapacity: Int = 1024) { tokens = VerifiedTokenCache(capacity: cacheCapacity) }

    /// The evidence for a request with `headers` under the state snapshot `owner` (whose slice lists
    /// `issuers`): `.valid` when some issuer verifies the token it reads; else `.invalid` with the first
    /// failure; `.absent` when no issuer finds a token where it looks.
    func evidence(_ headers: HTTPHeaders, issuers slice: [SliceIssuer], owner: AnyObject, now: Double) -> TokenEvidence {
        let list = issuers(slice, owner: owner)
        guard !list.isEmpty else { return .absent }
        var failure: MeshError?
        for (slice, built) in list {
            guard let token = Self.read(headers, header: slice.header, prefix: slice.prefix) else { continue }
            switch built.flatMap({ tokens.verify(token, issuer: $0, now: now) }) {
            case .success(let t):
                return .valid(issuer: slice.issuer, subject: t.subject, claims: t.claims)
            case .failure(let e):
                if failure == nil { failure = e }
            }
        }
        guard let failure else { return .absent }
        return .invalid(code: failure.code, reason: failure.reason)
    }

    /// The token in the first `header` field after `prefix` (compared ignoring ASCII case, as `Bearer` is);
    /// nil when the field is absent, does not start with the prefix, or holds nothing after it.
    static func read(_ headers: HTTPHeaders, header: String, prefix: String) -> String? {
        guard let value = headers[header] else { return nil }
        let v = Array(value.utf8), p = Array(prefix.utf8)
        guard v.count > p.count else { return nil }
        for i in 0..<p.count where lower(v[i]) != lower(p[i]) { return nil }
        return String(decoding: v[p.count...], as: UTF8.self)
    }

    private static func lower(_ b: UInt8) -> UInt8 { (0x41...0x5A).contains(b) ? b | 0x20 : b }

    private func issuers(_ slice: [SliceIssuer], owner: AnyObject) -> [(slice: SliceIssuer, issuer: Result<Issuer, MeshError>)] {
        if builtFor === owner { return issuers }
        issuers = slice.map { ($0, Self.build($0)) }
        builtFor = owner
        return issuers
    }

    /// A slice issuer as `MeshJWT` wants it (refused again here if the control plane let a bad one through).
    static func build(_ s: SliceIssuer) -> Result<Issuer, MeshError> {
        do throws(MeshError) { return .success(try Issuer.fromSlice(s)) } catch { return .failure(error) }
    }
}
