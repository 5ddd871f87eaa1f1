import MeshAPI
import MeshCore

/// The API's calls, one per route, with their wire types.
extension ControlPlaneClient {
    /// `GET /v1/bundle` (public).
    public func bundle() throws -> BundleAnswer { try call("GET", "/v1/bundle") }

    /// `POST /v1/identity`: a join token (bootstrap) or our mTLS certificate (renewal) and a CSR. A join token is
    /// single use: it never goes over the channel (whose stale-connection retry could send it twice).
    public func issue(_ request: IdentityRequest) throws -> IdentityAnswer {
        try (request.token == nil ? self : oneShot).call("POST", "/v1/identity", request)
    }

    /// `GET /v1/slice?version=N&epoch=E&revoked=R&wait=S`: our signed slice (with the deny list) at once when (E, N)
    /// is not what the control plane has in force or its deny list is newer than R, else `.unchanged` after the
    /// long poll of `wait` seconds (1…30, default 30) (304). The caller checks the signature.
    public func pollSlice(after version: Int, epoch: String? = nil, revoked: Int? = nil, wait: Int? = nil,
                          endpoints: Int? = nil) throws -> SlicePoll {
        let path = SliceAnswer.path(after: version, epoch: epoch, revoked: revoked, wait: wait, endpoints: endpoints)
        let r = try send("GET", path)
        if r.status == 304 { return .unchanged }
        guard r.status == 200 else { throw Self.refusal(r) }
        return .slice(try Self.decode(SignedSlice.self, r, path: path, limits: SignedSlice.limits))
    }

    /// `POST /v1/tokens` (operator).
    public func createToken(_ request: TokenRequest) throws -> TokenAnswer { try call("POST", "/v1/tokens", request) }

    /// `GET /v1/ca` (operator).
    public func caStatus() throws -> CAStatus { try call("GET", "/v1/ca") }

    /// `POST /v1/ca/rotate` (operator): the status after the rotation started.
    public func rotateCA() throws -> CAStatus { try call("POST", "/v1/ca/rotate") }

    /// `GET /v1/sidecars` (operator).
    public func sidecars() throws -> SidecarStatusList { try call("GET", "/v1/sidecars") }
}

/// Telemetry: the sidecar's reports and the operator's views of them.
extension ControlPlaneClient {
    /// `POST /v1/telemetry` (sidecar, mTLS).
    public func report(_ report: TelemetryReport) throws -> TelemetryAck { try call("POST", "/v1/telemetry", report) }

    /// `GET /v1/graph?since=S[&service=ns/name]` (operator); `since` in seconds before now.
    public func graph(sinceSeconds: Int, service: String? = nil) throws -> GraphAnswer {
        var path = "/v1/graph?since=\(sinceSeconds)"
        if let service { path += "&service=\(service)" }
        return try call("GET", path, limits: GraphAnswer.limits)
    }

    /// `GET /v1/telemetry/sidecars` (operator).
    public func telemetrySidecars() throws -> TelemetrySidecarList { try call("GET", "/v1/telemetry/sidecars") }
}
