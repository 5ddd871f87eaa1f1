import MeshCore

/// `GET /v1/sidecars` (operator): the applied mesh version and, per sidecar, the version it last reported.
public struct SidecarStatusList: WireMessage {
    /// In sync when a sidecar applied the current version and was heard from recently.
    public enum State: String, Sendable, Equatable {
        case inSync = "in-sync"
        case stale
    }

    public struct Row: Sendable, Equatable {
        public var identity: String
        public var appliedVersion: Int
        /// Seconds since the epoch.
        public var lastSeen: Int
        public var secondsAgo: Int
        public var state: State

        public init(identity: String, appliedVersion: Int, lastSeen: Int, secondsAgo: Int, state: State) {
            self.identity = identity
            self.appliedVersion = appliedVersion
            self.lastSeen = lastSeen
            self.secondsAgo = secondsAgo
            self.state = state
        }

        init(_ node: JSONNode) throws(MeshError) {
            let r = try Wire.read { () throws(MeshError) in
                try node.object(fields: ["identity", "appliedVersion", "lastSeen", "secondsAgo", "state"])
            }
            identity = try r.string("identity")
            appliedVersion = try r.int("appliedVersion")
            lastSeen = try r.int("lastSeen")
            secondsAgo = try r.int("secondsAgo")
            let stateText = try r.string("state")
            guard let s = State(rawValue: stateText) else {
                throw MeshError(.apiBadValue, "\(node.path.appending("state")): expected in-sync or stale, found \(stateText.debugDescription)")
            }
            state = s
        }

        var json: JSONValue {
            .object([("identity", .string(identity)), ("appliedVersion", .int(appliedVersion)), ("lastSeen", .int(lastSeen)),
                     ("secondsAgo", .int(secondsAgo)), ("state", .string(state.rawValue))])
        }
    }

    public var version: Int
    public var sidecars: [Row]

    public init(version: Int, sidecars: [Row]) {
        self.version = version
        self.sidecars = sidecars
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["version", "sidecars"])
        version = try r.int("version")
        var rows: [Row] = []
        for node in try Wire.read({ () throws(MeshError) in try r.required("sidecars").elements() }) { rows.append(try Row(node)) }
        sidecars = rows
    }

    public var json: JSONValue { .object([("version", .int(version)), ("sidecars", .array(sidecars.map(\.json)))]) }
}
