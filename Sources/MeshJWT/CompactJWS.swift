import MeshCore

/// A compact JWS split and decoded, signature not yet checked. The header is strict JSON with only `alg`,
/// `kid` and `typ`: `crit` is refused (we implement no extension), and key-carrying headers (`jwk`, `jku`,
/// `x5u`, `x5c`) are refused rather than ignored, so no reader could be tempted to trust them.
public struct CompactJWS: Sendable {
    public let algorithm: String
    public let kid: String?
    public let type: String?
    /// `header.payload` exactly as received: the bytes the signature covers.
    public let signingInput: ArraySlice<UInt8>
    /// The payload segment, still base64url (decoded only after the signature verifies).
    public let payloadSegment: ArraySlice<UInt8>
    public let signature: [UInt8]

    /// Header and payload JSON: small and shallow.
    static let jsonLimits = StrictJSON.Limits(maxDepth: 8, maxBytes: JWTVerifier.maxTokenBytes)

    /// Errors: `jwt.malformed`, `jwt.unsupported-header`.
    public static func parse(_ token: [UInt8]) throws(MeshError) -> CompactJWS {
        let dots = token.indices.filter { token[$0] == UInt8(ascii: ".") }
        guard dots.count == 2 else { throw MeshError(.jwtMalformed, "a compact JWS has three segments, not \(dots.count + 1)") }
        let headerText = token[..<dots[0]], payload = token[(dots[0] + 1)..<dots[1]], sigText = token[(dots[1] + 1)...]
        // An empty signature (as with `alg: none`) passes here; the algorithm check refuses it by name.
        guard !headerText.isEmpty, !payload.isEmpty else { throw MeshError(.jwtMalformed, "an empty header or payload") }
        guard let headerBytes = Base64URL.decode(headerText) else { throw MeshError(.jwtMalformed, "the header is not base64url") }
        guard let signature = Base64URL.decode(sigText) else { throw MeshError(.jwtMalformed, "the signature is not base64url") }
        let header: JSONValue
        do { header = try StrictJSON.parse(headerBytes, limits: jsonLimits) } catch {
            throw MeshError(.jwtMalformed, "header: \(error.reason)")
        }
        guard case .object(let members) = header else { throw MeshError(.jwtMalformed, "the header is not a JSON object") }
        for (name, _) in members where !["alg", "kid", "typ"].contains(name) {
            throw MeshError(.jwtUnsupportedHeader, name == "crit" ? "crit names extensions we do not implement"
                                                                  : "header field \"\(name)\" is not supported")
        }
        func string(_ name: String) throws(MeshError) -> String? {
            guard let v = header[name] else { return nil }
            guard case .string(let s) = v else { throw MeshError(.jwtMalformed, "header \"\(name)\" must be a string") }
            return s
        }
        guard let alg = try string("alg") else { throw MeshError(.jwtMalformed, "the header has no alg") }
        return CompactJWS(algorithm: alg, kid: try string("kid"), type: try string("typ"),
                          signingInput: token[..<dots[1]], payloadSegment: payload, signature: signature)
    }
}
