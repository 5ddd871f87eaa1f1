#if canImport(Glibc)
import Glibc
#endif
import MeshAPI
import MeshCore
import MeshNet
import MeshPolicy

/// `meshctl suggest [--since 1h] [-o FILE] [--mesh-dir DIR]`: a `rules.json` allowing exactly the traffic the
/// control plane observed (allowed and audit-shadow-allowed flows), for the mesh in DIR (default
/// `mesh-config/mesh` when it exists, else the mesh applied at the control plane, `GET /v1/mesh`). The
/// document replaces DIR/rules.json; it is checked to load with the rest of the mesh before it is written.
enum SuggestCommand {
    static let defaultMeshDir = "mesh-config/mesh"
    /// The file the suggestion replaces.
    static let rulesFile = "rules.json"

    static func run(_ c: ControlClient, _ o: Options) throws -> Int32 {
        let since = try TelemetryCommands.since(o, default: "1h")
        let (files, origin) = try meshFiles(c, o)
        let answer = try c.api.graph(sinceSeconds: since)
        let (suggestion, text) = try suggest(answer, files: files)
        if let path = o.value("output"), path != "-" {
            try DurableFile.write(path, Array(text.utf8), mode: 0o644)
        } else {
            Syscall.writeAll(fd: 1, text)
        }
        MeshctlCommand.err(summary(suggestion, flows: answer.edges.count, since: o.value("since") ?? "1h", origin: origin))
        return 0
    }

    /// The mesh files (name, content) and where they came from.
    static func meshFiles(_ c: ControlClient, _ o: Options) throws -> ([(name: String, content: String)], String) {
        if let dir = o.value("mesh-dir") { return (try PolicyCommands.readMesh(dir), dir) }
        if let d = opendir(defaultMeshDir) {
            closedir(d)
            return (try PolicyCommands.readMesh(defaultMeshDir), defaultMeshDir)
        }
        let r = try c.call("GET", "/v1/mesh")
        let files = (r["files"]?.arrayValue ?? []).compactMap { f -> (name: String, content: String)? in
            guard let name = f["name"]?.stringValue, let content = f["content"]?.stringValue else { return nil }
            return (name, content)
        }
        guard !files.isEmpty else { throw MeshError(.policyNone, "the control plane has no mesh applied; pass --mesh-dir DIR") }
        return (files, "the applied mesh (version \(r["version"]?.intValue ?? 0))")
    }

    /// The suggestion for the mesh in `files` without its `rules.json`, and its text, checked to load together
    /// with those files (so `meshctl validate` accepts the result).
    static func suggest(_ answer: GraphAnswer, files: [(name: String, content: String)]) throws -> (PolicySuggestion, String) {
        let others = files.filter { $0.name != rulesFile }.map { ($0.name, Array($0.content.utf8)) }
        let mesh = try MeshPolicy.load(files: others)
        let suggestion = mesh.suggestRules(from: answer.edges.map(flow))
        let text = suggestion.rulesDocument
        _ = try MeshPolicy.load(files: others + [(rulesFile, Array(text.utf8))])
        return (suggestion, text)
    }

    static func flow(_ e: GraphEdge) -> ObservedFlow {
        ObservedFlow(observer: e.key.observer.rawValue, caller: e.key.caller, destination: e.key.destination, port: e.key.port,
                     allowed: e.key.allowed, rule: e.key.rule, shadowAllowed: e.key.shadowAllowed, shadowRule: e.key.shadowRule,
                     connections: e.counts.connections, firstSeen: e.firstSeen, lastSeen: e.lastSeen)
    }

    static func summary(_ s: PolicySuggestion, flows: Int, since: String, origin: String) -> String {
        var lines = ["suggested \(s.rules.count) rule(s) from \(flows) observed edge(s) over the last \(since), for \(origin); "
                     + "\(s.refusedFlows) refused edge(s) without an audit allow left out"]
        for k in s.skipped {
            lines.append("skipped \(k.caller) → \(k.destination):\(k.port): \(k.why) (\(k.connections) connections)")
        }
        lines.append("replace \(rulesFile) with it (rules in other files stay), then: meshctl validate -f DIR; meshctl apply -f DIR --dry-run")
        return lines.joined(separator: "\n")
    }
}
