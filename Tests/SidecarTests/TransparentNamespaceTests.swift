import Foundation
import Glibc
import MeshCore
import Testing
import MeshTestSupport
@testable import SidecarKit

/// Transparent interception end to end, in network namespaces the test creates: namespace A holds the client
/// (an unmodified `bash` talking to `/dev/tcp`, run as uid 65534) and the frontend sidecar with its transparent
/// listener and DNS responder; namespace B holds the payments sidecar and, through a bridge, the payments app on
/// 127.0.0.1:8080. A and B share a veth link. The control plane and the app stay in the test's namespace,
/// reached through `TCPBridge`s on 127.0.0.1 inside A and B. Both namespaces get `init-iptables` rules.
@Suite(.serialized) struct TransparentNamespaceTests {
    static let skip = NetNS.unavailableReason

    /// Everything one scenario needs; `stop` removes it all (namespaces, bridges, processes).
    final class Topology {
        let a: NetNS, b: NetNS
        let cp: ControlPlaneFixture
        let app: TestApp
        var bridges: [TCPBridge] = []
        var frontend: SidecarProcess!
        var payments: SidecarProcess!
        let net = Int.random(in: 16...250)
        var addrA: String { "198.18.\(net).1" }
        var addrB: String { "198.18.\(net).2" }

        /// `paymentsHTTP`: the mesh declares payments' port 8080 `http` (pooled hops, every request decided).
        let paymentsHTTP: Bool

        init(external: [String] = [], paymentsHTTP: Bool = false,
             frontendExtra: @escaping (Topology) -> [String: Any] = { _ in [:] }) throws {
            self.paymentsHTTP = paymentsHTTP
            a = try NetNS("mta")
            b = try NetNS("mtb")
            cp = try ControlPlaneFixture()
            app = try TestApp(.http("payments"))
            cp.apps.append(app)
            do { try setUp(external: external, frontendExtra: frontendExtra) } catch { stop(); throw error }
        }

        private func setUp(external: [String], frontendExtra: (Topology) -> [String: Any]) throws {
            try NetNS.link(a, "\(addrA)/24", b, "\(addrB)/24")
            try a.exec(["/usr/sbin/ip", "route", "add", "default", "via", addrB])
            let meshDir = "\(cp.dir)/mesh"
            try FileManager.default.createDirectory(atPath: meshDir, withIntermediateDirectories: true)
            try """
            {"trustDomain": "mesh.local", "services": [
              {"namespace": "shop", "name": "frontend", "ports": [8080]},
              {"namespace": "shop", "name": "payments", "ports": [\(paymentsHTTP ? #"{"port": 8080, "protocol": "http"}"# : "8080")], "address": "\(addrB):15443"}]}
            """.writeReplacing(toFile: "\(meshDir)/services.json")
            try "{\"rules\": [\(TelemetryEndToEndTests.allowFrontend)]}".writeReplacing(toFile: "\(meshDir)/rules.json")
            let applied = try cp.meshctl(["apply", "-f", meshDir])
            guard applied.status == 0 else { throw TestFailure("apply: \(applied.stderr)") }
            for ns in [a, b] { bridges.append(try TCPBridge.make(from: ns, port: cp.port, to: nil, toPort: cp.port)) }
            bridges.append(try TCPBridge.make(from: b, port: 8080, to: nil, toPort: app.port))

            try b.exec([SidecarProcess.binDir + "/mesh-sidecar", "init-iptables", "--proxy-uid", "0", "--inbound-ports", "8080", "--inbound-port", "15443"])
            try a.exec([SidecarProcess.binDir + "/mesh-sidecar", "init-iptables", "--proxy-uid", "0", "--dns-port", "15053"])
            try a.setResolvConf("nameserver 127.0.0.1\n")

            payments = try sidecar("payments", in: b, extra: ["inbound": [[
                "name": "api", "port": 8080, "listen": "\(addrB):15443", "forwardTo": "127.0.0.1:8080", "allow": [String]()]]])
            frontend = try sidecar("frontend", in: a, extra: [
                "transparent": ["listen": "127.0.0.1:15001", "externalDestinations": external],
                "dns": ["listen": "127.0.0.1:15053", "upstream": "127.0.0.1:5399"]].merging(frontendExtra(self)) { $1 })
            try payments.waitReady(timeout: 20)
            try frontend.waitReady(timeout: 20)
        }

