import MeshCore

/// Reading `issuers` (`mesh-config/mesh/issuers.json`):
/// ```json
/// {"issuers": [{"issuer": "https://id.example.com", "audiences": ["payments"], "algorithms": ["ES256"],
///               "jwks": {"keys": [...]}, "clockSkewSeconds": 60,
///               "from": {"header": "authorization", "prefix": "Bearer "}, "forwardToken": false,
///               "claimHeaders": ["scope"]}]}
/// ```
/// `jwksFile` (a path relative to the mesh folder) instead of `jwks` is read and inlined by `meshctl
/// validate|apply` (`MeshPolicy.inlineJWKSFiles`); a bundle that still holds one is refused. The shape is
/// checked here; the keys themselves by `MeshJWT` at apply time and by `meshctl validate` (codes `jwt.*`).
enum IssuerFields {
    /// Algorithms an issuer may list (the `MeshJWT.JWSAlgorithm` names).
    static let algorithms = ["ES256", "RS256", "EdDSA"]

    static func issuer(_ node: JSONNode, limits: PolicyLimits) throws(MeshError) -> SliceIssuer {
        let o = try node.object(fields: ["issuer", "audiences", "algorithms", "jwks", "jwksFile", "clockSkewSeconds", "from",
                                         "forwardToken", "claimHeaders"])
        let nameNode = try o.required("issuer")
        let name = try nameNode.string()
        guard !name.isEmpty, name.utf8.count <= 1024 else { throw nameNode.error(.policyBadIssuer, "an issuer is 1-1024 bytes") }
        let audiencesNode = try o.required("audiences")
        let audiences = try PolicyFields.list(audiencesNode, limits: limits) { n throws(MeshError) in
            let a = try n.string()
            guard !a.isEmpty else { throw n.error(.policyBadIssuer, "an audience is not empty") }
            return a
        }
        if audiences.isEmpty { throw audiencesNode.error(.policyBadIssuer, "name at least one audience") }
        let algorithmsNode = try o.required("algorithms")
        let algorithms = try PolicyFields.list(algorithmsNode, limits: limits) { n throws(MeshError) in
            let a = try n.string()
            guard Self.algorithms.contains(a) else {
                throw n.error(.policyBadIssuer, "\(a.debugDescription) is not one of \(Self.algorithms.joined(separator: ", ")) (never none or HMAC)")
            }
            return a
        }
        if algorithms.isEmpty { throw algorithmsNode.error(.policyBadIssuer, "allow at least one algorithm") }
        if let file = o.optional("jwksFile") {
            throw file.error(.policyBadIssuer, "jwksFile must be inlined as jwks before the bundle is loaded (meshctl does it)")
        }
        let jwks = try o.required("jwks")
        guard case .object = jwks.value, jwks.value["keys"]?.arrayValue != nil else {
            throw jwks.error(.policyBadIssuer, "jwks is a JWK set: {\"keys\": [...]}")
        }
        let skew = try o.optional("clockSkewSeconds")?.int(in: 0...300) ?? 60
        var header = "authorization"
        var prefix = "Bearer "
        if let from = o.optional("from") {
            let f = try from.object(fields: ["header", "prefix"])
            if let h = f.optional("header") {
                header = try h.string()
                guard !header.isEmpty, header.utf8.allSatisfy({ HTTPMatch.isTokenByte($0) && !($0 >= 0x41 && $0 <= 0x5A) }) else {
                    throw h.error(.policyBadIssuer, "\(header.debugDescription) is not a lower-case header name token")
                }
            }
            if let p = f.optional("prefix") {
                prefix = try p.string()
                guard prefix.utf8.count <= 64, prefix.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
                    throw p.error(.policyBadIssuer, "a prefix is at most 64 printable ASCII bytes")
                }
            }
        }
        let forward = try o.optional("forwardToken")?.bool() ?? false
        let claimHeaders = try PolicyFields.list(o.optional("claimHeaders"), limits: limits) { n throws(MeshError) in
            let c = try n.string()
            guard isClaimHeaderName(c) else {
                throw n.error(.policyBadIssuer, "\(c.debugDescription) is not 1-64 bytes of a-z, 0-9, '-' and '_' (the app gets x-mesh-claim-<name>)")
            }
            return c
        }
        return SliceIssuer(issuer: name, audiences: audiences, jwks: jwks.value, algorithms: algorithms,
                           clockSkewSeconds: skew, header: header, prefix: prefix, forwardToken: forward, claimHeaders: claimHeaders)
    }

    /// The file form of an issuer (defaults written out), for `MeshPolicy.json()`.
    static func json(_ i: SliceIssuer) -> JSONValue {
        .object([("issuer", .string(i.issuer)), ("audiences", .array(i.audiences.map { .string($0) })),
                 ("algorithms", .array(i.algorithms.map { .string($0) })), ("jwks", i.jwks),
                 ("clockSkewSeconds", .int(i.clockSkewSeconds)),
                 ("from", .object([("header", .string(i.header)), ("prefix", .string(i.prefix))])),
                 ("forwardToken", .bool(i.forwardToken)), ("claimHeaders", .array(i.claimHeaders.map { .string($0) }))])
    }

    /// A claim handed to the app as `x-mesh-claim-<name>`: a top-level claim whose name is also a safe,
    /// lower-case header name (1-64 bytes of `a-z 0-9 - _`).
    static func isClaimHeaderName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x5F }
    }
}

extension MeshPolicy {
    /// Replaces every `issuers[].jwksFile` by `jwks` read with `read` (a path relative to the mesh folder;
    /// absolute paths and `..` are refused, so a mesh folder cannot pull in arbitrary files). Files without
    /// `jwksFile` are passed through byte for byte. Codes: the JSON ones, `policy.bad-issuer`, and what `read`
    /// throws.
    public static func inlineJWKSFiles(_ files: [(name: String, content: String)],
                                       read: (String) throws -> [UInt8]) throws -> [(name: String, content: String)] {
        try files.map { file in
            guard file.content.contains("\"jwksFile\"") else { return file }
            let root = try StrictJSON.parse(Array(file.content.utf8))
            guard case .object(var members) = root, let index = members.firstIndex(where: { $0.0 == "issuers" }),
                  case .array(var list) = members[index].1 else { return file }
            var changed = false
            for (i, item) in list.enumerated() {
                guard case .object(var fields) = item, let at = fields.firstIndex(where: { $0.0 == "jwksFile" }),
                      case .string(let path) = fields[at].1 else { continue }
                guard !path.hasPrefix("/"), !path.split(separator: "/").contains(".."), !path.isEmpty else {
                    throw MeshError(.policyBadIssuer, "\(file.name): issuers[\(i)].jwksFile: \(path.debugDescription) must be a relative path inside the mesh folder")
                }
                let jwks: JSONValue
                do {
                    jwks = try StrictJSON.parse(try read(path))
                } catch let e as MeshError {
                    throw MeshError(e.errorCode, "\(file.name): issuers[\(i)].jwksFile \(path): \(e.reason)")
                }
                fields[at] = ("jwks", jwks)
                list[i] = .object(fields)
                changed = true
            }
            guard changed else { return file }
            members[index].1 = .array(list)
            return (file.name, JSONValue.object(members).text)
        }
    }
}
