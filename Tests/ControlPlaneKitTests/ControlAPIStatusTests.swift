@testable import ControlPlaneKit
import MeshCore
import MeshHTTP
import Testing

/// Errors become HTTP statuses by their kind: the caller's mistakes are 4xx with our code, our failures 500.
@Suite struct ControlAPIStatusTests {
    /// Every status the API answered before errors had kinds, plus the codes whose status the handlers used to
    /// set by hand.
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
        ("issue.certificate-expired", 401),
        ("issue.certificate-not-yet-valid", 400),
        ("issue.bad-request", 400),
        ("token.bad-request", 400),
        ("token.bad-service", 400),
        ("token.bad-ttl", 400),
        ("auth.required", 401),
        ("auth.sidecar-required", 401),
        ("policy.conflict", 409),
        ("policy.if-match-required", 428),
        ("policy.bad-if-match", 400),
        ("policy.none", 404),
        ("policy.unknown-service", 422),
        ("policy.no-files", 422),
        ("check.bad-query", 400),
        ("spiffe.bad-scheme", 422),
        ("internal", 500),
    ])
    func answersWithTheStatusOfTheCodesKind(_ code: String, _ status: Int) throws {
        let declared = try #require(ErrorCode.declared[code], "\(code) is declared")
        #expect(ControlAPI.guarded { throw MeshError(declared, "r") }.status == status)
    }

    /// The control plane's own codes (ErrorCodes+ControlPlane.swift) keep the statuses their handlers answered.
    @Test(arguments: [
        (ErrorCode.policyNothingApplied, 409),  // PUT of a section before any mesh
        (ErrorCode.policyServiceNotInMesh, 404),  // a slice for a service the mesh lacks
        (ErrorCode.caConflict, 409),
    ])
    func controlPlaneCodesKeepTheirStatuses(_ code: ErrorCode, _ status: Int) {
        #expect(ControlAPI.guarded { throw MeshError(code, "r") }.status == status)
    }

    /// An internal-kind code is a failure of ours.
    @Test(arguments: ["something.unknown", ""])
    func anInternalCodeIsA500(_ code: String) {
        #expect(ControlAPI.guarded { throw MeshError(ErrorCode(code, .internal), "r") }.status == 500)
    }

    @Test func anErrorOfOursIsA500AndAnyOtherThrowToo() {
        struct Oops: Error {}
        #expect(ControlAPI.guarded { throw MeshError(.storeIo, "disk full") }.status == 500)
        #expect(ControlAPI.guarded { throw Oops() }.status == 500)
        #expect(ControlAPI.guarded { throw MeshError(.tokenUsed, "again") }.status == 403)
    }

    @Test func theAnswerCarriesTheCodeAndReason() {
        let r = ControlAPI.guarded { throw MeshError(.policyConflict, "the mesh is at version 3") }
        let text = String(decoding: r.body, as: UTF8.self)
        #expect(r.status == 409 && text.contains("policy.conflict") && text.contains("the mesh is at version 3"))
    }
}
