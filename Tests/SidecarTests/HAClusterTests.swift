import Foundation
import Glibc
import MeshAPI
import MeshControlClient
import MeshCore
import MeshNet
import MeshTLS
import MeshTestSupport
import Synchronization
import Testing

/// A replicated control plane as users run it: a real three-member etcd cluster on loopback, two
/// `mesh-control serve --store etcd` replica processes, real sidecars and meshctl.
///
/// Enabled when the built `mesh-control` has `--store etcd` (branch etcd-store) and etcd is installed.
@Suite(.serialized, .enabled(if: ControlPlaneReplicas.available)) struct HAClusterTests {
    static let rulesA = HAFailoverTests.webToPayments
    static let rulesB = HAFailoverTests.webToPayments.replacingOccurrences(of: "web-to-payments", with: "web-pays")

    /// A cluster, two replicas, and a managed `payments` sidecar polling the replicas `at`.
    static func rig(sidecarAt: [Int]) throws -> (EtcdCluster, ControlPlaneReplicas, SidecarProcess) {
        let etcd = try EtcdCluster(members: 3)
        let replicas = try ControlPlaneReplicas(endpoints: etcd.endpoints)
        let r = try replicas.apply(rules: HAFailoverTests.noRules, at: 0)
        guard r.status == 0 else { throw TestFailure("apply: \(r.stderr)") }
        let s = try replicas.sidecar("payments", inbound: [["name": "api", "port": 8080, "listen": "127.0.0.1:\(TCP.freePort())",
                                                            "forwardTo": "127.0.0.1:\(TCP.freePort())", "allow": [String]()]],
                                     at: sidecarAt)
        try s.waitReady(timeout: 20)
        return (etcd, replicas, s)
    }

    static func version(_ s: SidecarProcess) -> Int { ControlPlaneLifecycleTests.metric(s, "mesh_policy_version") }

    /// Waits (bounded) until the sidecar runs `version`; returns the seconds it took, nil if it did not.
    static func waitVersion(_ s: SidecarProcess, _ version: Int, timeout: Double) -> Double? {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            if Self.version(s) == version { return Date().timeIntervalSince(start) }
            usleep(20_000)
        }
        return nil
    }

    /// The version an apply acknowledged (`meshctl -o json apply`), nil when refused.
    static func applied(_ r: (status: Int32, stdout: String, stderr: String)) -> Int? {
        guard r.status == 0, let doc = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else { return nil }
        return doc["version"] as? Int
    }

    @Test func anApplyAtOneReplicaIsEnforcedBySidecarsPollingTheOther() throws {
        let (etcd, replicas, s) = try Self.rig(sidecarAt: [1])
        defer { replicas.stop(); etcd.stop() }
        let before = Self.version(s)
        let asked = Date()
        let r = try replicas.apply(rules: Self.rulesA, at: 0)
        #expect(r.status == 0, "\(r.stderr)")
        let acknowledged = Date().timeIntervalSince(asked)
        let took = Self.waitVersion(s, before + 1, timeout: 5).map { _ in Date().timeIntervalSince(asked) }
        #expect(took != nil && took! <= 2, "enforced \(String(describing: took)) s after meshctl apply started")
        print("HA: meshctl apply at r0 acknowledged after \(String(format: "%.3f", acknowledged)) s, enforced by the sidecar "
              + "polling r1 \(took.map { String(format: "%.3f", $0) } ?? "-") s after it started")
        // meshctl status at either replica: both replicas, three healthy members, one leader.
        let st = try replicas.meshctl([1], ["-o", "json", "status"])
        let cp = (try? JSONSerialization.jsonObject(with: Data(st.stdout.utf8)) as? [String: Any])?["controlPlane"] as? [String: Any]
        let listed = (cp?["replicas"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
        #expect(listed == ["r0", "r1"], "\(st.stdout) \(st.stderr)")
        let store = cp?["store"] as? [String: Any]
        #expect(store?["kind"] as? String == "etcd" && store?["healthy"] as? Bool == true)
        #expect((store?["members"] as? [[String: Any]])?.filter { $0["healthy"] as? Bool == true }.count == 3)
        #expect((cp?["replicas"] as? [[String: Any]])?.filter { $0["leader"] as? Bool == true }.count == 1)
    }

    /// `kill -9` of the replica taking a stream of applies: every version it acknowledged is in the store
    /// afterwards (the other replica serves it and its audit record), and the audit chain verifies.
    @Test func killingAReplicaDuringAppliesLosesNoAcknowledgedVersion() throws {
        let (etcd, replicas, _) = try Self.rig(sidecarAt: [1])
        defer { replicas.stop(); etcd.stop() }
        var acknowledged: [Int] = []
        let killer = Thread { usleep(1_500_000); replicas.kill9(0) }
        killer.start()
        let deadline = Date().addingTimeInterval(6)
        var n = 0
        while Date() < deadline && n < 60 {
            n += 1
            let r = try replicas.meshctl([0], ["-o", "json", "apply", "-f", try Self.meshDir(replicas, n.isMultiple(of: 2) ? Self.rulesA : Self.rulesB)])
            if let v = Self.applied(r) { acknowledged.append(v) } else if !replicas.isRunning(0) { break }
        }
        #expect(acknowledged.count >= 2, "applies acknowledged before the kill: \(acknowledged)")
        let audit = try replicas.meshctl([1], ["-o", "json", "audit"])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [String: Any], "\(audit.stderr)")
        #expect(doc["verified"] as? Bool == true)
        let versions = Set((doc["records"] as? [[String: Any]] ?? []).filter { $0["action"] as? String == "policy.apply" }
            .compactMap { $0["newVersion"] as? Int })
        #expect(Set(acknowledged).isSubset(of: versions), "acknowledged \(acknowledged), audited \(versions.sorted())")
        let status = try replicas.meshctl([1], ["-o", "json", "status"])
        let current = (try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["version"] as? Int
        #expect((current ?? -1) >= (acknowledged.max() ?? 0), "\(status.stdout) \(status.stderr)")
    }

    static func meshDir(_ replicas: ControlPlaneReplicas, _ rules: String) throws -> String {
        let mesh = "\(replicas.dir)/mesh-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: mesh, withIntermediateDirectories: true)
        try ManagedMesh.services.writeReplacing(toFile: "\(mesh)/services.json")
        try rules.writeReplacing(toFile: "\(mesh)/rules.json")
        return mesh
    }

    /// One etcd member down: quorum holds, applies and polls continue. Two down: applies are refused with
    /// 503 `store.unavailable`, the sidecar keeps enforcing what it has; quorum back: applies work again.
    @Test func losingEtcdMembers() throws {
        let (etcd, replicas, s) = try Self.rig(sidecarAt: [1])
        defer { replicas.stop(); etcd.stop() }
        etcd.kill(2)
        try etcd.waitHealthy(timeoutSeconds: 10)  // if it led, the others elect a leader (election timeout 500 ms)
        let v0 = Self.version(s)
        // The replica's etcd client may have been talking to the killed member: a write in flight there is
        // refused (never re-sent: it may have committed), the next goes to a live member. At most one refusal.
        var first = try replicas.apply(rules: Self.rulesA, at: 0)
        if first.status != 0 {
            #expect(first.stderr.contains("store.unavailable"), "\(first.stderr)")
            first = try replicas.apply(rules: Self.rulesA, at: 0)
        }
        #expect(first.status == 0, "\(first.stderr)")
        #expect(Self.waitVersion(s, v0 + 1, timeout: 5) != nil)

        etcd.kill(1)
        let refused = try replicas.apply(rules: Self.rulesB, at: 0)
        #expect(refused.status == 1 && refused.stderr.contains("unavailable"), "\(refused.stdout) \(refused.stderr)")
        usleep(500_000)
        #expect(Self.version(s) == v0 + 1, "the sidecar keeps its last good version")
        #expect(s.admin("GET", "/ready").status == 200)
        // meshctl status still answers, and says why the store is unhealthy.
        let started = Date()
        let st = try replicas.meshctl([0], ["-o", "json", "status"])
        let store = ((try? JSONSerialization.jsonObject(with: Data(st.stdout.utf8)) as? [String: Any])?["controlPlane"]
            as? [String: Any])?["store"] as? [String: Any]
        #expect(store?["healthy"] as? Bool == false && (store?["error"] as? String)?.contains("no quorum") == true,
                "\(st.stdout) \(st.stderr)")
        let members = store?["members"] as? [[String: Any]] ?? []
        #expect(members.count == 3 && members.filter { $0["healthy"] as? Bool == true }.count <= 1)
        #expect(Date().timeIntervalSince(started) < 10)

        try etcd.restart(1)
        // An apply refused for want of quorum may still have committed once quorum returned (etcd decides a
        // write in flight later): the next version is the one this apply acknowledges, whatever its number.
        let mesh = try Self.meshDir(replicas, Self.rulesA)
        let deadline = Date().addingTimeInterval(10)
        var last = try replicas.meshctl([0], ["-o", "json", "apply", "-f", mesh])
        while Self.applied(last) == nil && Date() < deadline {
            usleep(200_000)
            last = try replicas.meshctl([0], ["-o", "json", "apply", "-f", mesh])
        }
        let recovered = try #require(Self.applied(last), "applies work again once quorum is back: \(last.stderr)")
        #expect(recovered >= v0 + 2)
        #expect(Self.waitVersion(s, recovered, timeout: 5) != nil, "the sidecar polling the other replica gets it")
    }

    /// One join token presented at both replicas at the same moment: exactly one identity is issued.
    @Test func aJoinTokenUsedAtBothReplicasIsAcceptedOnce() throws {
        let etcd = try EtcdCluster(members: 3)
        let replicas = try ControlPlaneReplicas(endpoints: etcd.endpoints)
        defer { replicas.stop(); etcd.stop() }
        #expect(try replicas.apply(rules: HAFailoverTests.noRules, at: 0).status == 0)
        let bundle = try Certificate.parseChain(pem: Array(try String(contentsOfFile: "\(replicas.initDir)/bundle.pem", encoding: .utf8).utf8),
                                                maxCount: 64, maxBytes: 1 << 20)
        let td = try TrustDomain("mesh.local")
        let cpID = try SPIFFEID.service(trustDomain: td, namespace: "mesh-system", name: "mesh-control")
        for round in 0..<3 {
            let token = try String(contentsOfFile: try replicas.tokenFile("shop/payments", at: round % 2), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let outcomes = Mutex<[String]>([])
            let threads = (0..<2).map { i in
                Thread {
                    do {
                        let key = try PrivateKey.generateP256()
                        let csr = String(decoding: try CertificateSigningRequest.create(key: key).pem(), as: UTF8.self)
                        let client = ControlPlaneClient(addresses: [try SocketAddress(HostPort(parsing: replicas.address(i)))],
                                                        tls: try TLSContext.client(trusting: bundle, trustDomain: td), expectServer: cpID)
                        _ = try client.issue(IdentityRequest(csrPEM: csr, token: token))
                        outcomes.withLock { $0.append("issued") }
                    } catch let e as MeshError {
                        outcomes.withLock { $0.append(e.code) }
                    } catch {
                        outcomes.withLock { $0.append("\(error)") }
                    }
                }
            }
            threads.forEach { $0.start() }
            let deadline = Date().addingTimeInterval(15)
            while outcomes.withLock({ $0.count }) < 2 && Date() < deadline { usleep(10_000) }
            #expect(outcomes.withLock { $0.sorted() } == ["issued", "token.used"], "round \(round)")
        }
    }

    /// The replica a sidecar polls is killed: it continues on the other, and enforces what is applied there.
    @Test func aSidecarFailsOverWhenItsReplicaIsKilled() throws {
        let (etcd, replicas, s) = try Self.rig(sidecarAt: [0, 1])
        defer { replicas.stop(); etcd.stop() }
        #expect(HAFailoverTests.metricLine(s, "mesh_control_channel_address{") == "mesh_control_channel_address{address=\"\(replicas.address(0))\"} 1")
        let v0 = Self.version(s)
        replicas.kill9(0)
        let killed = Date()
        #expect(try replicas.apply(rules: Self.rulesA, at: 1).status == 0)
        let took = Self.waitVersion(s, v0 + 1, timeout: 8)
        #expect(took != nil)
        print("HA: kill -9 of the sidecar's replica → new version enforced via the other after \(String(format: "%.3f", Date().timeIntervalSince(killed))) s")
        #expect(HAFailoverTests.metricLine(s, "mesh_control_channel_address{") == "mesh_control_channel_address{address=\"\(replicas.address(1))\"} 1")
        #expect(ControlPlaneLifecycleTests.metric(s, "mesh_control_channel_failovers_total") == 1)
    }
}
