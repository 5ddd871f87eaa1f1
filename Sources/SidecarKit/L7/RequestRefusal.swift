import MeshCore
import MeshHTTP1

/// The answer to a request the app never sees: its status, a JSON body naming the stable code, the reason and
/// the request id (`{"error", "reason", "requestId"}`), and for 401 a Bearer challenge.
struct RequestRefusal: Equatable {
    let status: Int
    let code: String
    let reason: String
    /// `WWW-Authenticate` value (401 only).
    var challenge: String?

    /// RFC 6750 §3: the realm is the first issuer the deciding rule accepts; `error="invalid_token"` only when a
    /// token was sent and failed (a request without one gets the bare challenge).
    static func challenge(realm: String, invalidToken: Bool) -> String {
        let safe = String(decoding: realm.utf8.filter { $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }, as: UTF8.self)
        return invalidToken ? "Bearer realm=\"\(safe)\", error=\"invalid_token\"" : "Bearer realm=\"\(safe)\""
    }

    func body(requestID: String) -> [UInt8] {
        Array(JSONValue.object([("error", .string(code)), ("reason", .string(reason)), ("requestId", .string(requestID))]).text.utf8)
    }

    /// The whole response. `keepAlive: false` adds `Connection: close`; a HEAD request gets the head only.
    func response(requestID: String, keepAlive: Bool, head: Bool = false) -> [UInt8] {
        var headers: HTTPHeaders = ["Content-Type": "application/json", "x-mesh-request-id": requestID]
        if let challenge { headers.add("WWW-Authenticate", challenge) }
        let b = body(requestID: requestID)
        var out = HTTPSerializer.response(status: status, headers: headers, body: head ? [] : b, keepAlive: keepAlive)
        if head, let i = Self.contentLengthZero(out) {  // HEAD: the length of the body a GET would get
            out.replaceSubrange(i, with: Array("Content-Length: \(b.count)".utf8))
        }
        return out
    }

    private static func contentLengthZero(_ bytes: [UInt8]) -> Range<Int>? {
        let needle = Array("Content-Length: 0".utf8)
        guard bytes.count >= needle.count else { return nil }
        for i in 0...(bytes.count - needle.count) where bytes[i] == needle[0] && Array(bytes[i..<(i + needle.count)]) == needle {
            return i..<(i + needle.count)
        }
        return nil
    }

    /// A request the parser or the normaliser refused (400, 413, 431, 501, 505), by its `http.*` code.
    init(_ e: HTTPParseError) {
        self.init(status: e.status, code: e.code, reason: e.reason, challenge: nil)
    }

    init(status: Int, code: String, reason: String, challenge: String?) {
        self.status = status
        self.code = code
        self.reason = reason
        self.challenge = challenge
    }
}
