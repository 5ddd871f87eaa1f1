/// MeshDevKit: the development tools behind `mesh-dev` — a throwaway CA that mints X.509-SVIDs for demos and
/// tests, and a tiny HTTP app to stand behind a sidecar. Production identities come from the control plane.
#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet
import MeshTLS

public enum DevCommand {
    public static let usage = """
    Usage: mesh-dev ca --trust-domain TD --out DIR [--days N]
           mesh-dev issue --ca DIR --id SPIFFE-ID --out PREFIX [--ttl SECONDS]
           mesh-dev http-app --listen HOST:PORT --name NAME [--request-wait-ms 5000]
           mesh-dev bench-issue --server HOST:PORT --data-dir DIR [--count 200] [--concurrency 4]
           mesh-dev simulate --sidecars N (--spawn | --server HOST:PORT (--data-dir DIR | --bundle F --token-file F))
                    [--services min(N,100)] [--certs-per-service 25] [--interval 5s] [--edges 5] [--no-report]
                    [--renew-every DURATION] [--storm-at DURATION [--storm-reconnect]] [--wait SECONDS] [--duration 30s] [--propagate-at DURATION/2]
                    [--loops 2] [--max-connecting 128] [--connect-timeout 180s] [--issue-threads 4]
                    [--control-pid PID] [--apply-server HOST:PORT] [--trust-domain mesh.local] [--json]
           mesh-dev --help

    ca        Create a self-signed root (DIR/ca.crt, DIR/ca.key, key mode 0600) for a demo or a test.
    issue     Mint an X.509-SVID for SPIFFE-ID signed by the CA in DIR: PREFIX.crt and PREFIX.key (0600).
    http-app  A tiny HTTP/1.1 app that answers every request with "hello from NAME" (demo backend); a connection
              without a whole request is closed after --request-wait-ms.
    bench-issue  Measure a running control plane: join tokens per second, CSRs signed per second.
    simulate  N simulated sidecars in this process (real mTLS, certificates issued through the API): long polls,
              telemetry reports, renewals; prints propagation percentiles, errors, control-plane CPU and RSS.

    Exit codes: 0 ok, 64 bad usage, 66 cannot read a file, 70 failure.
    """

    public static func main(_ args: [String]) -> Int32 {
        guard let verb = args.first else { err(usage); return 64 }
        if verb == "simulate" { return SimulateCommand.run(Array(args.dropFirst())) }
        let opts: [String: String]
        switch parseOptions(Array(args.dropFirst())) {
        case .failure(let e): err("mesh-dev: \(e.reason)\n\n\(usage)"); return 64
        case .success(let o): opts = o
        }
        switch verb {
        case "--help", "-h", "help": out(usage); return 0
        case "ca": return ca(opts)
        case "issue": return issue(opts)
        case "http-app": return HTTPApp.run(opts)
        case "bench-issue": return IssueBenchmark.run(opts)
        default: err("mesh-dev: unknown command '\(verb)'\n\n\(usage)"); return 64
        }
    }

    static func parseOptions(_ args: [String]) -> Result<[String: String], MeshError> {
        var out: [String: String] = [:]
        var i = 0
        while i < args.count {
            let a = args[i]
            guard a.hasPrefix("--"), i + 1 < args.count else {
                return .failure(MeshError(.usage, "expected --option VALUE at '\(a)'"))
            }
            out[String(a.dropFirst(2))] = args[i + 1]
            i += 2
        }
        return .success(out)
    }

    static func now() -> Double { SystemClock().wallSeconds() }

    static func ca(_ o: [String: String]) -> Int32 {
        guard let td = o["trust-domain"], let dir = o["out"] else { err("mesh-dev ca: --trust-domain and --out are required"); return 64 }
        let days = Double(o["days"] ?? "365") ?? 365
        do {
            let domain = try TrustDomain(td)
            let ca = try CertificateAuthority.selfSignedRoot(trustDomain: domain, now: now(), lifetime: days * 86_400)
            mkdir(dir, 0o755)
            try DurableFile.write("\(dir)/ca.crt", ca.certificate.pem(), mode: 0o644)
            try DurableFile.write("\(dir)/ca.key", ca.key.pem(), mode: 0o600)
            out("created \(dir)/ca.crt (sha256 \(ca.certificate.sha256Fingerprint)) and \(dir)/ca.key")
            return 0
        } catch {
            err("mesh-dev ca: \(error)")
            return (error as? MeshError)?.kind == .invalid ? 64 : 70
        }
    }

    static func issue(_ o: [String: String]) -> Int32 {
        guard let dir = o["ca"], let idText = o["id"], let prefix = o["out"] else {
            err("mesh-dev issue: --ca, --id and --out are required")
            return 64
        }
        let ttl = Double(o["ttl"] ?? "86400") ?? 86_400
        let id: SPIFFEID
        do { id = try SPIFFEID.workload(idText) } catch { err("mesh-dev issue: --id: \(error)"); return 64 }
        do {
            let certPEM = try FileIO.readAll("\(dir)/ca.crt", limit: 1 << 20).get()
            let keyPEM = try FileIO.readAll("\(dir)/ca.key", limit: 1 << 20).get()
            let ca = CertificateAuthority(certificate: try Certificate.parseChain(pem: certPEM)[0], key: try PrivateKey(pem: keyPEM))
            let key = try PrivateKey.generateP256()
            let cert = try ca.issue(.svid(id, now: now(), lifetime: ttl), for: key)
            try DurableFile.write("\(prefix).crt", cert.pem(), mode: 0o644)
            try DurableFile.write("\(prefix).key", key.pem(), mode: 0o600)
            out("issued \(id) serial \(cert.serialHex) → \(prefix).crt, \(prefix).key")
            return 0
        } catch {
            err("mesh-dev issue: \(error)")
            return 66
        }
    }

    static func out(_ s: String) { Syscall.writeAll(fd: 1, s + "\n") }
    static func err(_ s: String) { Syscall.writeAll(fd: 2, s + "\n") }
}
