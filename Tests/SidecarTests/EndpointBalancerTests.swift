import MeshCore
import MeshNet
@testable import SidecarKit
import Testing

/// The balancer on its own: choice, ejection with back-off, outliers, and the all-ejected fallback.
@Suite("Endpoint balancer")
struct EndpointBalancerTests {
    static func addresses(_ n: Int) -> [SocketAddress] {
        (0..<n).map { try! SocketAddress(HostPort(host: "127.0.0.1", port: UInt16(20_000 + $0))) }
    }

    static let s: Int64 = 1_000_000_000

    @Test func sequentialUsesSpreadEvenlyOverThreeEndpoints() {
        let b = EndpointBalancer(addresses: Self.addresses(3), seed: 42)
        var counts = [0, 0, 0]
        for _ in 0..<300 {
            let i = b.pick(nowNs: 0)!
            b.started(i)
            b.finished(i, outcome: .success, nowNs: 0)
            counts[i] += 1
        }
        // Fewer in flight, then fewer uses so far: the gap stays small (random choice alone: ±16 is one sigma).
        #expect(counts.allSatisfy { abs($0 - 100) <= 5 }, "\(counts)")
        #expect(counts.reduce(0, +) == 300)
    }

    @Test func prefersTheEndpointWithFewerInFlight() {
        let b = EndpointBalancer(addresses: Self.addresses(2), seed: 7)
        b.started(0)
        b.started(0)
        for _ in 0..<20 { #expect(b.pick(nowNs: 0) == 1) }
    }

    @Test func aConnectFailureEjectsForABackOffThatDoublesAndResetsOnSuccess() {
        let b = EndpointBalancer(addresses: Self.addresses(3), seed: 1)
        b.started(2)
        b.finished(2, outcome: .connectFailed, nowNs: 10 * Self.s)
        #expect(b.isEjected(2, nowNs: 10 * Self.s))
        for _ in 0..<50 { #expect(b.pick(nowNs: 10 * Self.s + Self.s / 2) != 2) }
        #expect(!b.isEjected(2, nowNs: 11 * Self.s))  // 1 s back-off over
        b.started(2)
        b.finished(2, outcome: .handshakeFailed, nowNs: 11 * Self.s)
        #expect(b.isEjected(2, nowNs: 12 * Self.s + Self.s / 2))  // now 2 s
        #expect(!b.isEjected(2, nowNs: 13 * Self.s))
        b.started(2)
        b.finished(2, outcome: .success, nowNs: 13 * Self.s)
        b.started(2)
        b.finished(2, outcome: .connectFailed, nowNs: 20 * Self.s)
        #expect(!b.isEjected(2, nowNs: 21 * Self.s))  // back to 1 s after the success
    }

    @Test func backOffStopsDoublingAtThirtySeconds() {
        let b = EndpointBalancer(addresses: Self.addresses(2), seed: 1)
        var now: Int64 = 0
        for _ in 0..<10 {
            b.started(0)
            b.finished(0, outcome: .connectFailed, nowNs: now)
            now += 31 * Self.s
        }
        b.started(0)
        b.finished(0, outcome: .connectFailed, nowNs: now)
        #expect(b.isEjected(0, nowNs: now + 29 * Self.s))
        #expect(!b.isEjected(0, nowNs: now + 30 * Self.s))
    }

    @Test func fiveFailedUsesInARowEjectAnOutlier() {
        let b = EndpointBalancer(addresses: Self.addresses(2), seed: 1)
        for k in 0..<EndpointBalancer.outlierFailures {
            #expect(!b.isEjected(1, nowNs: 0), "after \(k)")
            b.started(1)
            b.finished(1, outcome: .failed, nowNs: 0)
        }
        #expect(b.isEjected(1, nowNs: 0))
    }

    @Test func aRetryAvoidsTheEndpointThatJustFailed() {
        let b = EndpointBalancer(addresses: Self.addresses(2), seed: 3)
        for _ in 0..<20 { #expect(b.pick(nowNs: 0, avoiding: 0) == 1) }
    }

    @Test func withEveryEndpointEjectedTheLeastRecentlyEjectedIsTried() {
        let b = EndpointBalancer(addresses: Self.addresses(3), seed: 5)
        for (i, t) in [(1, 1), (0, 2), (2, 3)] {
            b.started(i)
            b.finished(i, outcome: .connectFailed, nowNs: Int64(t) * Self.s / 10)
        }
        #expect(b.pick(nowNs: Self.s / 2) == 1)
        #expect(b.pick(nowNs: Self.s / 2, avoiding: 1) == 0)
    }

    @Test func aNewEndpointListKeepsTheHealthOfEndpointsStillInIt() {
        let old = EndpointBalancer(addresses: Self.addresses(2), seed: 5)
        old.started(1)
        old.finished(1, outcome: .connectFailed, nowNs: 0)
        let next = EndpointBalancer(addresses: Array(Self.addresses(3).reversed()), seed: 5, carrying: old)
        // Address 1 is now at index 1 of [2, 1, 0]; still ejected there, the others are not.
        #expect(next.isEjected(1, nowNs: 0))
        #expect(!next.isEjected(0, nowNs: 0) && !next.isEjected(2, nowNs: 0))
    }

    @Test func noEndpointNoPick() {
        #expect(EndpointBalancer(addresses: [], seed: 1).pick(nowNs: 0) == nil)
    }
}
