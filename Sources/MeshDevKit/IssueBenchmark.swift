#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import MeshCore
import MeshHTTP
import MeshHTTP1
import MeshNet
import MeshTLS

/// `mesh-dev bench-issue`: how many CSRs a running control plane signs per second. Tokens and CSRs (keys)
/// are made before the clock starts; each request is a full TLS handshake + token redemption (fsync) +
/// signing + audit append (fsync), as a bootstrapping sidecar would do.
enum IssueBenchmark {
    static func run(_ o: [String: String]) -> Int32 {
        guard let server = o["server"], let dataDir = o["data-dir"] else {
            DevCommand.err("mesh-dev bench-issue: --server and --data-dir are required")
            return 64
        }
        let count = Int(o["count"] ?? "200") ?? 200
        let concurrency = max(1, Int(o["concurrency"] ?? "4") ?? 4)
        do {
            let address = try SocketAddress(HostPort(parsing: server))
            let bundle = try Certificate.parseChain(pem: try FileIO.readAll("\(dataDir)/bundle.pem", limit: 1 << 20).get(), maxCount: 64)
            let admin = String(decoding: try FileIO.readAll("\(dataDir)/admin.token", limit: 4096).get(), as: UTF8.self)
                .split(separator: "\n").first.map(String.init) ?? ""
            let td = try TrustDomain("mesh.local")
            let ctx = try TLSContext.client(trusting: bundle, trustDomain: td)
            let cpID = try SPIFFEID.workload("spiffe://\(td.name)/ns/mesh-system/sa/mesh-control")
            let client = HTTPClient(address: address, tls: ctx, expectServer: cpID, timeoutMs: 30_000)
            let clock = SystemClock()
            var tokens: [String] = []
            let t0 = clock.monotonicNs()
            for i in 0..<count {
                let body = JSONValue.object([("service", .string("bench/s\(i)")), ("ttlSeconds", .int(600))]).text
                let r = try client.send(method: "POST", path: "/v1/tokens", headers: HTTPHeaders([("Authorization", "Bearer \(admin)")]),
                                        body: Array(body.utf8))
                guard r.status == 201, let t = (try? StrictJSON.parse(r.body))?["token"]?.stringValue else {
                    throw MeshError(.benchToken, "status \(r.status): \(r.text)")
                }
                tokens.append(t)
            }
            let tokenSeconds = Double(clock.monotonicNs() - t0) / 1e9
            let csrs = try (0..<count).map { _ in String(decoding: try CertificateSigningRequest.create(key: PrivateKey.generateP256()).pem(), as: UTF8.self) }
            let latencies = Mutex<[Double]>([])
            let failures = Atomic<Int>(0)
            let next = Atomic<Int>(0)
            let t1 = clock.monotonicNs()
            let threads = (0..<concurrency).map { _ in
                LoopThread(start: {
                    while true {
                        let i = next.add(1, ordering: .relaxed).oldValue
                        if i >= count { return }
                        let body = JSONValue.object([("csr", .string(csrs[i])), ("token", .string(tokens[i]))]).text
                        let s = clock.monotonicNs()
                        let ok = (try? client.send(method: "POST", path: "/v1/identity", body: Array(body.utf8)))?.status == 200
                        let ms = Double(clock.monotonicNs() - s) / 1e6
                        if ok { latencies.withLock { $0.append(ms) } } else { failures.add(1, ordering: .relaxed) }
                    }
                })
            }
            for t in threads { t.join() }
            let seconds = Double(clock.monotonicNs() - t1) / 1e9
            let sorted = latencies.withLock { $0 }.sorted()
            func pct(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
            DevCommand.out("""
            tokens created: \(count) in \(String(format3: tokenSeconds)) s (\(String(format3: Double(count) / tokenSeconds))/s, sequential)
            certificates issued: \(sorted.count) (failures \(failures.load(ordering: .relaxed))) in \(String(format3: seconds)) s with \(concurrency) clients
            issuance rate: \(String(format3: Double(sorted.count) / seconds)) CSRs signed per second
            latency ms: p50 \(String(format3: pct(0.5))) p99 \(String(format3: pct(0.99))) max \(String(format3: sorted.last ?? 0))
            """)
            return failures.load(ordering: .relaxed) == 0 ? 0 : 70
        } catch {
            DevCommand.err("mesh-dev bench-issue: \(error)")
            return 70
        }
    }
}

extension String {
    init(format3 v: Double) {
        let r = (v * 1000).rounded() / 1000
        self = String(r)
    }
}