        /// A managed sidecar run inside `ns` (its stats endpoint bridged to the same port here).
        func sidecar(_ name: String, in ns: NetNS, extra: [String: Any]) throws -> SidecarProcess {
            let cfg = try cp.bootstrapConfig(name, managed: true, extra: extra)
            let s = try SidecarProcess(name: name, config: cfg, dir: cp.dir, launcher: ["/usr/sbin/ip", "netns", "exec", ns.name])
            cp.sidecars.append(s)
            bridges.append(try TCPBridge.make(from: nil, port: s.adminPort, to: ns, toPort: s.adminPort))
            return s
        }

        /// The app's user (not the sidecar's uid 0): its traffic is intercepted.
        static let asApp = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

        /// `bash` in A as uid 65534 (so its traffic is intercepted): connect, send `request`, print the answer.
        func client(host: String, port: Int, request: String = "GET / HTTP/1.0\r\nHost: x\r\n\r\n") throws -> (status: Int32, out: String, err: String) {
            let script = "exec 3<>/dev/tcp/\(host)/\(port) || exit 7; printf '\(request.replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n"))' >&3; timeout 5 cat <&3"
            let r = try a.run(Self.asApp + ["/usr/bin/bash", "-c", script])
            return (r.status, r.stdout, r.stderr)
        }

        func stop() {
            for br in bridges { br.stop() }
            cp.stop()
            a.delete()
            b.delete()
        }
    }

    /// `mesh_connection_failures_total{direction="outbound",reason=…}` of `s` (0 when absent).
    static func failures(_ s: SidecarProcess, _ reason: String, _ direction: String = "outbound") -> Int {
        let prefix = "mesh_connection_failures_total{direction=\"\(direction)\",reason=\"\(reason)\"} "
        return s.admin("GET", "/metrics").body.split(separator: "\n").first { $0.hasPrefix(prefix) }
            .flatMap { Int($0.split(separator: " ").last!) } ?? 0
    }

    @Test(.enabled(if: skip == nil, "needs root, ip and iptables"))
    func unmodifiedClientReachesPaymentsByNameAndVirtualIP() throws {
        let t = try Topology()
        defer { t.stop() }
        let vip = VirtualIPs.text(VirtualIPs.assign([ServiceKey(namespace: "shop", name: "payments")])[ServiceKey(namespace: "shop", name: "payments")]!)
        let resolved = try t.a.run(Topology.asApp + ["/usr/bin/getent", "ahostsv4", "payments.shop.mesh.local"])
        #expect(resolved.stdout.hasPrefix(vip + " "), "getent: \(resolved)")
        let unknown = try t.a.run(Topology.asApp + ["/usr/bin/getent", "ahostsv4", "nosuch.shop.mesh.local"])
        #expect(unknown.status == 2 && unknown.stdout.isEmpty)

        let byName = try t.client(host: "payments.shop.mesh.local", port: 8080)
        #expect(byName.out.contains("hello from payments"), "by name: \(byName)")
        let byVIP = try t.client(host: vip, port: 8080)
        #expect(byVIP.out.contains("hello from payments"), "by VIP: \(byVIP)")
        #expect(t.app.accepted.load(ordering: .relaxed) == 2)
        // Both went through both sidecars: two mTLS connections in at payments, two out at frontend.
        #expect(ControlPlaneLifecycleTests.metric(t.payments, "mesh_connections_opened_total{direction=\"inbound\"}") == 2)
        #expect(ControlPlaneLifecycleTests.metric(t.frontend, "mesh_connections_opened_total{direction=\"outbound\"}") == 2)
    }

    /// A port the mesh declares `http`: intercepted connections to it are read as requests and carried on pooled
    /// hops, as from an outbound `http` listener. Three one-request clients share one hop: one mTLS connection in
    /// at payments (the L4 path above opens one per client), and payments decides each request.
    @Test(.enabled(if: skip == nil, "needs root, ip and iptables"))
    func interceptedRequestsToAnHTTPPortRideOnPooledHops() throws {
        let t = try Topology(paymentsHTTP: true)
        defer { t.stop() }
        for i in 0..<3 {
            let r = try t.client(host: "payments.shop.mesh.local", port: 8080, request: "GET /n\(i) HTTP/1.0\r\nHost: payments\r\n\r\n")
            #expect(r.out.hasPrefix("HTTP/1.0 200 ") || r.out.hasPrefix("HTTP/1.1 200 "), "\(r)")
            #expect(r.out.contains("hello from payments"), "\(r)")
        }
        let pool = t.frontend.adminJSON("/stats")?["pool"] as? [String: Any]
        #expect(pool?["requests"] as? Int == 3, "\(pool ?? [:])")
        #expect(pool?["opened"] as? Int == 1)
        #expect(pool?["reused"] as? Int == 2)
        #expect(ControlPlaneLifecycleTests.metric(t.payments, "mesh_connections_opened_total{direction=\"inbound\"}") == 1)
        #expect(ControlPlaneLifecycleTests.metric(t.frontend, "mesh_connections_opened_total{direction=\"outbound\"}") == 3)
        let decided = t.payments.admin("GET", "/metrics").body.split(separator: "\n")
            .filter { $0.hasPrefix("mesh_http_requests_total{") && $0.contains(#"direction="inbound""#) }
            .compactMap { Int($0.split(separator: " ").last!) }.reduce(0, +)
        #expect(decided == 3, "payments decided each request")
    }

    @Test(.enabled(if: skip == nil, "needs root, ip and iptables"))
    func nonMeshEgressIsRefusedAndCountedExternalPassesThrough() throws {
        let t = try Topology(external: ["198.18.0.0/15:9999"])
        defer { t.stop() }
        // Not a mesh service: refused at the transparent listener, counted, logged with the original destination.
        let refused = try t.client(host: "203.0.113.9", port: 443, request: "x")
        #expect(refused.out.isEmpty)
        #expect(Self.failures(t.frontend, "egress-not-mesh") == 1)
        #expect(t.frontend.waitForEvent { ($0["detail"] as? String)?.contains("203.0.113.9:443") == true } != nil)
        // A declared external destination: plain TCP passthrough to a listener in B.
        let ext = try t.b.inside { try TCPListenerOnce(host: t.addrB, port: 9999, reply: "external-ok\n") }
        let passed = try t.client(host: t.addrB, port: 9999, request: "hi")
        #expect(passed.out == "external-ok\n", "\(passed)")
        ext.close()
        // The same address on another port is not declared external; it is payments' endpoint, so it is payments
        // on port 9998, for which no rule allows egress: refused by the slice.
        _ = try t.client(host: t.addrB, port: 9998, request: "hi")
        #expect(Self.failures(t.frontend, "egress-not-allowed") == 1)
        #expect(Self.failures(t.frontend, "egress-not-mesh") == 1)
        #expect(t.app.accepted.load(ordering: .relaxed) == 0)
    }

    @Test(.enabled(if: skip == nil, "needs root, ip and iptables"))
    func noLoopsAndNothingReachesTheAppPortAroundTheSidecar() throws {
        let t = try Topology()
        defer { t.stop() }
        // The client dialing the transparent port itself (loopback is not redirected): its original destination
        // is the sidecar's own listener, refused as a loop.
        _ = try t.client(host: "127.0.0.1", port: 15001, request: "x")
        #expect(Self.failures(t.frontend, "transparent-loop") == 1)
        // The sidecar's own dial to payments (uid 0) is not redirected into itself: a call works and the
        // transparent listener saw exactly one connection for it.
        let ok = try t.client(host: "payments.shop.mesh.local", port: 8080)
        #expect(ok.out.contains("hello from payments"))
        #expect(ControlPlaneLifecycleTests.metric(t.frontend, "mesh_connections_opened_total{direction=\"outbound\"}") == 2)
        // Plain TCP from A straight to B's app port (as root, so not intercepted in A): B's PREROUTING sends it
        // to the mTLS listener, which refuses it; the app never sees it.
        let fd = try t.a.inside { socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) }
        defer { Glibc.close(fd) }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_addr.s_addr = inet_addr(t.addrB)
        sa.sin_port = UInt16(8080).bigEndian
        let r = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(r == 0)
        TCP.setTimeout(fd, seconds: 5)
        _ = TCP.sendAll(fd, Array("GET / HTTP/1.0\r\n\r\n".utf8))
        let answer = String(decoding: TCP.readToEOF(fd).bytes, as: UTF8.self)
        #expect(!answer.contains("hello from payments"))
        #expect(t.app.accepted.load(ordering: .relaxed) == 1)
        #expect(Self.failures(t.payments, "plaintext-http", "inbound") == 1)
    }
}

/// A one-shot listener: answers the first connection with `reply` and closes.
final class TCPListenerOnce: @unchecked Sendable {
    let fd: Int32

    init(host: String, port: UInt16, reply: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr(host)
        a.sin_port = port.bigEndian
        let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0, listen(fd, 8) == 0 else { throw TestFailure("listen \(host):\(port): errno \(errno)") }
        let lfd = fd
        spawnThread {
            let c = accept(lfd, nil, nil)
            guard c >= 0 else { return }
            _ = TCP.sendAll(c, Array(reply.utf8))
            shutdown(c, Int32(SHUT_WR))
            _ = TCP.readToEOF(c)
            Glibc.close(c)
        }
    }

    func close() { shutdown(fd, Int32(SHUT_RDWR)); Glibc.close(fd) }
}
