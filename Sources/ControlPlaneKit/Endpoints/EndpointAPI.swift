import MeshAPI
import MeshCore
import MeshHTTP
import MeshNet

/// The endpoint half of the API (issue 14).
///
/// | method, path | who | what |
/// | --- | --- | --- |
/// | `POST /v1/endpoints` | sidecar (mTLS, valid, not revoked) | replace the endpoints this sidecar serves (`EndpointRegistration`); the service is its certificate's |
/// | `DELETE /v1/endpoints` | sidecar | remove the listed endpoints of its service (clean shutdown) |
/// | `GET /v1/endpoints?service=ns/name` | operator | live endpoints by service, port, address, with last seen |
enum EndpointAPI {
    static func routes(_ r: APIRoutes) -> [APIRoutes.Route] {
        let cp = r.cp
        return [
            r.onLoop("POST", "/v1/endpoints") { req in try register(cp, req) },
            r.onLoop("DELETE", "/v1/endpoints") { req in try deregister(cp, req) },
            r.adminOnLoop("GET", "/v1/endpoints") { req in try list(cp, req) },
        ]
    }

    /// The caller's service and its endpoints as they will be recorded (addresses checked against the source).
    static func caller(_ cp: ControlPlane, _ req: HTTPRequest, route: String) throws -> (ServiceKey, SPIFFEID, [EndpointAddress]) {
        let id = try ControlAPI.requireWorkload(cp, req, route: route)
        guard let service = PolicyAPI.serviceKey(id) else {
            throw MeshError(.authSidecarRequired, "present your workload certificate (mTLS)")
        }
        let body = try EndpointRegistration(bytes: req.body)
        var seen = Set<EndpointAddress>()
        let resolved = try body.endpoints.map { e throws(MeshError) in
            EndpointAddress(port: e.port, address: try EndpointAddressCheck.resolve(e.address, peer: req.peer))
        }.filter { seen.insert($0).inserted }
        return (service, id, resolved)
    }

    static func register(_ cp: ControlPlane, _ req: HTTPRequest) throws -> HTTPResponse {
        let (service, id, endpoints) = try caller(cp, req, route: "endpoints")
        let registry = cp.distribution.endpoints
        if try registry.register(service: service, identity: id.description, serial: req.peerSerial ?? "",
                                 endpoints: endpoints.map { ($0.port, $0.address) }, now: cp.now()) {
            cp.distribution.endpointsChanged([service])
        }
        return .json(EndpointRegistrationAck(service: service.description, revision: registry.revision, endpoints: endpoints).json)
    }

    static func deregister(_ cp: ControlPlane, _ req: HTTPRequest) throws -> HTTPResponse {
        let (service, _, endpoints) = try caller(cp, req, route: "endpoints")
        let registry = cp.distribution.endpoints
        if registry.deregister(service: service, serial: req.peerSerial ?? "", endpoints: endpoints.map { ($0.port, $0.address) }) {
            cp.distribution.endpointsChanged([service])
        }
        return .json(EndpointRegistrationAck(service: service.description, revision: registry.revision, endpoints: []).json)
    }

    static func list(_ cp: ControlPlane, _ req: HTTPRequest) throws -> HTTPResponse {
        let only = try req.head.query["service"].map { text throws(MeshError) in try ServiceKey(parsing: text) }
        let now = cp.now()
        let registry = cp.distribution.endpoints
        let rows = registry.list().filter { only == nil || $0.service == only }.map {
            EndpointList.Row(service: $0.service.description, port: $0.port, address: $0.address.description,
                             identity: $0.identity, lastSeen: Int($0.lastSeen), secondsAgo: Int(now - $0.lastSeen))
        }
        return .json(EndpointList(revision: registry.revision, endpoints: rows).json)
    }
}
