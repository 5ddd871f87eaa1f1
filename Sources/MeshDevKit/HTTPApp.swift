#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet

/// A deliberately tiny demo backend: a thread per connection, blocking sockets, one response per request,
/// `Connection: close`. Good enough to stand behind a sidecar in the demo; not a server to learn from.
enum HTTPApp {
    static func run(_ o: [String: String]) -> Int32 {
        guard let listen = o["listen"], let name = o["name"] else {
            DevCommand.err("mesh-dev http-app: --listen and --name are required")
            return 64
        }
        guard let colon = listen.lastIndex(of: ":"), let port = UInt16(listen[listen.index(after: colon)...]) else {
            DevCommand.err("mesh-dev http-app: --listen must be HOST:PORT")
            return 64
        }
        Syscall.ignoreSIGPIPE()
        let fd: Int32
        do {
            let addr = try SocketAddress(HostPort(host: String(listen[..<colon]), port: port))
            fd = try Socket.listen(addr, reusePort: false)
        } catch {
            DevCommand.err("mesh-dev http-app: \(error)")
            return 70
        }
        // Back to blocking for the simple thread-per-connection model.
        let body = "hello from \(name)\n"
        // How long a connection may stay open without a whole request (default 5 s; the demo holds one open).
        guard let waitMs = Int(o["request-wait-ms"] ?? "5000"), (1...3_600_000).contains(waitMs) else {
            DevCommand.err("mesh-dev http-app: --request-wait-ms must be 1...3600000")
            return 64
        }
        while true {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, -1)
            guard case .done(let (cfd, _))? = try? Socket.accept(fd) else { continue }
            LoopThread(start: { serve(cfd, body: body, waitMs: waitMs) }).detach()
        }
    }

    static func serve(_ fd: Int32, body: String, waitMs: Int) {
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 8192)
        var got: [UInt8] = []
        let deadline = SystemClock().monotonicMs() + Int64(waitMs)
        while SystemClock().monotonicMs() < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 200) <= 0 { continue }
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            got.append(contentsOf: buf[0..<n])
            if got.count > 65_536 { return }
            if let end = find(got, Array("\r\n\r\n".utf8)) {
                let body = body + stamped(String(decoding: got[..<end], as: UTF8.self))
                let resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
                Syscall.writeAll(fd: fd, resp)
                shutdown(fd, Int32(SHUT_WR))
                return
            }
        }
    }

    /// What the receiving sidecar stamped on the request (on `http` ports), so a demo can show who called:
    /// ` (peer <SPIFFE ID>, user <token subject>)`, or "" when the request carries neither.
    static func stamped(_ head: String) -> String {
        var peer: String?, user: String?
        for line in head.split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = String(line[line.index(after: colon)...]).trimming(" \t")
            if name == "x-mesh-peer-identity" { peer = value }
            if name == "x-mesh-token-subject" { user = value }
        }
        let parts = [peer.map { "peer \($0)" }, user.map { "user \($0)" }].compactMap { $0 }
        return parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")"
    }

    static func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }
}
