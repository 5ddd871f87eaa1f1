import MeshAPI
import MeshCore

/// Quarantine (operator): the enforced deny of an identity, above every allow.
extension ControlPlaneClient {
    /// `POST /v1/quarantine`: the quarantines in force afterwards.
    public func quarantine(_ request: QuarantineRequest) throws -> QuarantineList { try call("POST", "/v1/quarantine", request) }

    /// `GET /v1/quarantine`.
    public func quarantines() throws -> QuarantineList { try call("GET", "/v1/quarantine") }

    /// `DELETE /v1/quarantine?identity=…`: the quarantines in force afterwards.
    public func release(_ identity: SPIFFEID) throws -> QuarantineList {
        try call("DELETE", "/v1/quarantine?identity=\(QuarantineQuery.escape(identity.description))")
    }
}

/// Percent-encoding of a query value (a SPIFFE ID holds `:` and `/`).
public enum QuarantineQuery {
    public static func escape(_ s: String) -> String {
        let hex = Array("0123456789ABCDEF")
        var out = ""
        for b in s.utf8 {
            let c = Character(Unicode.Scalar(b))
            if c.isASCII && (c.isLetter || c.isNumber || "-._~".contains(c)) { out.append(c) } else {
                out += "%\(hex[Int(b >> 4)])\(hex[Int(b & 15)])"
            }
        }
        return out
    }
}
