import MeshAPI
import MeshCore

/// `meshctl status`: the control plane (the replica that answered, the store's health with each etcd member,
/// every replica the store knows), then each sidecar's applied version. `-o json`: one object, the sidecar
/// list's members (`version`, `sidecars`, as before) after `controlPlane` (the `GET /v1/status` answer).
enum StatusCommand {
    static func run(_ c: ControlClient, _ o: Options) throws -> Int32 {
        let status = try c.api.status()
        let sidecars = try c.api.sidecars()
        if o.json {
            guard case .object(let members) = sidecars.json else { return 70 }
            MeshctlCommand.out(JSONValue.object([("controlPlane", status.json)] + members).text)
            return 0
        }
        MeshctlCommand.out(render(status))
        MeshctlCommand.out("")
        MeshctlCommand.out("mesh version \(sidecars.version)")
        let rows = sidecars.sidecars.map { [$0.identity, String($0.appliedVersion), $0.state.rawValue, "\($0.secondsAgo) s ago"] }
        MeshctlCommand.out(Table.render(["SIDECAR", "VERSION", "STATE", "LAST SEEN"], rows))
        return 0
    }

    /// The control-plane part of the human output.
    static func render(_ s: StatusAnswer) -> String {
        let r = s.replica
        var lines = ["replica \(r.id) at \(r.address)\(r.leader ? " (leader)" : ""): mesh version \(r.meshVersion), "
                     + "epoch \(r.epoch), up \(r.uptimeSeconds) s"]
        lines.append("store \(s.store.kind): \(s.store.healthy ? "healthy" : "UNHEALTHY")"
                     + (s.store.error.map { " (\($0))" } ?? ""))
        if !s.store.members.isEmpty {
            lines.append(Table.render(["MEMBER", "HEALTH", "LEADER", "ERROR"], s.store.members.map {
                [$0.endpoint, $0.healthy ? "healthy" : "unhealthy", $0.leader ? "yes" : "", $0.error ?? ""]
            }))
        }
        lines.append(Table.render(["REPLICA", "ADDRESS", "VERSION", "STARTED", "LEADER"], s.replicas.map {
            [$0.id, $0.address, $0.version, String($0.started), $0.leader ? "yes" : ""]
        }))
        return lines.joined(separator: "\n")
    }
}
