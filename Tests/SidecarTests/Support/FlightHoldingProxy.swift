import Foundation
import Glibc
import Synchronization

/// A TCP relay on loopback that parses TLS record headers and holds back the encrypted handshake records
/// (content type 23) going one way until `release()`: with `.fromClient` the client's last flight
/// (Certificate, CertificateVerify, Finished) waits, so the server's handshake is half done; with
/// `.fromServer` the server's flight waits, so the client's is. Everything else passes at once.
final class FlightHoldingProxy: @unchecked Sendable {
    // @unchecked: `fd`, `target`, `held` are immutable; the gate and counters are Atomics.
    enum Held: Sendable { case fromClient, fromServer }

    let port: UInt16
    private let fd: Int32
    private let target: UInt16
    private let held: Held
    private let released = Atomic<Bool>(false)
    /// Encrypted records that reached the gate (the handshake is waiting on us once this is > 0).
    let holding = Atomic<Int>(0)

    init(to target: UInt16, holding held: Held) throws {
        self.target = target
        self.held = held
        port = TCP.freePort()
        fd = try TCP.listen(port: port)
        let me = self
        spawnThread { me.acceptLoop() }
    }

    func release() { released.store(true, ordering: .relaxed) }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    /// Waits (bounded) until a held record is waiting at the gate.
    func waitHolding(timeout: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while holding.load(ordering: .relaxed) == 0 {
            if Date() > deadline { return false }
            usleep(10_000)
        }
        return true
    }

    private func acceptLoop() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 { if errno == EINTR { continue }; return }
            guard let s = try? TCP.connect(port: target, timeoutSeconds: 30) else { close(c); continue }
            TCP.setTimeout(c, seconds: 30)
            let me = self
            let clientGated = held == .fromClient
            spawnThread { me.relay(from: c, to: s, gated: clientGated) }
            spawnThread { me.relay(from: s, to: c, gated: !clientGated) }
        }
    }

    /// Copies whole TLS records; in the gated direction an encrypted record waits for `release()`.
    private func relay(from a: Int32, to b: Int32, gated: Bool) {
        defer { shutdown(b, Int32(SHUT_WR)); shutdown(a, Int32(SHUT_RD)) }
        var pending: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(a, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            pending.append(contentsOf: buf[0..<n])
            while pending.count >= 5 {
                let length = Int(pending[3]) << 8 | Int(pending[4])
                guard pending.count >= 5 + length else { break }
                if gated && pending[0] == 23 && !released.load(ordering: .relaxed) {
                    holding.add(1, ordering: .relaxed)
                    while !released.load(ordering: .relaxed) { usleep(5_000) }
                }
                guard TCP.sendAll(b, Array(pending[0..<(5 + length)])) else { return }
                pending.removeFirst(5 + length)
            }
        }
    }
}
