import Foundation
import MeshCore

/// A small mesh on loopback: the `payments` app behind an inbound sidecar that allows only `frontend`, and
/// outbound sidecars for `frontend` (allowed) and `intruder` (valid identity, not allowed).
final class MeshFixture {
    let pki: TestPKI
    let app: TestApp
    let inboundPort = TCP.freePort()
    let frontendPort = TCP.freePort()
    let intruderPort = TCP.freePort()
    let payments: SidecarProcess
    let frontend: SidecarProcess
    let intruder: SidecarProcess
    /// Open fds of each sidecar once it is up and idle.
    var baselineFDs: [Int] = []

    init(app mode: TestApp.Mode = .http("payments"), limits: [String: Any] = [:], resumption: String = "stateful",
         frontendExpects: String? = nil) throws {
        pki = try TestPKI()
        app = try TestApp(mode)
        for s in ["payments", "frontend", "intruder"] { try pki.issue(s) }
        let td = pki.trustDomain.name
        func identity(_ s: String) -> [String: Any] {
            ["trustDomain": td, "certificate": "\(s).crt", "key": "\(s).key", "trustBundle": "ca.crt"]
        }
        let common: [String: Any] = ["limits": limits, "tls": ["resumption": resumption], "log": ["logAllowed": true], "loops": 2]
        let upstreamPort = inboundPort
        func outbound(_ s: String, port: UInt16, expect: String) -> [String: Any] {
            common.merging(["identity": identity(s), "outbound": [[
                "name": "payments", "listen": "127.0.0.1:\(port)", "upstream": "127.0.0.1:\(upstreamPort)",
                "expectIdentity": expect]]]) { $1 }
        }
        payments = try SidecarProcess(name: "payments", config: common.merging(["identity": identity("payments"), "inbound": [[
            "name": "http", "listen": "127.0.0.1:\(inboundPort)", "forwardTo": "127.0.0.1:\(app.port)",
            "allow": ["spiffe://\(td)/ns/shop/sa/frontend"]]]]) { $1 }, dir: pki.dir)
        let paymentsID = "spiffe://\(td)/ns/shop/sa/payments"
        let (fp, ip) = (frontendPort, intruderPort)
        frontend = try SidecarProcess(name: "frontend", config: outbound("frontend", port: fp, expect: frontendExpects ?? paymentsID), dir: pki.dir)
        intruder = try SidecarProcess(name: "intruder", config: outbound("intruder", port: ip, expect: paymentsID), dir: pki.dir)
        for s in [payments, frontend, intruder] { try s.waitReady() }
        baselineFDs = [payments, frontend, intruder].map { $0.openFDs }
    }

    var sidecars: [SidecarProcess] { [payments, frontend, intruder] }

    /// Asserts-friendly: fd counts after `waitFDs`, to compare with `baselineFDs`.
    func fdsAfterSettling() -> [Int] {
        zip(sidecars, baselineFDs).map { $0.waitFDs(atMost: $1) }
    }

    func stop() {
        for s in sidecars { s.stop() }
        app.stop()
        pki.cleanup()
    }
}
