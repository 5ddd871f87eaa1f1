import MeshCore

/// What a decision is made on (HABITS.md 4: policy takes facts and time, returns a verdict, never reads a
/// clock). Facts are plain values: building one per decision allocates nothing, and the evaluation functions
/// are generic over `PolicyFacts`, so each kind of facts gets its own specialised code.
///
/// L4 today: `ConnectionFacts`. L7 later: `RequestFacts` wraps the connection's facts and adds the request;
/// rules with request conditions will read `request`, and callers keep calling the same functions.
public protocol PolicyFacts: Sendable {
    /// Who connects, to which service and port, and when.
    var connection: ConnectionFacts { get }
    /// The HTTP request, when deciding one (nil for a connection).
    var request: RequestFacts? { get }
}

/// The facts of one connection: the verified caller, the service it reaches, the port, and the time.
public struct ConnectionFacts: PolicyFacts, Equatable {
    /// The caller's verified identity (inbound: the peer; egress: this service's own identity).
    public var peer: SPIFFEID
    /// The service called.
    public var destination: ServiceKey
    /// The service port called.
    public var port: Int
    /// Seconds since the epoch; a rule stops applying when `now >= expires`. NaN and ±infinity count as the far
    /// future (every expiring rule has expired).
    public var now: Double

    public init(peer: SPIFFEID, destination: ServiceKey, port: Int, now: Double) {
        self.peer = peer
        self.destination = destination
        self.port = port
        self.now = now
    }

    @inline(__always)
    public var connection: ConnectionFacts { self }
    @inline(__always)
    public var request: RequestFacts? { nil }
}

/// The facts of one HTTP request on a connection (for L7 rules: methods, paths, headers, the end-user token),
/// decided by `ServiceSlice.decideRequest`.
public struct RequestFacts: PolicyFacts, Equatable {
    public var connection: ConnectionFacts
    /// `GET`, `POST`, … as sent.
    public var method: String
    /// The request target's path, normalised (`PathNormalizer`), without the query: the path the app receives.
    public var path: String
    /// Header fields in the order received; names lowercase.
    public var headers: [Header]
    /// The end-user token, as verified by the sidecar.
    public var token: TokenEvidence

    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(connection: ConnectionFacts, method: String, path: String, headers: [Header] = [],
                token: TokenEvidence = .absent) {
        self.connection = connection
        self.method = method
        self.path = path
        self.headers = headers
        self.token = token
    }

    public var request: RequestFacts? { self }
}
