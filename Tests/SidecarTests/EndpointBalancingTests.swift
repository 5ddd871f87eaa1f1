import Foundation
import MeshTestSupport
import Glibc
import Testing
import MeshAPI
import MeshControlClient
import MeshCore

/// Three payments replicas reached as one service through the endpoints the control plane hands out: load
/// spread, a killed replica's dials retried elsewhere (the app sees no error), a clean shutdown deregisters.
@Suite("Endpoint balancing", .serialized)
struct EndpointBalancingTests {
    @Test func threeReplicasShareTheLoadAndAKilledOneCostsTheAppNothing() throws {
        let mesh = try EndpointReplicaMesh()
        defer { mesh.stop() }
        #expect(mesh.waitServing(["r0", "r1", "r2"]), "the caller never reached all three replicas")
        var counts: [String: Int] = [:]
        var failed = 0
        for _ in 0..<300 {
            if let r = mesh.call() { counts[r, default: 0] += 1 } else { failed += 1 }
        }
        #expect(failed == 0)
        print("endpoint-spread: 300 connections over three replicas: \(counts.sorted { $0.key < $1.key })")
        for r in ["r0", "r1", "r2"] { #expect(abs((counts[r] ?? 0) - 100) <= 20, "\(counts)") }
        let stats = mesh.caller.adminJSON("/stats")?["endpoints"] as? [[String: Any]] ?? []
        #expect(stats.count == 3 && stats.allSatisfy { ($0["failures"] as? Int) == 0 }, "\(stats)")

        // Kill replica 2 without warning (no deregistration): its endpoint stays in the slice until it expires.
        let victim = mesh.replicas[2]
        kill(victim.pid, SIGKILL)
        victim.process.waitForExit()
        let killedAt = Date()
        var failover: Double?
        var afterKill: [String: Int] = [:]
        var failedAfterKill = 0
        var latencies: [Double] = []
        var retriedCallLatency = 0.0
        for _ in 0..<60 {
            let started = Date()
            let r = mesh.call()
            let latency = Date().timeIntervalSince(started)
            if let r { afterKill[r, default: 0] += 1 } else { failedAfterKill += 1 }
            if failover == nil, r != nil, mesh.endpointMetric("retries_total", replica: 2) > 0 {
                failover = Date().timeIntervalSince(killedAt)
                retriedCallLatency = latency
            } else {
                latencies.append(latency)
            }
        }
        // Every call succeeded: the dial to the dead one was retried on another replica before the app saw anything.
        #expect(failedAfterKill == 0, "\(afterKill)")
        #expect(afterKill["r2"] == nil)
        #expect(mesh.endpointMetric("retries_total", replica: 2) >= 1)
        #expect(mesh.endpointMetric("ejections_total", replica: 2) >= 1)
        #expect(mesh.endpointMetric("failures_total", replica: 0) == 0 && mesh.endpointMetric("failures_total", replica: 1) == 0)
        let f = try #require(failover, "no call was routed to the dead replica")
        let median = latencies.sorted()[latencies.count / 2]
        print("endpoint-failover: first call routed to the killed replica answered by another \(Int(f * 1000)) ms after the kill;"
              + " that call took \(Int(retriedCallLatency * 1_000_000)) µs, the median call \(Int(median * 1_000_000)) µs")
        #expect(f < 2)
    }

    @Test func aCleanShutdownDeregistersAndCallersStopDialingIt() throws {
        let mesh = try EndpointReplicaMesh()
        defer { mesh.stop() }
        #expect(mesh.waitServing(["r0", "r1", "r2"]), "the caller never reached all three replicas")
        let op = try ControlPlaneTelemetryTests.operatorClient(mesh.cp)
        #expect(try op.endpoints(service: "shop/payments").endpoints.count == 3)
        let leaving = mesh.replicas[1]
        let t0 = Date()
        leaving.stop()  // SIGTERM
        var gone: Double?
        while Date().timeIntervalSince(t0) < 3 {
            if try op.endpoints(service: "shop/payments").endpoints.map(\.address).allSatisfy({ !$0.hasSuffix(":\(mesh.replicaPorts[1])") }) {
                gone = Date().timeIntervalSince(t0)
                break
            }
            usleep(20_000)
        }
        let took = try #require(gone, "still registered 3 s after SIGTERM")
        print("endpoint-deregistration: gone from the control plane's registry \(Int(took * 1000)) ms after SIGTERM")
        #expect(took < 2)
        #expect(leaving.logEvents().contains { $0["event"] as? String == "endpoints-deregistered" })
        // The caller's slice lost it too: no dial goes there any more (no failure, no retry to absorb one).
        usleep(300_000)
        let before = mesh.endpointMetric("connections_total", replica: 1)
        var answered: [String: Int] = [:]
        for _ in 0..<40 { answered[mesh.call() ?? "failed", default: 0] += 1 }
        #expect(answered["failed"] == nil && answered["r1"] == nil, "\(answered)")
        #expect(mesh.endpointMetric("connections_total", replica: 1) == before)
        #expect(mesh.endpointMetric("retries_total", replica: 1) == 0)
    }
}

/// No endpoint registered, no static upstream, no mesh address: refused with its own reason, counted.
@Suite("Endpoint balancing: nothing to dial")
struct EndpointNoEndpointTests {
    @Test func anOutboundListenerWithNoEndpointRefusesWithNoEndpoint() throws {
        let mesh = try EndpointReplicaMesh(replicas: 0)
        defer { mesh.stop() }
        #expect(mesh.call() == nil)
        let metrics = mesh.caller.admin("GET", "/metrics").body
        #expect(metrics.contains(#"mesh_connection_failures_total{direction="outbound",reason="no-endpoint"} 1"#), "\(metrics.split(separator: "\n").filter { $0.contains("failures") })")
    }
}
