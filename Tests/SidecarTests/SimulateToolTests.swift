import Foundation
import Glibc
import MeshTestSupport
import MeshCore
import Testing

/// `mesh-dev simulate` against a control plane it spawns itself: real processes, real mTLS, certificates
/// issued through the API. The counts are exact because the run is scripted: each sidecar gets its first slice,
/// parks a poll, is woken by the one policy change half-way, sends one report and (for the one replica per
/// service holding the latest certificate) one renewal, and parks again until the end.
@Suite("mesh-dev simulate", .serialized)
struct SimulateToolTests {
    func run(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try ChildProcess.run("\(SidecarProcess.binDir)/mesh-dev", ["simulate"] + args)
    }

    @Test("20 sidecars: all connect, every poll is answered, propagation is measured for all, reports and renewals counted")
    func smallRun() throws {
        let started = Date()
        let r = try run(["--sidecars", "20", "--services", "4", "--duration", "3s", "--interval", "500ms", "--renew-every", "1s",
                         "--spawn", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try StrictJSON.parse(Array(r.stdout.utf8))
        #expect(j["sidecars"]?.intValue == 20)
        #expect(j["connected"]?.intValue == 20)
        #expect(j["reconnects"]?.intValue == 0)
        // 5 replicas of each of 4 services; 5 ≤ 25 certificates per service, so one certificate each.
        #expect(j["certificates"]?.intValue == 20)
        // First slice at once + the propagation phase's version: two answered polls each, and a third parked.
        #expect(j["polls"]?["answered"]?.intValue == 40)
        #expect(j["polls"]?["unchanged"]?.intValue == 0)
        #expect(j["polls"]?["sent"]?.intValue == 60)
        #expect(j["propagation"]?["sidecars"]?.intValue == 20)
        let p99 = Double(j["propagation"]?["p99Ms"].flatMap { if case .number(let n) = $0 { n } else { nil } } ?? "") ?? -1
        #expect(p99 > 0 && p99 < 2000, "p99 \(p99) ms")
        // One report each after the wake-up: 404 until the telemetry route exists, accepted after.
        let reports = j["reports"]
        #expect(reports?["sent"]?.intValue == 20)
        #expect((reports?["routeMissing"]?.intValue ?? 0) + (reports?["accepted"]?.intValue ?? 0) == 20)
        #expect(reports?["refused"]?.intValue == 0)
        #expect(reports?["duplicate"]?.intValue == 0)
        // Only the replica holding each service's latest certificate renews: 4, and clone detection never trips.
        #expect(j["renewals"]?["ok"]?.intValue == 4)
        #expect(j["renewals"]?["refused"]?.intValue == 0)
        #expect(j["errors"] == .object([]))
        #expect(j["applyError"] == .null)
        #expect((j["controlPlane"]?["rssKiBEnd"]?.intValue ?? 0) > 1024)
        #expect(j["controlPlane"]?["cpuSeconds"] != nil)
        #expect(Date().timeIntervalSince(started) < 20)
    }

    @Test("many replicas per service share certificates so neither the issuance rate limit nor clone detection trips")
    func sharedCertificates() throws {
        // 40 sidecars of one service with at most 3 certificates: replicas 0…39 present certificate r % 3.
        let r = try run(["--sidecars", "40", "--services", "1", "--certs-per-service", "3", "--duration", "2s",
                         "--interval", "300ms", "--renew-every", "500ms", "--spawn", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try StrictJSON.parse(Array(r.stdout.utf8))
        #expect(j["certificates"]?.intValue == 3)
        #expect(j["connected"]?.intValue == 40)
        #expect(j["propagation"]?["sidecars"]?.intValue == 40)
        #expect(j["renewals"]?["ok"]?.intValue == 1)
        #expect(j["renewals"]?["refused"]?.intValue == 0)
        #expect(j["errors"] == .object([]))
    }

    @Test("renewal storm: every sidecar with its own identity drops its connection, re-dials at once and renews")
    func renewalStorm() throws {
        let r = try run(["--sidecars", "30", "--services", "30", "--duration", "2500ms", "--storm-at", "1s", "--spawn", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try StrictJSON.parse(Array(r.stdout.utf8))
        #expect(j["certificates"]?.intValue == 30)
        #expect(j["storm"]?["renewed"]?.intValue == 30)
        #expect(j["renewals"]?["ok"]?.intValue == 30)
        #expect(j["renewals"]?["refused"]?.intValue == 0)
        // The storm's reconnections are deliberate, not failures: nothing counted as an error.
        #expect(j["errors"] == .object([]))
        #expect(j["propagation"]?["sidecars"]?.intValue == 30)
    }

    @Test("reconnect storm: every sidecar re-dials at once without renewing, resuming its TLS session")
    func reconnectStorm() throws {
        let r = try run(["--sidecars", "30", "--services", "3", "--certs-per-service", "2", "--duration", "2500ms",
                         "--storm-at", "1500ms", "--propagate-at", "500ms", "--storm-reconnect", "--spawn", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try StrictJSON.parse(Array(r.stdout.utf8))
        #expect(j["storm"]?["reconnected"]?.intValue == 30)
        // Every sidecar had a session from its first connection (its first slice carried the ticket).
        #expect(j["storm"]?["resumed"]?.intValue == 30)
        #expect(j["renewals"]?["ok"]?.intValue == 0)
        #expect(j["errors"] == .object([]))
    }

    @Test("usage errors exit 64")
    func usage() throws {
        #expect(try run(["--spawn"]).status == 64)
        #expect(try run(["--sidecars", "10"]).status == 64)
        #expect(try run(["--sidecars", "10", "--spawn", "--interval", "soon"]).status == 64)
    }
}
