/// MeshCLIKit is `meshctl`: the platform engineer's command line over the control-plane API.
#if canImport(Glibc)
import Glibc
#endif
import MeshControlClient
import MeshCore
import MeshNet
import MeshTLS

/// How meshctl reaches and trusts the control plane, and proves it is an operator.
/// Sources, first match wins: flags (`--server` / `--control-plane HOST:PORT[,HOST:PORT…]`), then `MESHCTL_SERVER` / `MESHCTL_CA` / `MESHCTL_TOKEN_FILE`, then
/// `--data-dir DIR` (DIR/bundle.pem and DIR/admin.token, for a control plane on this machine).
struct ControlClient {
    /// The one control-plane client (wire types, error bodies → `MeshError`), with the admin token.
    let api: ControlPlaneClient
    /// The trust domain of the control plane (for showing `ns/name` instead of this domain's SPIFFE IDs).
    let trustDomain: TrustDomain

    static func make(_ o: Options) throws -> ControlClient {
        let env = { (k: String) in getenv(k).map { String(cString: $0) } }
        // One address or a comma-separated list of replicas, tried in order (`--control-plane` is the same flag).
        let server = o.value("control-plane") ?? o.value("server") ?? env("MESHCTL_SERVER") ?? "127.0.0.1:8443"
        let dataDir = o.value("data-dir") ?? env("MESHCTL_DATA_DIR")
        guard let caFile = o.value("ca") ?? env("MESHCTL_CA") ?? dataDir.map({ "\($0)/bundle.pem" }) else {
            throw MeshError(.usage, "say how to trust the control plane: --ca BUNDLE.pem (or MESHCTL_CA, or --data-dir)")
        }
        let tokenFile = o.value("token-file") ?? env("MESHCTL_TOKEN_FILE") ?? dataDir.map { "\($0)/admin.token" }
        let bundle = try Certificate.parseChain(pem: try read(caFile), maxCount: 64, maxBytes: 1 << 20)
        let td: TrustDomain
        if let t = o.value("trust-domain") {
            td = try TrustDomain(t)
        } else if let uri = bundle.first?.uriSANs.first, let id = try? SPIFFEID(parsing: uri) {
            td = id.trustDomain
        } else {
            throw MeshError(.usage, "cannot tell the trust domain from \(caFile); pass --trust-domain")
        }
        let expect = try SPIFFEID.service(trustDomain: td, namespace: "mesh-system", name: "mesh-control")
        let ctx = try TLSContext.client(trusting: bundle, trustDomain: td)
        let token = try tokenFile.map { String(decoding: try read($0), as: UTF8.self).trimming(" \n") }
        let addresses = try server.split(separator: ",").map { try SocketAddress(HostPort(parsing: String($0).trimming(" "))) }
        guard !addresses.isEmpty else { throw MeshError(.usage, "--control-plane needs at least one HOST:PORT") }
        return ControlClient(api: ControlPlaneClient(addresses: addresses, tls: ctx,
                                                     expectServer: expect, timeoutMs: 15_000, bearerToken: token),
                             trustDomain: td)
    }

    /// An answer whose schema belongs to the policy model (mesh, check, audit), as JSON; a refusal throws the
    /// server's code and reason.
    func call(_ method: String, _ path: String, body: JSONValue? = nil, headers: [(String, String)] = []) throws -> JSONValue {
        try api.json(method, path, body: body, headers: headers)
    }

    static func read(_ path: String) throws -> [UInt8] {
        switch FileIO.readAll(path, limit: 1 << 20) {
        case .success(let b): return b
        case .failure(let e): throw e
        }
    }
}


