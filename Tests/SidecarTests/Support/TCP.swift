import Foundation
import MeshTestSupport
import Glibc
import Synchronization

/// Blocking loopback sockets with timeouts, for test clients and test apps.
enum TCP {
    /// A loopback port that is free now and was never returned before in this process (`LoopbackPorts`).
    static func freePort() -> UInt16 { LoopbackPorts.take() }

    static func connect(port: UInt16, timeoutSeconds: Int = 10) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        a.sin_port = port.bigEndian
        let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if r != 0 { let e = errno; close(fd); throw TestFailure("connect \(port): errno \(e)") }
        setTimeout(fd, seconds: timeoutSeconds)
        return fd
    }

    static func setTimeout(_ fd: Int32, seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    static func listen(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        a.sin_port = port.bigEndian
        let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard r == 0, Glibc.listen(fd, 128) == 0 else { close(fd); throw TestFailure("listen \(port): errno \(errno)") }
        return fd
    }

    static func sendAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = send(fd, bytes.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL))
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return false }
            off += n
        }
        return true
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { sendAll(fd, $0) } }

    /// Reads until EOF (or error/timeout); returns the bytes and whether EOF was clean.
    static func readToEOF(_ fd: Int32, limit: Int = 1 << 20) -> (bytes: [UInt8], eof: Bool) {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65_536)
        while out.count <= limit {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return (out, true) }
            if n < 0 { if errno == EINTR { continue }; return (out, false) }
            out.append(contentsOf: buf[0..<n])
        }
        return (out, false)
    }

    /// One HTTP/1.1 request on a new connection through `port`; the whole response text ("" on failure).
    static func httpGet(port: UInt16, path: String = "/") -> String {
        guard let fd = try? connect(port: port, timeoutSeconds: 5) else { return "" }
        defer { close(fd) }
        _ = sendAll(fd, Array("GET \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".utf8))
        return String(decoding: readToEOF(fd).bytes, as: UTF8.self)
    }
}

/// Runs `body` on a detached POSIX thread.
func spawnThread(_ body: @escaping @Sendable () -> Void) {
    let t = Thread { body() }
    t.start()
}
