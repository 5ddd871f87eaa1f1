import MeshCore
import MeshHTTP
import MeshHTTP1
import MeshNet
import Synchronization

/// One member as the client sees it: its keep-alive connections (`connectionsPerMember`, default 1; each used by
/// one call at a time, so calls beyond that queue) and when it may be asked again after a failure.
final class EtcdMember: Sendable {
    let endpoint: EtcdEndpoint
    /// `connectionsPerMember` keep-alive connections, each used by one call at a time.
    private let connections: [Slot]
    private let turn = Atomic<Int>(0)
    /// Monotonic ms before which this member is skipped (0: healthy).
    let skipUntil = Atomic<Int64>(0)

    init(_ endpoint: EtcdEndpoint, connections: Int) {
        self.endpoint = endpoint
        self.connections = (0..<max(1, connections)).map { _ in Slot() }
    }

    /// How one exchange failed: decides whether the call may go on to another member.
    enum Failure: Error {
        /// Nothing reached the member (connect or handshake failed): always safe to try another.
        case notSent(MeshError)
        /// The request went out and no whole answer came back: a write may have been applied.
        case noAnswer(MeshError)
        /// The member answered with an error.
        case refused(status: Int, code: Int, message: String)
    }

    /// One POST of `body` to `path` within `timeoutMs` (at most the request timeout); the parsed answer, or a `Failure`.
    func exchange(_ path: String, _ body: [UInt8], settings: EtcdClientSettings,
                  timeoutMs: Int? = nil) throws(Failure) -> JSONValue {
        let budget = max(1, min(timeoutMs ?? settings.requestTimeoutMs, settings.requestTimeoutMs))
        let response = try onAConnection { (c: inout HTTPConnection?) throws(Failure) -> HTTPClient.Response in
            try send(on: &c, path, body, settings: settings, budget: budget)
        }
        if response.status != 200 {
            let v = try? StrictJSON.parse(response.body)
            let message = v?["message"]?.stringValue ?? v?["error"]?.stringValue ?? response.text
            let code = (v?["code"]?.intValue) ?? 0
            throw .refused(status: response.status, code: code, message: message)
        }
        do {
            return try EtcdJSON.parse(response.body, what: path)
        } catch {
            throw .noAnswer(MeshError(.storeProtocol, Self.text(error)))
        }
    }

    /// Runs `body` on a free connection slot, or waits for the next one in turn when all are busy.
    private func onAConnection(_ body: (inout HTTPConnection?) throws(Failure) -> HTTPClient.Response) throws(Failure) -> HTTPClient.Response {
        for slot in connections {
            if let r = try slot.connection.withLockIfAvailable({ (c: inout HTTPConnection?) throws(Failure) -> HTTPClient.Response in try body(&c) }) { return r }
        }
        let k = turn.add(1, ordering: .relaxed).oldValue % connections.count
        return try connections[k].connection.withLock { (c: inout HTTPConnection?) throws(Failure) -> HTTPClient.Response in try body(&c) }
    }

    /// One exchange on the connection in `c` (dialled first when there is none or it cannot carry another).
    private func send(on c: inout HTTPConnection?, _ path: String, _ body: [UInt8], settings: EtcdClientSettings,
                      budget: Int) throws(Failure) -> HTTPClient.Response {
        if let open = c, !open.canCarry(maxAgeMs: .max, maxIdleMs: 60_000) {
            open.close()
            c = nil
        }
        let conn: HTTPConnection
        let fresh: Bool
        if let open = c { conn = open; fresh = false } else {
            do {
                conn = try HTTPConnection(connecting: endpoint.address, tls: endpoint.tls,
                                          skipServerVerification: endpoint.tls != nil, timeoutMs: min(settings.dialTimeoutMs, budget))
            } catch {
                throw .notSent(MeshError(.storeUnavailable, "cannot connect to etcd \(endpoint.url): \(Self.text(error))"))
            }
            c = conn
            fresh = true
        }
        var h = HTTPHeaders()
        h.add("Content-Type", "application/json")
        do {
            let r = try conn.send(method: "POST", path: path, headers: h, body: body, timeoutMs: budget)
            if !conn.reusable { conn.close(); c = nil }
            return r
        } catch {
            conn.close()
            c = nil
            var why = Self.text(error)
            if fresh && endpoint.tls != nil && !conn.answerStarted && settings.certFile == nil {
                why += " (the member may require a client certificate: set certFile and keyFile)"
            }
            throw .noAnswer(MeshError(.storeUnavailable, "etcd \(endpoint.url) \(path): \(why)"))
        }
    }

    /// Drops the connections (after a failure elsewhere, or when the client closes).
    func disconnect() {
        for slot in connections {
            slot.connection.withLock { c in
                c?.close()
                c = nil
            }
        }
    }

    /// One keep-alive connection and its lock (a class: `Mutex` cannot live in an array).
    final class Slot: Sendable {
        let connection = Mutex<HTTPConnection?>(nil)
    }

    static func text(_ error: any Error) -> String {
        if let m = error as? MeshError { return m.reason }
        return "\(error)"
    }
}
