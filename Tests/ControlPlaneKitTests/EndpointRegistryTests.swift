@testable import ControlPlaneKit
import MeshCore
import MeshNet
import Testing

/// The registry on its own: replace-by-sidecar, removal, expiry, bounds, per-service change revisions, and the
/// address check against the connection's source.
@Suite("Endpoint registry")
struct EndpointRegistryTests {
    static let payments = ServiceKey(namespace: "shop", name: "payments")
    static let ledger = ServiceKey(namespace: "shop", name: "ledger")
    static func hp(_ text: String) -> HostPort { try! HostPort(parsing: text) }

    @Test func aRegistrationReplacesWhatTheSameSidecarRegisteredBefore() throws {
        let r = EndpointRegistry()
        try r.register(service: Self.payments, identity: "p", serial: "a", endpoints: [(8080, Self.hp("10.0.0.2:15443"))], now: 0)
        try r.register(service: Self.payments, identity: "p", serial: "b", endpoints: [(8080, Self.hp("10.0.0.1:15443"))], now: 0)
        try r.register(service: Self.payments, identity: "p", serial: "a", endpoints: [(8080, Self.hp("10.0.0.3:15443"))], now: 1)
        #expect(r.endpoints(of: Self.payments).map(\.address.description) == ["10.0.0.1:15443", "10.0.0.3:15443"])
        #expect(r.endpoints(of: Self.ledger).isEmpty)
    }

    @Test func changesMoveTheRevisionOnlyOfTheServiceThatChanged() throws {
        let r = EndpointRegistry(startRevision: 100)
        #expect(try r.register(service: Self.payments, identity: "p", serial: "a", endpoints: [(8080, Self.hp("10.0.0.1:1"))], now: 0))
        let after = r.revision
        #expect(after == 101)
        #expect(r.changed(after: 100, among: [Self.payments]))
        #expect(!r.changed(after: 100, among: [Self.ledger]))
        // The same registration again (a heartbeat) changes nothing.
        #expect(try !r.register(service: Self.payments, identity: "p", serial: "a", endpoints: [(8080, Self.hp("10.0.0.1:1"))], now: 5))
        #expect(r.revision == after)
        // A revision newer than ours comes from another life of the control plane: answered at once.
        #expect(r.changed(after: 10_000, among: [Self.ledger]))
    }

    @Test func deregistrationAndExpiryRemoveEndpoints() throws {
        var limits = EndpointRegistry.Limits()
        limits.ttlSeconds = 90
        let r = EndpointRegistry(limits: limits)
        try r.register(service: Self.payments, identity: "p", serial: "a", endpoints: [(8080, Self.hp("10.0.0.1:1"))], now: 0)
        try r.register(service: Self.payments, identity: "p", serial: "b", endpoints: [(8080, Self.hp("10.0.0.2:1"))], now: 0)
        #expect(r.deregister(service: Self.payments, serial: "a", endpoints: [(8080, Self.hp("10.0.0.1:1"))]))
        #expect(r.endpoints(of: Self.payments).map(\.address.description) == ["10.0.0.2:1"])
        r.touch(serial: "b", now: 80)  // a poll keeps it alive
        #expect(r.expire(now: 150).isEmpty)
        #expect(r.expire(now: 171) == [Self.payments])
        #expect(r.endpoints(of: Self.payments).isEmpty)
        #expect(r.list().isEmpty)
    }

    @Test func boundsPerServiceAndInAll() throws {
        var limits = EndpointRegistry.Limits()
        limits.maxPerService = 2
        limits.maxTotal = 3
        let r = EndpointRegistry(limits: limits)
        try r.register(service: Self.payments, identity: "p", serial: "a", endpoints: [(1, Self.hp("10.0.0.1:1")), (2, Self.hp("10.0.0.1:2"))], now: 0)
        #expect(throws: MeshError.self) {
            try r.register(service: Self.payments, identity: "p", serial: "b", endpoints: [(1, Self.hp("10.0.0.2:1"))], now: 0)
        }
        try r.register(service: Self.ledger, identity: "l", serial: "c", endpoints: [(1, Self.hp("10.0.0.3:1"))], now: 0)
        let e = #expect(throws: MeshError.self) {
            try r.register(service: Self.ledger, identity: "l", serial: "d", endpoints: [(1, Self.hp("10.0.0.4:1"))], now: 0)
        }
        #expect(e?.code == "endpoint.limit")
    }

    static func peer(_ text: String) -> SocketAddress { try! SocketAddress(HostPort(parsing: text)) }

    @Test func theReportedAddressMustBeTheSourcesUnlessBothAreLoopback() throws {
        let check = EndpointAddressCheck.resolve
        #expect(try check(Self.hp("0.0.0.0:15443"), Self.peer("10.1.2.3:40000")).description == "10.1.2.3:15443")
        #expect(try check(Self.hp("[::]:15443"), Self.peer("[fd00::5]:40000")).description == "[fd00::5]:15443")
        #expect(try check(Self.hp("10.1.2.3:15443"), Self.peer("10.1.2.3:40000")).description == "10.1.2.3:15443")
        #expect(try check(Self.hp("127.0.0.1:15443"), Self.peer("127.0.0.1:40000")).description == "127.0.0.1:15443")
        #expect(try check(Self.hp("127.0.0.2:15443"), Self.peer("127.0.0.1:40000")).description == "127.0.0.2:15443")
        for (claimed, source) in [("10.9.9.9:15443", "10.1.2.3:40000"), ("127.0.0.1:15443", "10.1.2.3:40000"),
                                  ("10.1.2.3:15443", "127.0.0.1:40000")] {
            let e = #expect(throws: MeshError.self) { try check(Self.hp(claimed), Self.peer(source)) }
            #expect(e?.code == "endpoint.address-mismatch", "\(claimed) from \(source)")
        }
    }
}
