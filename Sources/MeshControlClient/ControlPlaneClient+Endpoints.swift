import MeshAPI
import MeshCore

/// Endpoint registration (issue 14): sidecars say where they listen; operators list what is live.
extension ControlPlaneClient {
    /// `POST /v1/endpoints` (sidecar, mTLS): the endpoints we serve now (replacing what we registered before).
    public func registerEndpoints(_ endpoints: [EndpointAddress]) throws -> EndpointRegistrationAck {
        try call("POST", "/v1/endpoints", EndpointRegistration(endpoints: endpoints))
    }

    /// `DELETE /v1/endpoints` (sidecar, mTLS): we stop serving these (clean shutdown).
    public func deregisterEndpoints(_ endpoints: [EndpointAddress]) throws -> EndpointRegistrationAck {
        try call("DELETE", "/v1/endpoints", EndpointRegistration(endpoints: endpoints))
    }

    /// `GET /v1/endpoints[?service=ns/name]` (operator).
    public func endpoints(service: String? = nil) throws -> EndpointList {
        try call("GET", service.map { "/v1/endpoints?service=\($0)" } ?? "/v1/endpoints")
    }
}
