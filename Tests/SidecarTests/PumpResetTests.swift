import Foundation
import Glibc
import Testing
import MeshCore

/// Black box: a proxied connection whose end is reset while the sidecar is not reading it (connecting upstream,
/// or pushed back by a slow receiver) ends at once with a reason, and the loop does not spin on the error.
@Suite("Resets the pump is not reading")
struct PumpResetTests {
    /// A listener whose accept queue is full: connects to it stay in progress (SYNs are dropped).
    final class BlackHole {
        let fd: Int32
        let port = TCP.freePort()
        var queued: [Int32] = []

        init() throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_addr.s_addr = inet_addr("127.0.0.1")
            a.sin_port = port.bigEndian
            let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard r == 0, listen(fd, 0) == 0 else { throw TestFailure("black hole: errno \(errno)") }
            for _ in 0..<4 {
                let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
                _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(c, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                queued.append(c)
            }
            usleep(100_000)
        }

        func close() {
            for c in queued { Glibc.close(c) }
            Glibc.close(fd)
        }
    }

    static func closes(_ s: SidecarProcess) -> [[String: Any]] {
        s.logEvents().filter { $0["event"] as? String == "connection-closed" }
    }

    @Test func appResetWhileConnectingUpstreamEndsAtOnce() throws {
        let pki = try TestPKI()
        defer { pki.cleanup() }
        try pki.issue("frontend")
        let hole = try BlackHole()
        defer { hole.close() }
        let port = TCP.freePort()
        let sidecar = try SidecarProcess(name: "frontend", config: [
            "identity": ["trustDomain": "mesh.local", "certificate": "frontend.crt", "key": "frontend.key", "trustBundle": "ca.crt"],
            "limits": ["connectTimeoutMs": 30_000], "log": ["logAllowed": true], "loops": 1,
            "outbound": [["name": "payments", "listen": "127.0.0.1:\(port)", "upstream": "127.0.0.1:\(hole.port)",
                          "expectIdentity": "spiffe://mesh.local/ns/shop/sa/payments"]],
        ], dir: pki.dir)
        defer { sidecar.stop() }
        try sidecar.waitReady()
        let clients = try (0..<10).map { _ in try TCP.connect(port: port) }
        usleep(300_000)  // every one is dialling the black hole now
        for fd in clients { TCP.reset(fd) }
        let cpu = ProcessCPU.used(by: sidecar.pid, during: 2)
        #expect(cpu < 0.3, "the sidecar used \(cpu) s of CPU in 2 s after 10 connecting clients reset")
        let closed = Self.closes(sidecar)
        #expect(closed.count == 10, "\(closed)")
        #expect(closed.allSatisfy { $0["reason"] as? String == "socket-error" }, "\(closed)")
    }

    @Test func backPressuredClientResetEndsAtOnce() throws {
        let mesh = try MeshFixture(app: .sink)
        defer { mesh.stop() }
        var clients: [Int32] = []
        let chunk = [UInt8](repeating: 0x61, count: 65_536)
        for _ in 0..<5 {
            let fd = try TCP.connect(port: mesh.frontendPort)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            // Write until the whole path (app, payments, frontend, our socket) pushes back.
            var stalled = 0
            let deadline = Date().addingTimeInterval(10)
            while stalled < 10 && Date() < deadline {
                let n = chunk.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n > 0 { stalled = 0 } else { stalled += 1; usleep(20_000) }
            }
            clients.append(fd)
        }
        for fd in clients { TCP.reset(fd) }
        let before = (ProcessCPU.seconds(mesh.frontend.pid) ?? 0, ProcessCPU.seconds(mesh.payments.pid) ?? 0)
        usleep(2_000_000)
        let front = (ProcessCPU.seconds(mesh.frontend.pid) ?? 0) - before.0
        let pay = (ProcessCPU.seconds(mesh.payments.pid) ?? 0) - before.1
        #expect(front < 0.3, "frontend used \(front) s of CPU in 2 s after 5 pushed-back clients reset")
        #expect(pay < 0.3, "payments used \(pay) s of CPU in 2 s after its pushed-back peers reset")
        let closed = Self.closes(mesh.frontend)
        #expect(closed.count == 5 && closed.allSatisfy { $0["reason"] as? String == "socket-error" }, "\(closed)")
        #expect(Self.closes(mesh.payments).count == 5)
    }
}
