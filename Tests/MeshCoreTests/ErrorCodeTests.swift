import MeshCore
import Testing

/// Error codes are declared once, with a kind; the kind alone decides the HTTP status and the exit code.
@Suite struct ErrorCodeTests {
    @Test func everyDeclaredCodeIsDomainDotProblemAndUnique() {
        #expect(ErrorCode.declared.count > 150)
        for (text, code) in ErrorCode.declared {
            #expect(text == code.id)
            let ok = text == "usage" || text == "internal"
                || text.wholeMatch(of: /[a-z]+\.[a-z0-9]+(-[a-z0-9]+)*/) != nil
            #expect(ok, "\(text) is not domain.problem")
        }
    }

    @Test(arguments: [
        (ErrorKind.badRequest, 400, Int32(64)), (.invalid, 422, 64), (.unauthenticated, 401, 77), (.forbidden, 403, 77),
        (.notFound, 404, 66), (.conflict, 409, 75), (.preconditionRequired, 428, 64), (.rateLimited, 429, 75),
        (.unreadable, 500, 66), (.unavailable, 503, 69), (.storage, 500, 74), (.internal, 500, 70),
    ])
    func kindsMapToOneStatusAndOneExitCode(kind: ErrorKind, status: Int, exit: Int32) {
        #expect(kind.httpStatus == status)
        #expect(kind.exitCode == exit)
    }

    @Test func anErrorCarriesItsCodesTextAndKind() {
        let e = MeshError(.policyConflict, "the mesh is at version 3")
        #expect(e.code == "policy.conflict" && e.kind == .conflict)
        #expect(e.description == "policy.conflict: the mesh is at version 3")
        #expect(ErrorCode.known("policy.conflict") == .policyConflict)
    }
}
