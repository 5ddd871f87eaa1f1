import MeshCore

/// One inbound listener of a sidecar: the service port it serves and the address it listens on.
public struct EndpointAddress: WireMessage, Hashable {
    public var port: Int
    public var address: HostPort

    public init(port: Int, address: HostPort) {
        self.port = port
        self.address = address
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["port", "address"])
        port = try r.int("port", in: 1...65_535)
        let node = try r.node("address")
        let text = try r.string("address")
        do { address = try HostPort(parsing: text) } catch { throw node.error(.endpointBadRequest, error.reason) }
    }

    public var json: JSONValue { .object([("port", .int(port)), ("address", .string(address.description))]) }
}

/// `POST /v1/endpoints` (sidecar, mTLS): every endpoint the caller serves now (what it registered before and
/// does not list is removed). `DELETE /v1/endpoints`: the endpoints to remove (a clean shutdown). The service
/// is the caller's certificate's, never the body's.
public struct EndpointRegistration: WireMessage {
    /// At most this many endpoints per registration (a sidecar has one per inbound listener).
    public static let maxEndpoints = 64
    public var endpoints: [EndpointAddress]

    public init(endpoints: [EndpointAddress]) { self.endpoints = endpoints }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["endpoints"])
        let nodes = try Wire.read { () throws(MeshError) in try r.required("endpoints").elements() }
        guard nodes.count <= Self.maxEndpoints else {
            throw MeshError(.endpointBadRequest, "endpoints: at most \(Self.maxEndpoints) per registration")
        }
        endpoints = []
        for n in nodes { endpoints.append(try EndpointAddress(json: n.value)) }
    }

    public var json: JSONValue { .object([("endpoints", .array(endpoints.map(\.json)))]) }
}

/// The answer to a registration: the service it counted for, the addresses as recorded (a wildcard replaced by
/// the source address), and the endpoint revision after it.
public struct EndpointRegistrationAck: WireMessage {
    public var service: String
    public var revision: Int
    public var endpoints: [EndpointAddress]

    public init(service: String, revision: Int, endpoints: [EndpointAddress]) {
        self.service = service
        self.revision = revision
        self.endpoints = endpoints
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["service", "revision", "endpoints"])
        service = try r.string("service")
        revision = try r.int("revision", in: 0...Int.max)
        endpoints = []
        for n in try Wire.read({ () throws(MeshError) in try r.required("endpoints").elements() }) {
            endpoints.append(try EndpointAddress(json: n.value))
        }
    }

    public var json: JSONValue {
        .object([("service", .string(service)), ("revision", .int(revision)), ("endpoints", .array(endpoints.map(\.json)))])
    }
}

/// `GET /v1/endpoints[?service=ns/name]` (operator): every live endpoint, by service, port, address.
public struct EndpointList: WireMessage {
    public struct Row: Sendable, Equatable {
        public var service: String
        public var port: Int
        public var address: String
        public var identity: String
        /// Unix seconds of the sidecar's last poll, report or registration, and how long ago that was.
        public var lastSeen: Int
        public var secondsAgo: Int

        public init(service: String, port: Int, address: String, identity: String, lastSeen: Int, secondsAgo: Int) {
            self.service = service
            self.port = port
            self.address = address
            self.identity = identity
            self.lastSeen = lastSeen
            self.secondsAgo = secondsAgo
        }
    }

    public var revision: Int
    public var endpoints: [Row]

    public init(revision: Int, endpoints: [Row]) {
        self.revision = revision
        self.endpoints = endpoints
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["revision", "endpoints"])
        revision = try r.int("revision")
        endpoints = []
        for n in try Wire.read({ () throws(MeshError) in try r.required("endpoints").elements() }) {
            let e = try Wire.object(n.value, ["service", "port", "address", "identity", "lastSeen", "secondsAgo"])
            endpoints.append(Row(service: try e.string("service"), port: try e.int("port"), address: try e.string("address"),
                                 identity: try e.string("identity"), lastSeen: try e.int("lastSeen"),
                                 secondsAgo: try e.int("secondsAgo")))
        }
    }

    public var json: JSONValue {
        .object([("revision", .int(revision)), ("endpoints", .array(endpoints.map { e in
            .object([("service", .string(e.service)), ("port", .int(e.port)), ("address", .string(e.address)),
                     ("identity", .string(e.identity)), ("lastSeen", .int(e.lastSeen)), ("secondsAgo", .int(e.secondsAgo))])
        }))])
    }
}
