import Foundation
import Glibc
import MeshCore
import Testing
@testable import SidecarKit

extension TransparentNamespaceTests {
    /// glibc's setfsuid(2): a socket is owned by the fsuid of the thread that creates it (what `-m owner` matches).
    static let setfsuid: @convention(c) (UInt32) -> Int32 = unsafeBitCast(dlsym(nil, "setfsuid")!, to: (@convention(c) (UInt32) -> Int32).self)

    /// One HTTP/1.0 request on a new connection from namespace `ns` to `host:port`, its socket owned by `uid`.
    static func request(in ns: NetNS, uid: UInt32, host: String, port: UInt16) throws -> String {
        let fd = try ns.inside { () -> Int32 in
            _ = setfsuid(uid)
            defer { _ = setfsuid(0) }
            return socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        }
        defer { Glibc.close(fd) }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_addr.s_addr = inet_addr(host)
        sa.sin_port = port.bigEndian
        TCP.setTimeout(fd, seconds: 5)
        let r = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0 else { return "" }
        _ = TCP.sendAll(fd, Array("GET / HTTP/1.0\r\nHost: x\r\n\r\n".utf8))
        return String(decoding: TCP.readToEOF(fd).bytes, as: UTF8.self)
    }

    /// BENCHMARKS.md: sidecar CPU per 1,000 requests (one connection each, mTLS to payments) through the explicit
    /// outbound listener and through the transparent path (VIP, iptables REDIRECT, SO_ORIGINAL_DST, slice
    /// lookup), interleaved in rounds in the same run. Bounded: 4 rounds × 125 requests per path.
    @Test(.enabled(if: skip == nil, "needs root, ip and iptables"))
    func transparentPathCostVersusExplicitListener() throws {
        let t = try Topology(frontendExtra: { t in ["outbound": [[
            "name": "payments", "to": "shop/payments", "port": 8080, "listen": "127.0.0.1:16000",
            "upstream": "\(t.addrB):15443", "expectIdentity": "spiffe://mesh.local/ns/shop/sa/payments"]]] })
        defer { t.stop() }
        let key = ServiceKey(namespace: "shop", name: "payments")
        let vip = VirtualIPs.text(VirtualIPs.assign([key])[key]!)
        var cpu = (explicit: 0.0, transparent: 0.0), wall = (explicit: 0.0, transparent: 0.0)
        var ok = (explicit: 0, transparent: 0)
        let rounds = 4, perRound = 125
        let deadline = Date().addingTimeInterval(40)
        for _ in 0..<rounds where Date() < deadline {
            for transparent in [false, true] {
                let c0 = ProcessCPU.seconds(t.frontend.pid) ?? 0, w0 = Date()
                for _ in 0..<perRound {
                    let answer = transparent ? try Self.request(in: t.a, uid: 65534, host: vip, port: 8080)
                                             : try Self.request(in: t.a, uid: 0, host: "127.0.0.1", port: 16000)
                    if answer.contains("hello from payments") { if transparent { ok.transparent += 1 } else { ok.explicit += 1 } }
                }
                let dc = (ProcessCPU.seconds(t.frontend.pid) ?? 0) - c0, dw = Date().timeIntervalSince(w0)
                if transparent { cpu.transparent += dc; wall.transparent += dw } else { cpu.explicit += dc; wall.explicit += dw }
            }
        }
        #expect(ok.explicit == rounds * perRound && ok.transparent == rounds * perRound)
        let n = Double(rounds * perRound) / 1000
        print("BENCH transparent-vs-explicit: requests/path=\(rounds * perRound) frontend CPU per 1k: explicit \(String(format: "%.3f", cpu.explicit / n)) s, transparent \(String(format: "%.3f", cpu.transparent / n)) s; wall per 1k: explicit \(String(format: "%.2f", wall.explicit / n)) s, transparent \(String(format: "%.2f", wall.transparent / n)) s")
    }
}
