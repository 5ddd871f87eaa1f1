import Foundation
import Glibc
import Testing
import MeshCore
import MeshTLS

/// Black box: bytes through two sidecars arrive exact, half-close propagates, deadlines reap, fds return.
@Suite("Moving bytes")
struct DataPathTests {
    /// 20 connections in parallel, each sending and receiving `perConnection` bytes through
    /// frontend sidecar → payments sidecar → echo app, checked with SHA-256 both ways.
    @Test func parallelBulkTransfersArriveByteExact() throws {
        let connections = 20
        let perConnection = Int(ProcessInfo.processInfo.environment["MESH_BULK_MIB"] ?? "50")! << 20
        let mesh = try MeshFixture(app: .echo)
        defer { mesh.stop() }
        let results = BulkResults()
        let group = DispatchGroup()
        for i in 0..<connections {
            group.enter()
            let port = mesh.frontendPort
            Thread {
                defer { group.leave() }
                results.record(i, BulkTransfer.run(port: port, bytes: perConnection, seed: UInt8(i)))
            }.start()
        }
        #expect(group.wait(timeout: .now() + 600) == .success)
        for i in 0..<connections {
            let r = results.get(i)
            #expect(r?.error == nil, "connection \(i): \(r?.error ?? "")")
            #expect(r?.receivedBytes == perConnection, "connection \(i)")
            #expect(r?.sentHash == r?.receivedHash, "connection \(i)")
        }
        #expect(mesh.fdsAfterSettling() == mesh.baselineFDs)
    }

    @Test func halfCloseIsPropagatedBothWays() throws {
        let mesh = try MeshFixture(app: .countThenReply)
        defer { mesh.stop() }
        let fd = try TCP.connect(port: mesh.frontendPort)
        defer { close(fd) }
        let payload = [UInt8](repeating: 0x61, count: 100_000)
        #expect(TCP.sendAll(fd, payload))
        shutdown(fd, Int32(SHUT_WR))
        // The app only answers after it has seen our end of stream through both sidecars, and then closes:
        // its FIN must reach us too.
        let answer = TCP.readToEOF(fd)
        #expect(String(decoding: answer.bytes, as: UTF8.self) == "got 100000 bytes")
        #expect(answer.eof)
        #expect(mesh.fdsAfterSettling() == mesh.baselineFDs)
    }

    @Test func idleConnectionIsReapedAfterTheIdleTimeout() throws {
        let mesh = try MeshFixture(app: .echo, limits: ["idleTimeoutMs": 1000])
        defer { mesh.stop() }
        let fd = try TCP.connect(port: mesh.frontendPort)
        defer { close(fd) }
        #expect(TCP.sendAll(fd, Array("ping".utf8)))
        var buf = [UInt8](repeating: 0, count: 4)
        #expect(recv(fd, &buf, 4, Int32(MSG_WAITALL)) == 4)
        let start = Date()
        let rest = TCP.readToEOF(fd)  // blocks until a sidecar reaps the connection
        let waited = Date().timeIntervalSince(start)
        #expect(rest.bytes.isEmpty)
        #expect(waited >= 0.9 && waited < 3.0, "reaped after \(waited) s")
        let reaped = mesh.frontend.waitForEvent { $0["reason"] as? String == "idle-timeout" }
            ?? mesh.payments.waitForEvent { $0["reason"] as? String == "idle-timeout" }
        #expect(reaped != nil)
        #expect(mesh.fdsAfterSettling() == mesh.baselineFDs, "\(mesh.sidecars.map { $0.stderr() })")
    }

    @Test func silentClientIsReapedAtTheHandshakeDeadlineWhileOthersAreServed() throws {
        let mesh = try MeshFixture(limits: ["handshakeTimeoutMs": 1000])
        defer { mesh.stop() }
        let silent = try TCP.connect(port: mesh.inboundPort)
        defer { close(silent) }
        let start = Date()
        // Others are served meanwhile.
        for _ in 0..<5 {
            #expect(TCP.httpGet(port: mesh.frontendPort).hasSuffix("hello from payments\n"))
        }
        let rest = TCP.readToEOF(silent)
        let waited = Date().timeIntervalSince(start)
        #expect(rest.bytes.isEmpty)
        #expect(waited >= 0.9 && waited < 3.0, "reaped after \(waited) s")
        #expect(mesh.payments.waitForEvent { $0["reason"] as? String == "handshake-timeout" } != nil)
        #expect(mesh.fdsAfterSettling() == mesh.baselineFDs)
    }
}

/// One bulk transfer: a sender thread and a receiver on the same socket, hashing as they go.
enum BulkTransfer {
    struct Result { var sentHash = "", receivedHash = "", receivedBytes = 0, error: String? }

    /// `paceMs` sleeps between 1 MiB blocks, to keep a transfer running for a while.
    static func run(port: UInt16, bytes: Int, seed: UInt8, paceMs: Int = 0) -> Result {
        guard let fd = try? TCP.connect(port: port, timeoutSeconds: 120) else { return Result(error: "connect failed") }
        defer { close(fd) }
        // A pattern whose period (1 MiB + 7) does not line up with any buffer size, different per connection.
        let block: [UInt8] = (0..<(1 << 20) + 7).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) ^ seed }
        let sentHash = SHA256Box()
        let sender = Thread {
            var left = bytes
            while left > 0 {
                let n = min(left, block.count)
                let ok = block.withUnsafeBytes { TCP.sendAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                if !ok { break }
                block.withUnsafeBytes { sentHash.hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                left -= n
                if paceMs > 0 { usleep(UInt32(paceMs * 1000)) }
            }
            shutdown(fd, Int32(SHUT_WR))
            sentHash.done.signal()
        }
        sender.start()
        let received = SHA256()
        var total = 0
        var buf = [UInt8](repeating: 0, count: 256 * 1024)
        var error: String?
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            if n < 0 { if errno == EINTR { continue }; error = "recv errno \(errno) after \(total) bytes"; break }
            buf.withUnsafeBytes { received.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            total += n
        }
        sentHash.done.wait()
        return Result(sentHash: sentHash.hasher.finalizeHex(), receivedHash: received.finalizeHex(), receivedBytes: total, error: error)
    }
}

final class SHA256Box: @unchecked Sendable {
    // @unchecked: used by the sender thread, then read after `done` is signalled.
    let hasher = SHA256()
    let done = DispatchSemaphore(value: 0)
}

final class BulkResults: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var results: [Int: BulkTransfer.Result] = [:]
    func record(_ i: Int, _ r: BulkTransfer.Result) { lock.lock(); results[i] = r; lock.unlock() }
    func get(_ i: Int) -> BulkTransfer.Result? { lock.lock(); defer { lock.unlock() }; return results[i] }
}
