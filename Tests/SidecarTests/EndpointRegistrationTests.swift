import Foundation
import Glibc
import Testing
import MeshAPI
import MeshControlClient
import MeshCore
import MeshNet
import MeshTestSupport

/// Black box on a real `mesh-control`: sidecars register where they listen, the service comes from their
/// certificate only, the address must be theirs, and slices carry the live endpoints of their destinations
/// (a parked poll is woken by a change).
@Suite("Endpoint registration")
struct EndpointRegistrationTests {
    static let rules = #"{"name": "frontend-to-payments", "action": "allow", "from": {"services": ["shop/frontend"]}, "to": {"services": ["shop/payments"]}, "ports": [8080]}"#

    static func apply(_ cp: ControlPlaneFixture) throws {
        let dir = "\(cp.dir)/mesh"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try ManagedMesh.services.writeReplacing(toFile: "\(dir)/services.json")
        try "{\"rules\": [\(rules)]}".writeReplacing(toFile: "\(dir)/rules.json")
        let r = try cp.meshctl(["apply", "-f", dir])
        guard r.status == 0 else { throw TestFailure("apply: \(r.stderr)") }
    }

    static func at(_ port: Int, _ address: String) -> EndpointAddress {
        EndpointAddress(port: port, address: try! HostPort(parsing: address))
    }

    /// The endpoints of shop/payments in `frontend`'s slice.
    static func slicePaymentsEndpoints(_ poll: SlicePoll) throws -> [String] {
        guard case .slice(let signed) = poll else { return [] }
        let doc = try StrictJSON.parse(Array(signed.document.utf8))
        let outbound = doc["slice"]?["outbound"]?.arrayValue ?? []
        let payments = outbound.first { $0["service"]?.stringValue == "shop/payments" }
        return payments?["endpoints"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    static func revisions(_ poll: SlicePoll) throws -> (version: Int, epoch: String, revoked: Int, endpoints: Int) {
        guard case .slice(let signed) = poll else { throw TestFailure("no slice") }
        let doc = try StrictJSON.parse(Array(signed.document.utf8))
        let slice = doc["slice"]
        return (slice?["version"]?.intValue ?? -1, doc["epoch"]?.stringValue ?? "", slice?["revoked"]?["revision"]?.intValue ?? 0,
                slice?["endpointsRevision"]?.intValue ?? 0)
    }

    @Test func aSidecarRegistersOnlyForItsOwnServiceAndOnlyItsOwnAddress() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        try Self.apply(cp)
        let frontend = try ControlPlaneTelemetryTests.sidecar(cp, "shop/frontend")
        let op = try ControlPlaneTelemetryTests.operatorClient(cp)
        // The attack: frontend's sidecar tries to become an endpoint of payments. The body cannot name a service …
        let forged = try frontend.send("POST", "/v1/endpoints",
                                       body: Array(#"{"service": "shop/payments", "endpoints": [{"port": 8080, "address": "127.0.0.1:15999"}]}"#.utf8))
        #expect(forged.status == 400 && forged.text.contains("api.unknown-field"), "\(forged.text)")
        // … and what it registers counts for its own certificate's service, never another.
        let ack = try frontend.registerEndpoints([Self.at(8080, "127.0.0.1:15999")])
        #expect(ack.service == "shop/frontend")
        #expect(try op.endpoints(service: "shop/payments").endpoints.isEmpty)
        #expect(try op.endpoints(service: "shop/frontend").endpoints.map(\.address) == ["127.0.0.1:15999"])
        // An address on another host than the connection's source is refused (loopback may only claim loopback).
        let e = #expect(throws: MeshError.self) { try frontend.registerEndpoints([Self.at(8080, "10.20.30.40:15443")]) }
        #expect(e?.code == "endpoint.address-mismatch")
        #expect(try op.endpoints(service: "shop/frontend").endpoints.map(\.address) == ["127.0.0.1:15999"])
        // A wildcard listen address is recorded as the source address.
        #expect(try frontend.registerEndpoints([Self.at(8080, "0.0.0.0:15998")]).endpoints.map(\.address.description) == ["127.0.0.1:15998"])
        // Without a certificate: no registration at all.
        let anonymous = try op.send("POST", "/v1/endpoints", body: EndpointRegistration(endpoints: [Self.at(8080, "127.0.0.1:1")]).bytes)
        #expect(anonymous.status == 401, "\(anonymous.text)")
        // meshctl shows them.
        let listed = try cp.meshctl(["endpoints", "--service", "shop/frontend"])
        #expect(listed.status == 0 && listed.stdout.contains("127.0.0.1:15998") && !listed.stdout.contains("15999"), "\(listed)")
    }

    @Test func slicesCarryLiveEndpointsAndAParkedPollWakesWhenTheyChange() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        try Self.apply(cp)
        let frontend = try ControlPlaneTelemetryTests.sidecar(cp, "shop/frontend")
        let replicas = try (0..<2).map { _ in try ControlPlaneTelemetryTests.sidecar(cp, "shop/payments") }
        let first = try frontend.pollSlice(after: -1)
        #expect(try Self.slicePaymentsEndpoints(first).isEmpty)
        let held = try Self.revisions(first)
        // Parked: nothing changed for us. A registration of payments (a destination of ours) wakes it.
        let started = Date()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.5) {
            _ = try? replicas[1].registerEndpoints([Self.at(8080, "127.0.0.1:16002")])
            _ = try? replicas[0].registerEndpoints([Self.at(8080, "127.0.0.1:16001")])
        }
        let woken = try frontend.pollSlice(after: held.version, epoch: held.epoch, revoked: held.revoked, wait: 10, endpoints: held.endpoints)
        let took = Date().timeIntervalSince(started)
        #expect(took >= 0.4 && took < 2, "answered after \(took) s")
        var endpoints = try Self.slicePaymentsEndpoints(woken)
        if endpoints.count < 2 {  // woken by the first of the two registrations
            let r = try Self.revisions(woken)
            endpoints = try Self.slicePaymentsEndpoints(frontend.pollSlice(after: r.version, epoch: r.epoch, revoked: r.revoked, wait: 5, endpoints: r.endpoints))
        }
        #expect(endpoints == ["127.0.0.1:16001", "127.0.0.1:16002"])
        // A change of a service we do not call does not wake us; a deregistration of one we call does.
        let now = try Self.revisions(try frontend.pollSlice(after: -1))
        let ledger = try ControlPlaneTelemetryTests.sidecar(cp, "shop/ledger")
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) {
            _ = try? ledger.registerEndpoints([Self.at(8080, "127.0.0.1:16003")])
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + 1.5) {
            _ = try? replicas[0].deregisterEndpoints([Self.at(8080, "127.0.0.1:16001")])
        }
        let t0 = Date()
        let after = try frontend.pollSlice(after: now.version, epoch: now.epoch, revoked: now.revoked, wait: 10, endpoints: now.endpoints)
        let waited = Date().timeIntervalSince(t0)
        #expect(waited >= 1.3 && waited < 3, "answered after \(waited) s (the ledger change must not wake it)")
        #expect(try Self.slicePaymentsEndpoints(after) == ["127.0.0.1:16002"])
    }
}
