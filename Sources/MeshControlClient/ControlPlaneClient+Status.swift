import MeshAPI

/// Replication: the operator's view of the replicas and the store.
extension ControlPlaneClient {
    /// `GET /v1/status` (operator).
    public func status() throws -> StatusAnswer { try call("GET", "/v1/status") }
}
