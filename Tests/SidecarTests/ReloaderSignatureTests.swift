import Foundation
import Synchronization
import Testing
import MeshCore
import MeshTLS
@testable import SidecarKit

/// Hardening #12 e: a write that lands while a reload is reading the files must trigger the next reload (the
/// file signatures are taken before reading, not after).
final class Counter: Sendable {
    private let n = Atomic<Int>(0)
    func next() -> Int { n.add(1, ordering: .relaxed).newValue }
}

@Suite("Reloader file signatures")
struct ReloaderSignatureTests {
    @Test func writeDuringAReloadIsPickedUpByTheNextCheck() throws {
        let pki = try TestPKI()
        defer { pki.cleanup() }
        try pki.issue("payments")
        let path = "\(pki.dir)/payments.json"
        @Sendable func doc(_ allow: [String]) -> [String: Any] {
            ["identity": ["trustDomain": "mesh.local", "certificate": "payments.crt", "key": "payments.key", "trustBundle": "ca.crt"],
             "inbound": [["name": "http", "listen": "127.0.0.1:1", "forwardTo": "127.0.0.1:2", "allow": allow]],
             "admin": ["enabled": false]]
        }
        try SidecarProcess.write(doc([]), to: path)
        let config = try SidecarConfig.load(path: path).get()
        let state = try SidecarState(config: config, identity: TLSIdentity.load(config.identity), generation: 1,
                                     loadedAt: pki.now)
        let runtime = SidecarRuntime(config: config, state: state, log: try EventLog(path: "/dev/null"))
        let writes = Counter()
        let reloader = Reloader(runtime: runtime, configPath: path, afterRead: {
            // The operator's second edit lands while the first one is being read.
            if writes.next() == 1 {
                try? SidecarProcess.write(doc(["spiffe://mesh.local/ns/shop/sa/frontend"]), to: path)
            }
        }, onSwap: { _ in })
        #expect(reloader.reload(trigger: "api").ok)
        #expect(runtime.state.generation == 2)
        reloader.reloadIfFilesChanged()
        #expect(runtime.state.generation == 3, "the write during the first reload was never applied")
        let frontend = try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/frontend")
        #expect(runtime.state.authorizer.inbound(listener: "http", peer: frontend, now: pki.now).enforced.isAllowed)
    }
}
