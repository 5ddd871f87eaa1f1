#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshAPI
import MeshCore
import MeshHTTP
import MeshHTTP1
import MeshNet
import MeshTLS

/// One certificate of a simulated sidecar: its identity, and the client context presenting it. Immutable: a
/// renewal makes a new one, so sidecars on other loops that share the old one are never touched.
final class SimCredential: @unchecked Sendable {
    let id: SPIFFEID
    let key: PrivateKey
    let context: TLSContext

    init(id: SPIFFEID, key: PrivateKey, chainPEM: String, bundle: [Certificate], trustDomain: TrustDomain) throws {
        self.id = id
        self.key = key
        let chain = try Certificate.parseChain(pem: Array(chainPEM.utf8), maxCount: 8)
        let identity = try TLSIdentity(chain: chain, key: key, trustBundle: bundle, trustDomain: trustDomain)
        context = try TLSContext(role: .client, identity: identity, resumption: .stateful)  // sessions: SimSidecar
    }
}

/// The operator's side of a run, over the blocking client: apply the simulated mesh, make join tokens, issue
/// certificates through the API (real keys and CSRs, made in this process).
///
/// Who holds which certificate (so neither `IssueRateLimit` nor clone detection trips): sidecar `i` is replica
/// `i / S` of service `sim/svc-<i % S>`. Each service gets `min(replicas, certsPerService)` certificates
/// (default 25, below the default 30 issuances per identity per minute); replica `r` presents certificate
/// `r % certs`. Only the latest certificate of an identity may renew, so only the replica holding the last one
/// issued renews (and keeps the new one to itself); the others never renew, like a sidecar whose key is shared.
struct SimSetup {
    let client: HTTPClient
    let adminToken: String
    let bundle: [Certificate]
    let trustDomain: TrustDomain

    /// `PUT /v1/mesh` with `services` services and one rule named after `generation` (unique per run, so a
    /// second run against the same control plane still changes the mesh): every generation is a new
    /// policy version, which wakes every parked poll. Returns the version applied.
    /// `beforePut` hears the version the change will have just before it is sent (propagation starts there).
    func applyMesh(services: Int, generation: String, beforePut: (Int) -> Void = { _ in }) throws -> Int {
        let svcs = (0..<services).map { k in
            JSONValue.object([("namespace", .string("sim")), ("name", .string("svc-\(k)")), ("ports", .array([.int(8080)]))])
        }
        let rule = JSONValue.object([
            ("name", .string("sim-gen-\(generation)")), ("action", .string("allow")),
            ("from", .object([("services", .array([.string("sim/svc-0")]))])),
            ("to", .object([("services", .array([.string("sim/svc-\(services > 1 ? 1 : 0)")]))])), ("ports", .array([.int(8080)])),
        ])
        let files: [(String, JSONValue)] = [
            ("services.json", .object([("trustDomain", .string(trustDomain.name)), ("services", .array(svcs))])),
            ("segments.json", .object([("segments", .array([]))])),
            ("rules.json", .object([("rules", .array([rule]))])),
        ]
        let body = JSONValue.object([("files", .array(files.map { .object([("name", .string($0.0)), ("content", .string($0.1.text))]) }))])
        let check = try call("POST", "/v1/mesh/validate", body, expect: 200)
        let base = check["baseVersion"]?.intValue ?? 0
        beforePut(base + 1)
        let r = try call("PUT", "/v1/mesh", body, expect: 200, headers: [("If-Match", "\"\(base)\"")])
        guard let v = r["version"]?.intValue else { throw MeshError(.simSetup, "PUT /v1/mesh answered without a version") }
        return v
    }

    /// Issues every certificate: `plan[k]` certificates for service k, in order within a service (the last one
    /// issued is the one allowed to renew), services spread over `threads` blocking clients.
    func issue(plan: [Int], threads: Int) throws -> [[SimCredential]] {
        let results = Mutex<[Int: [SimCredential]]>([:])
        let failure = Mutex<MeshError?>(nil)
        let next = Atomic<Int>(0)
        let workers = (0..<max(1, threads)).map { _ in
            LoopThread(start: {
                while failure.withLock({ $0 == nil }) {
                    let k = next.add(1, ordering: .relaxed).oldValue
                    if k >= plan.count { return }
                    do {
                        let creds = try (0..<plan[k]).map { _ in try issueOne(service: "sim/svc-\(k)") }
                        results.withLock { $0[k] = creds }
                    } catch {
                        failure.withLock { $0 = $0 ?? (error as? MeshError ?? MeshError(.simSetup, "\(error)")) }
                    }
                }
            })
        }
        workers.forEach { $0.join() }
        if let e = failure.withLock({ $0 }) { throw e }
        let all = results.withLock { $0 }
        return (0..<plan.count).map { all[$0] ?? [] }
    }

    /// A join token, a fresh key and CSR, `POST /v1/identity`: one bootstrapping sidecar.
    func issueOne(service: String) throws -> SimCredential {
        let t = try call("POST", "/v1/tokens", TokenRequest(service: service, ttlSeconds: 3600).json, expect: 201)
        guard let token = t["token"]?.stringValue else { throw MeshError(.simSetup, "POST /v1/tokens answered without a token") }
        let key = try PrivateKey.generateP256()
        let csr = String(decoding: try CertificateSigningRequest.create(key: key).pem(), as: UTF8.self)
        let a = try IdentityAnswer(json: try call("POST", "/v1/identity", IdentityRequest(csrPEM: csr, token: token).json,
                                                  expect: 200, admin: false))
        return try SimCredential(id: a.spiffeID, key: key, chainPEM: a.certificateChainPEM, bundle: bundle, trustDomain: trustDomain)
    }

    func call(_ method: String, _ path: String, _ body: JSONValue, expect: Int, admin: Bool = true,
              headers: [(String, String)] = []) throws -> JSONValue {
        var h = headers
        if admin { h.append(("Authorization", "Bearer \(adminToken)")) }
        h.append(("Content-Type", "application/json"))
        let r = try client.send(method: method, path: path, headers: HTTPHeaders(h), body: Array(body.text.utf8))
        guard r.status == expect else {
            throw MeshError(.simSetup, "\(method) \(path): status \(r.status): \(r.text.prefix(300))")
        }
        return try StrictJSON.parse(r.body)
    }
}
