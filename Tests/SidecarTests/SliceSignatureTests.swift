import Foundation
import Glibc
import Testing

/// Black box (hardening #5): slices are signed by the control plane and carry its policy store's epoch. A
/// tampered or forged last-known-good file is refused at start; a poll from a version the control plane does
/// not have is answered at once; a re-created policy store is not mistaken for an older version.
@Suite("Slice signatures and epochs")
struct SliceSignatureTests {
    static let ledgerToPayments = #"{"name": "ledger-to-payments", "action": "allow", "from": {"services": ["shop/ledger"]}, "to": {"services": ["shop/payments"]}, "ports": [8080]}"#

    /// Restarts `name` with the same config (the control plane may be down).
    static func restart(_ mesh: ManagedMesh, _ name: String) throws -> SidecarProcess {
        let old = mesh.sidecars[name]!
        old.stop()
        let again = try SidecarProcess(name: name, config: old.config, dir: mesh.cp.dir)
        mesh.cp.sidecars.append(again)
        mesh.sidecars[name] = again
        return again
    }

    static func refusals(_ s: SidecarProcess) -> [[String: Any]] {
        s.logEvents().filter { $0["event"] as? String == "policy-last-known-good-refused" }
    }

    /// Ready within `seconds`?
    static func becomesReady(_ s: SidecarProcess, within seconds: Double) -> Bool {
        (try? s.waitReady(timeout: seconds)) != nil
    }

    /// (a) Someone with write access to a stopped sidecar's last-known-good file widens an allow (ledger for
    /// frontend); restarted with the control plane down, the sidecar refuses the file and serves nothing.
    @Test func tamperedLastKnownGoodIsRefusedAndTheSidecarServesNothing() throws {
        let mesh = try ManagedMesh(rules: SegmentPolicyTests.frontendToPayments, callers: ["frontend"])
        defer { mesh.stop() }
        mesh.sidecars["payments"]!.stop()
        mesh.cp.kill9()
        let path = "\(mesh.cp.dir)/payments/policy.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("ns/shop/sa/frontend"))
        try text.replacingOccurrences(of: "ns/shop/sa/frontend", with: "ns/shop/sa/ledger")
            .writeReplacing(toFile: path)
        let again = try Self.restart(mesh, "payments")
        #expect(!Self.becomesReady(again, within: 4), "a tampered last-known-good slice was put in force")
        #expect((try? TCP.connect(port: mesh.inPort)).map { close($0) } == nil, "the inbound listener is open")
        let refused = again.waitForEvent { $0["event"] as? String == "policy-last-known-good-refused" }
        #expect(refused?["reason"] as? String == "bad-signature")
    }

    /// (b) A forged file with a high version: unsigned, signed by a key of another CA under the control
    /// plane's name, or signed by the sidecar's own (valid, same CA) key. Each is refused with its reason.
    @Test func forgedHighVersionLastKnownGoodIsRefused() throws {
        let mesh = try ManagedMesh(rules: SegmentPolicyTests.frontendToPayments, callers: ["frontend"])
        defer { mesh.stop() }
        mesh.sidecars["payments"]!.stop()
        mesh.cp.kill9()
        let path = "\(mesh.cp.dir)/payments/policy.json"
        let original = try String(contentsOfFile: path, encoding: .utf8)
        let forged = #"{"version":1000000,"service":"shop/payments","identity":"spiffe://mesh.local/ns/shop/sa/payments","rules":[{"name":"all","action":"allow","mode":"enforce","expires":null}],"inbound":[{"port":8080,"identities":[],"prefixes":[{"pattern":"spiffe://mesh.local/*","rules":[0]}]}],"outbound":[]}"#
        try forged.writeReplacing(toFile: path)
        var again = try Self.restart(mesh, "payments")
        #expect(!Self.becomesReady(again, within: 4), "an unsigned forged slice (version 1000000) was put in force")
        #expect(again.waitForEvent { $0["event"] as? String == "policy-last-known-good-refused" }?["reason"] as? String == "unsigned")

        for (signer, reason) in try SliceForgery.signers(mesh, original: original) {
            try SliceForgery.signed(forged, by: signer).writeReplacing(toFile: path)
            let seen = Self.refusals(again).count  // the log file is shared by the restarts
            again = try Self.restart(mesh, "payments")
            #expect(!Self.becomesReady(again, within: 3), "a slice signed by \(signer.name) was put in force")
            _ = again.waitForEvent { _ in Self.refusals(again).count > seen }
            #expect(Self.refusals(again).dropFirst(seen).first?["reason"] as? String == reason, "\(signer.name)")
        }
    }

    /// (c) A poll from version 1000000 (a forged or stale high version) is answered at once with the slice in
    /// force, not parked for the 30 s long poll.
    @Test func pollFromAVersionTheControlPlaneDoesNotHaveIsAnsweredAtOnce() throws {
        let mesh = try ManagedMesh(rules: SegmentPolicyTests.frontendToPayments, callers: [])
        defer { mesh.stop() }
        let first = try SliceForgery.poll(mesh, query: "version=-1", maxTime: 10)
        #expect(first.status == "200")
        let epoch = SliceForgery.epoch(in: first.body) ?? ""
        let started = Date()
        let high = try SliceForgery.poll(mesh, query: "version=1000000&epoch=\(epoch)", maxTime: 8)
        #expect(high.status == "200", "a poll from version 1000000 was parked (\(Date().timeIntervalSince(started)) s)")
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(high.body.contains("frontend-to-payments"))
    }

    /// (d) The policy store is re-created (lost, or a re-initialised control plane on the same CA): its new
    /// version 1 is not mistaken for an older version by sidecars that applied version 2 of the old store.
    @Test func sidecarsTakeTheVersion1OfARecreatedPolicyStore() throws {
        let mesh = try ManagedMesh(rules: SegmentPolicyTests.frontendToPayments)
        defer { mesh.stop() }
        #expect(try mesh.apply(rules: SegmentPolicyTests.frontendToPayments + "," + Self.ledgerToPayments).status == 0)
        for name in ["payments", "frontend", "ledger"] { #expect(mesh.waitVersion(name, 2, timeout: 10), "\(name)") }
        #expect(mesh.call("ledger").hasSuffix("hello from payments\n"))
        mesh.cp.kill9()
        try FileManager.default.removeItem(atPath: "\(mesh.cp.dataDir)/policy")
        try mesh.cp.start()
        #expect(try mesh.apply(rules: Self.ledgerToPayments).status == 0)  // version 1 of the new store
        for name in ["payments", "frontend", "ledger"] {
            #expect(mesh.waitVersion(name, 1, timeout: 40), "\(name) ignored the new store's version 1")
        }
        #expect(mesh.call("frontend") == "")
        #expect(mesh.call("ledger").hasSuffix("hello from payments\n"))
    }
}
