#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet

/// `meshctl` as a function from arguments to an exit code.
/// Exit codes: 0 ok, 1 the control plane refused (its error code is printed), 64 bad usage, 66 unreadable file,
/// 69 the control plane could not be reached.
public enum MeshctlCommand {
    public static let usage = """
    Usage: meshctl [--server HOST:PORT[,HOST:PORT…]] [--ca BUNDLE.pem] [--token-file FILE] [--data-dir DIR] [-o json] COMMAND

    Commands:
      token create --service NS/NAME [--ttl 1h]   a single-use join token for that workload identity
      ca status                                   roots, their phase and expiry, which one issues
      ca rotate                                   start a CA rotation (new root distributed, then issuing)
      audit [--verify|--no-verify]                the control plane's audit log, every page; the whole chain is
                                                  checked first (--verify, the default) unless --no-verify
      validate -f DIR                             check a mesh configuration offline (exit 64 when invalid)
      apply -f DIR [--dry-run]                    show the diff against the applied mesh and apply it (If-Match)
      get services|segments|rules                 what the applied mesh holds
      check --from NS/NAME --to NS/NAME --port N  allowed or denied, by which rule, and why no other rule matched
                                                  (exit 0 allowed, 1 denied)
        [--method M --path P [--header 'n: v'] [--jwt FILE | --claims JSON [--issuer ISS]]] [-f DIR]
                                                  both layers for one request: the connection at the handshake,
                                                  then the request (path normalised first; --jwt verified with the
                                                  mesh's issuers, now); -f DIR checks a local mesh offline
      status                                      the control plane (replicas, store health, each etcd member),
                                                  then each sidecar: the mesh version it applied, in sync or stale
      identity revoke --identity ID | --serial HEX [--reason TEXT]
                                                  refuse that identity's certificates (or one certificate) everywhere
      identity list-revoked                       what is revoked, when, by whom and why
      quarantine add ID --reason TEXT [--for 1h]  deny that identity everywhere, both directions, above every allow;
                                                  its live connections close within a second
      quarantine list                             who is quarantined, why, since and until when, by whom
      quarantine release ID                       lift a quarantine
      throttle add ID --per-second N [--for 1h]   at most N new connections per second from that identity at
                                                  every receiving sidecar (the tighter of this and its rules' rateLimit)
      throttle list                               who is throttled, how tightly, since and until when, by whom
      throttle release ID                         lift the throttle
      endpoints [--service NS/NAME]               where each service's sidecars listen (registered, live), last seen
      metrics                                     the control plane's metrics (Prometheus text)
      graph [--since 15m] [--service NS/NAME] [-o table|json|dot]
                                                  every edge seen over the window: caller → destination:port,
                                                  verdict, rule, reason, connections, bytes, latency, first/last seen
      top [--since 1m] [--interval 2s] [--count N] [--service NS/NAME]
                                                  the graph table, refreshed (until Ctrl-C unless --count)
      suggest [--since 1h] [-o FILE] [--mesh-dir DIR]
                                                  a rules.json allowing exactly the observed allowed and audit-allowed
                                                  flows (exact services and ports); DIR defaults to mesh-config/mesh
                                                  when present, else the applied mesh
      alerts [--all] [--watch [--interval 2s] [--count N]] [-o json]
                                                  pending and firing alerts (with --all the resolved ones kept):
                                                  state, severity, rule, subject, since, evidence, action taken

    Connection: --server (or --control-plane; MESHCTL_SERVER; default 127.0.0.1:8443): one HOST:PORT or a
    comma-separated list of replicas, tried in order while one cannot be reached; trust: --ca (or MESHCTL_CA);
    operator credential: --token-file (or MESHCTL_TOKEN_FILE). --data-dir DIR (or MESHCTL_DATA_DIR) uses DIR/bundle.pem
    and DIR/admin.token of a control plane on this machine.
    Exit codes: 0 ok, 1 refused by the control plane, 64 bad usage, 66 cannot read a file, 69 unreachable.
    """

    public static func main(_ args: [String]) -> Int32 {
        let o: Options
        do { o = try Options(args) } catch { err("meshctl: \(error)\n\n\(usage)"); return 64 }
        if o.value("help") != nil || o.positional.isEmpty || o.positional == ["help"] {
            out(usage)
            return o.positional.isEmpty && o.value("help") == nil ? 64 : 0
        }
        let words = o.positional
        if words.first == "validate" { return PolicyCommands.validate(o) }
        if words.first == "check", o.value("f") != nil { return CheckRequestCommand.offline(o) }
        let client: ControlClient
        do {
            client = try ControlClient.make(o)
        } catch let e as MeshError {
            err("meshctl: \(e.reason)")
            return e.kind == .unreadable ? 66 : 64
        } catch {
            err("meshctl: \(error)")
            return 64
        }
        do {
            switch (words.first, words.dropFirst().first) {
            case ("token", "create"?): return try TokenCommands.create(client, o)
            case ("ca", "status"?): return try CACommands.status(client, o)
            case ("ca", "rotate"?): return try CACommands.rotate(client, o)
            case ("audit", _): return try AuditCommand.run(client, o)
            case ("apply", _): return try PolicyCommands.apply(client, o)
            case ("get", let what?): return try PolicyCommands.get(client, o, what: what)
            case ("check", _): return try PolicyCommands.check(client, o)
            case ("status", _): return try StatusCommand.run(client, o)
            case ("identity", "revoke"?): return try IdentityCommands.revoke(client, o)
            case ("identity", "list-revoked"?): return try IdentityCommands.listRevoked(client, o)
            case ("quarantine", _): return try QuarantineCommands.run(client, o)
            case ("throttle", _): return try ThrottleCommands.run(client, o)
            case ("endpoints", _): return try EndpointCommands.run(client, o)
            case ("metrics", _): return try IdentityCommands.metrics(client, o)
            case ("graph", _): return try TelemetryCommands.graph(client, o)
            case ("top", _): return try TelemetryCommands.top(client, o)
            case ("suggest", _): return try SuggestCommand.run(client, o)
            case ("alerts", _): return try AlertCommands.run(client, o)
            default:
                err("meshctl: unknown command '\(words.joined(separator: " "))'\n\n\(usage)")
                return 64
            }
        } catch let e as UsageError {
            err("meshctl: \(e.description)")
            return 64
        } catch let e as MeshError {
            err("meshctl: \(e.code): \(e.reason)")
            return [.httpConnect, .httpTimeout, .httpTls].contains(e.errorCode) ? 69 : 1
        } catch {
            err("meshctl: \(error)")
            return 1
        }
    }

    static func out(_ s: String) { Syscall.writeAll(fd: 1, s + "\n") }
    static func err(_ s: String) { Syscall.writeAll(fd: 2, s + "\n") }
}
