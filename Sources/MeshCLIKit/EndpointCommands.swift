import MeshAPI
import MeshCore

/// `meshctl endpoints [--service NS/NAME]`: where each service's sidecars listen, as registered with the
/// control plane, and when each was last heard from.
enum EndpointCommands {
    static func run(_ c: ControlClient, _ o: Options) throws -> Int32 {
        var path = "/v1/endpoints"
        if let s = o.value("service") {
            do { _ = try ServiceKey(parsing: s) } catch { throw UsageError("--service \(s.debugDescription) is not NS/NAME: \(error)") }
            path += "?service=\(s)"
        }
        let r = try c.call("GET", path)
        if o.json { MeshctlCommand.out(r.text); return 0 }
        let list = try EndpointList(json: r)
        let rows = list.endpoints.map { e -> [String] in
            [e.service, String(e.port), e.address, Table.time(e.lastSeen), "\(e.secondsAgo)s ago"]
        }
        MeshctlCommand.out(Table.render(["SERVICE", "PORT", "ENDPOINT", "LAST SEEN", "AGO"], rows))
        return 0
    }
}
