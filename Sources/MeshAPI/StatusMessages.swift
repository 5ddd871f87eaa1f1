import MeshCore

/// `GET /v1/status` (operator): the replica that answered, the store under it, and every replica the store
/// knows (a file store: just the one). What `meshctl status` prints above its sidecar table.
public struct StatusAnswer: WireMessage {
    public var replica: ReplicaSelf
    public var store: StoreStatus
    public var replicas: [ReplicaEntry]

    public init(replica: ReplicaSelf, store: StoreStatus, replicas: [ReplicaEntry]) {
        self.replica = replica
        self.store = store
        self.replicas = replicas
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["replica", "store", "replicas"])
        replica = try ReplicaSelf(json: r.node("replica").value)
        store = try StoreStatus(json: r.node("store").value)
        replicas = try Wire.read { () throws(MeshError) in try r.required("replicas").elements() }.map {
            n throws(MeshError) in try ReplicaEntry(json: n.value)
        }
    }

    public var json: JSONValue {
        .object([("replica", replica.json), ("store", store.json), ("replicas", .array(replicas.map(\.json)))])
    }
}

/// The replica that answered: its id, its API address, the mesh version and policy-store epoch it serves,
/// whether it runs the timed work (leader), and how long it has served.
public struct ReplicaSelf: WireMessage {
    public var id: String
    public var address: String
    public var meshVersion: Int
    public var epoch: String
    public var leader: Bool
    public var uptimeSeconds: Int

    public init(id: String, address: String, meshVersion: Int, epoch: String, leader: Bool, uptimeSeconds: Int) {
        self.id = id
        self.address = address
        self.meshVersion = meshVersion
        self.epoch = epoch
        self.leader = leader
        self.uptimeSeconds = uptimeSeconds
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["id", "address", "meshVersion", "epoch", "leader", "uptimeSeconds"])
        id = try r.string("id")
        address = try r.string("address")
        meshVersion = try r.int("meshVersion")
        epoch = try r.string("epoch")
        leader = try r.bool("leader")
        uptimeSeconds = try r.int("uptimeSeconds", in: 0...Int.max)
    }

    public var json: JSONValue {
        .object([("id", .string(id)), ("address", .string(address)), ("meshVersion", .int(meshVersion)),
                 ("epoch", .string(epoch)), ("leader", .bool(leader)), ("uptimeSeconds", .int(uptimeSeconds))])
    }
}

/// The store as the answering replica sees it: `file` or `etcd`, healthy (writes can commit), why not, and
/// for etcd each member's health.
public struct StoreStatus: WireMessage {
    public var kind: String
    public var healthy: Bool
    public var error: String?
    public var members: [StoreMember]

    public init(kind: String, healthy: Bool, error: String?, members: [StoreMember]) {
        self.kind = kind
        self.healthy = healthy
        self.error = error
        self.members = members
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["kind", "healthy", "error", "members"])
        kind = try r.string("kind")
        healthy = try r.bool("healthy")
        error = try Wire.nullable(r, "error").map { n throws(MeshError) in try Wire.read { () throws(MeshError) in try n.string() } }
        members = try Wire.read { () throws(MeshError) in try r.required("members").elements() }.map {
            n throws(MeshError) in try StoreMember(json: n.value)
        }
    }

    public var json: JSONValue {
        .object([("kind", .string(kind)), ("healthy", .bool(healthy)), ("error", error.map { .string($0) } ?? .null),
                 ("members", .array(members.map(\.json)))])
    }
}

/// One etcd member (by the endpoint the replica dials): healthy or the error, and whether it leads the raft.
public struct StoreMember: WireMessage {
    public var endpoint: String
    public var healthy: Bool
    public var leader: Bool
    public var error: String?

    public init(endpoint: String, healthy: Bool, leader: Bool, error: String?) {
        self.endpoint = endpoint
        self.healthy = healthy
        self.leader = leader
        self.error = error
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["endpoint", "healthy", "leader", "error"])
        endpoint = try r.string("endpoint")
        healthy = try r.bool("healthy")
        leader = try r.bool("leader")
        error = try Wire.nullable(r, "error").map { n throws(MeshError) in try Wire.read { () throws(MeshError) in try n.string() } }
    }

    public var json: JSONValue {
        .object([("endpoint", .string(endpoint)), ("healthy", .bool(healthy)), ("leader", .bool(leader)),
                 ("error", error.map { .string($0) } ?? .null)])
    }
}

/// A replica registered in the store: id, API address, the software version it runs, when it started
/// (seconds since the epoch), and whether it leads.
public struct ReplicaEntry: WireMessage {
    public var id: String
    public var address: String
    public var version: String
    public var started: Int
    public var leader: Bool

    public init(id: String, address: String, version: String, started: Int, leader: Bool) {
        self.id = id
        self.address = address
        self.version = version
        self.started = started
        self.leader = leader
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["id", "address", "version", "started", "leader"])
        id = try r.string("id")
        address = try r.string("address")
        version = try r.string("version")
        started = try r.int("started", in: 0...Int.max)
        leader = try r.bool("leader")
    }

    public var json: JSONValue {
        .object([("id", .string(id)), ("address", .string(address)), ("version", .string(version)),
                 ("started", .int(started)), ("leader", .bool(leader))])
    }
}
