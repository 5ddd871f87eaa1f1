import MeshCore

/// Per-request decisions on `http` ports (issue 13). SEAM: the bodies here are placeholders until the L7
/// model lands; the signatures are the contract the sidecar codes against.
extension ServiceSlice {
    /// What inbound `port` speaks (`tcp` unless the mesh declares it `http`).
    public func inboundProtocol(port: Int) -> PortProtocol { portProtocols[port] ?? .tcp }

    /// Decides one request: the connection's facts (peer, port, time) plus method, normalised path, headers
    /// and the token evidence. A rule with an `http` match applies only to requests it matches; a rule with a
    /// `jwt` requirement only when the token is valid, from one of its issuers, with the required claims.
    public func decideRequest(_ facts: RequestFacts) -> RequestDecision {
        let d = decision(on: facts)
        return RequestDecision(decision: d, refusal: d.enforced.isAllowed ? nil : .forbidden)
    }
}
