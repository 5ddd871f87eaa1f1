@testable import ControlPlaneKit
import MeshCore
import MeshHTTP
import Testing

/// Error codes become HTTP statuses: the caller's mistakes are 4xx with our code, our failures 500.
@Suite struct ControlAPIStatusTests {
    @Test(arguments: [
        ("token.used", 403),
        ("token.expired", 403),
        ("token.unknown", 403),
        ("issue.unauthenticated", 401),
        ("issue.rate-limited", 429),
        ("ca.rotation-in-progress", 409),
        ("store.io", 500),
        ("store.missing", 500),
        ("audit.broken-chain", 500),
        ("ca.corrupt", 500),
        ("tls.bad-csr", 400),
        ("json.syntax", 400),
        ("token.foreign-trust-domain", 400),
        ("something.unknown", 400),
        ("", 400),
    ])
    func mapsCodesToStatuses(_ code: String, _ status: Int) {
        #expect(ControlAPI.status(for: code) == status)
    }

    @Test func anErrorOfOursIsA500AndAnyOtherThrowToo() {
        struct Oops: Error {}
        #expect(ControlAPI.guarded { throw MeshError("store.io", "disk full") }.status == 500)
        #expect(ControlAPI.guarded { throw Oops() }.status == 500)
        #expect(ControlAPI.guarded { throw MeshError("token.used", "again") }.status == 403)
    }
}
