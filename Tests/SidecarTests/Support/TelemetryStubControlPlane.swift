import Foundation
import Synchronization
import MeshAPI
import MeshCore
import MeshHTTP
import MeshNet
import MeshTLS
import MeshTestSupport

/// A control plane with just what a sidecar with static allow lists needs to bootstrap (`/v1/bundle`,
/// `/v1/identity`: the join token names the service, `shop/frontend`), and a recording `/v1/telemetry` with the
/// agreed semantics (source must be the mTLS peer; `(source, instance, seq)` counted once). `down` makes every
/// telemetry call fail with 503 (the reporter must keep its batch and retry).
final class TelemetryStubControlPlane: @unchecked Sendable {
    // @unchecked: `server` is set once before the loop thread starts and touched only on it afterwards.
    let ca: TestCA
    let loop: EventLoop
    var server: HTTPServer?
    var thread: LoopThread?
    let down = Atomic<Bool>(false)
    let refusedWhileDown = Atomic<Int>(0)
    /// Reports counted (duplicates left out), in arrival order.
    let accepted = Mutex<[TelemetryReport]>([])
    let duplicates = Atomic<Int>(0)
    private let lastSeq = Mutex<[String: Int]>([:])

    init(ca: TestCA) throws {
        self.ca = ca
        loop = try EventLoop(index: 0)
        let controlID = try SPIFFEID.workload("spiffe://mesh.local/ns/mesh-system/sa/mesh-control")
        let serving = try TLSContext.apiServer(identity: try ca.identity(controlID.description))
        let bundlePEM = String(decoding: ca.certificate.pem(), as: UTF8.self)
        server = try HTTPServer(loop: loop, address: SocketAddress(HostPort(host: "127.0.0.1", port: 0)), tls: serving, handler: { [self] req, respond in
            switch (req.method, req.path) {
            case ("GET", "/v1/bundle"):
                respond(.json(BundleAnswer(trustDomain: TestCA.meshDomain, bundlePEM: bundlePEM, controlPlane: controlID).json.text))
            case ("POST", "/v1/identity"):
                respond(identity(req, bundlePEM: bundlePEM))
            case ("POST", "/v1/telemetry"):
                respond(telemetry(req))
            default:
                respond(.error(404, code: "api.not-found", reason: "no route"))
            }
        })
        thread = loop.startThread()
    }

    private func identity(_ req: HTTPRequest, bundlePEM: String) -> HTTPResponse {
        guard let ask = try? IdentityRequest(bytes: req.body) else { return .error(400, code: "api.bad-value", reason: "bad") }
        do {
            let id: SPIFFEID
            if let token = ask.token?.trimmingCharacters(in: .whitespacesAndNewlines) {
                let parts = token.split(separator: "/")
                id = try SPIFFEID.workload("spiffe://mesh.local/ns/\(parts[0])/sa/\(parts[1])")
            } else if let peer = req.peerIdentity {
                id = peer
            } else {
                return .error(401, code: "auth.required", reason: "no token, no certificate")
            }
            let csr = try CertificateSigningRequest(pem: Array(ask.csrPEM.utf8))
            let cert = try ca.ca.issue(.svid(id, now: ca.now, lifetime: 3600), for: csr)
            return .json(IdentityAnswer(spiffeID: id, certificateChainPEM: String(decoding: cert.pem(), as: UTF8.self),
                                        trustBundlePEM: bundlePEM, serial: cert.serialHex, notAfter: Int(cert.notAfter)).json.text)
        } catch {
            return .error(500, code: "ca.sign", reason: "\(error)")
        }
    }

    private func telemetry(_ req: HTTPRequest) -> HTTPResponse {
        if down.load(ordering: .relaxed) {
            refusedWhileDown.add(1, ordering: .relaxed)
            return .error(503, code: "control.unavailable", reason: "down for the test")
        }
        let report: TelemetryReport
        do { report = try TelemetryReport(bytes: req.body, limits: TelemetryReport.limits) } catch {
            return .error(400, code: error.code, reason: error.reason)
        }
        guard report.source == req.peerIdentity else {
            return .error(403, code: "telemetry.wrong-source", reason: "source is not the caller")
        }
        let stream = "\(report.source) \(report.instance)"
        let duplicate = lastSeq.withLock { last -> Bool in
            if let seen = last[stream], report.seq <= seen { return true }
            last[stream] = report.seq
            return false
        }
        if duplicate { duplicates.add(1, ordering: .relaxed) } else { accepted.withLock { $0.append(report) } }
        return .json(TelemetryAck(seq: report.seq, duplicate: duplicate).json.text)
    }

    /// Reports counted from `source`.
    func reports(from source: String) -> [TelemetryReport] { accepted.withLock { $0 }.filter { $0.source.description == source } }

    var port: UInt16 { server!.address.port }

    func stop() {
        loop.execute { [self] in server?.close() }
        loop.stop()
        thread?.join()
    }
}
