import MeshControlClient
import Testing

/// Which replica a client dials next: sticky while it works, the configured order again only after a failure.
@Suite struct FailoverOrderTests {
    @Test func startsWithTheListInOrder() {
        let f = FailoverOrder(count: 3)
        #expect(f.order() == [0, 1, 2])
        #expect(f.active == 0 && f.failovers == 0)
    }

    @Test func sticksWithTheReplicaThatWorks() {
        var f = FailoverOrder(count: 3)
        f.failed()
        f.connected(1)  // 0 failed: on 1 now
        #expect(f.failovers == 1)
        // A reconnect without a failure (aged, closed by the server, renewed) dials 1 first: no flapping to 0.
        #expect(f.order() == [1, 0, 2])
        f.connected(1)
        #expect(f.failovers == 1 && f.active == 1)
    }

    @Test func afterAFailureTheFirstIsPreferredAgainAndTheFailedOneIsLast() {
        var f = FailoverOrder(count: 3)
        f.connected(2)
        f.failed()
        #expect(f.order() == [0, 1, 2])
        f.connected(1)
        f.failed()
        #expect(f.order() == [0, 2, 1])
        f.connected(0)
        #expect(f.failovers == 3 && f.active == 0 && !f.failedSinceConnect)
        f.failed()
        #expect(f.order() == [1, 2, 0])
    }

    @Test func oneAddressIsAlwaysItself() {
        var f = FailoverOrder(count: 1)
        f.failed()
        #expect(f.order() == [0])
        f.connected(0)
        #expect(f.failovers == 0)
    }
}
