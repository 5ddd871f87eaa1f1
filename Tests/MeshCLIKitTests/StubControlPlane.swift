import Foundation
import Synchronization
import MeshAPI
import MeshCore
import MeshHTTP
import MeshNet
import MeshTLS
import MeshTestSupport

/// A control plane that answers `GET /v1/graph` with a fixed `GraphAnswer` and `GET /v1/mesh` with fixed files,
/// over real mTLS-capable TLS (a test CA), recording every request; plus a data folder (`bundle.pem`,
/// `admin.token`) so `meshctl --data-dir` trusts it. The graph API itself is another part of issue 9.
final class StubControlPlane: @unchecked Sendable {
    // @unchecked: `server` is set once before the loop thread starts and touched only on it afterwards.
    let loop: EventLoop
    var server: HTTPServer?
    var thread: LoopThread?
    let data: TempDir
    /// `METHOD target authorization`, in arrival order.
    let requests = Mutex<[String]>([])
    static let token = "stub-admin-token"

    init(graph: GraphAnswer, meshFiles: [(name: String, content: String)] = [], quarantined: [String] = []) throws {
        let ca = try TestCA()
        data = try TempDir(prefix: "meshctl-stub")
        try data.write("bundle.pem", ca.certificate.pem())
        try data.write("admin.token", Self.token + "\n")
        loop = try EventLoop(index: 0)
        let serving = try TLSContext.apiServer(identity: try ca.identity("spiffe://mesh.local/ns/mesh-system/sa/mesh-control"))
        let mesh = JSONValue.object([("version", .int(7)), ("hash", .string("stub")),
                                     ("files", .array(meshFiles.map { .object([("name", .string($0.name)), ("content", .string($0.content))]) })),
                                     ("mesh", .null)])
        server = try HTTPServer(loop: loop, address: SocketAddress(HostPort(host: "127.0.0.1", port: 0)), tls: serving, handler: { [self] req, respond in
            requests.withLock { $0.append("\(req.method) \(req.head.target) \(req.head.headers["Authorization"] ?? "-")") }
            switch (req.method, req.path) {
            case ("GET", "/v1/graph"): respond(.json(graph.json.text))
            case ("GET", "/v1/mesh"): respond(.json(mesh.text))
            case ("GET", "/v1/check"):  // only the quarantine part is read by `check` at layer 7
                respond(.json(JSONValue.object([("quarantined", .array(quarantined.map { .object([("identity", .string($0))]) }))]).text))
            default: respond(.error(404, code: "api.not-found", reason: "no route"))
            }
        })
        thread = loop.startThread()
    }

    var port: UInt16 { server!.address.port }

    /// Runs the built `meshctl` against this stub (in `cwd` when given).
    func meshctl(_ args: [String], cwd: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return try ChildProcess.run("\((exe as NSString).deletingLastPathComponent)/meshctl",
                                    ["--server", "127.0.0.1:\(port)", "--data-dir", data.path, "--trust-domain", "mesh.local"] + args,
                                    environment: [:], currentDirectory: cwd)
    }

    func stop() {
        loop.execute { [self] in server?.close() }
        loop.stop()
        thread?.join()
    }
}
