/// MeshTestSupport: what every test target shares — the one `expectMeshError` and the one test CA. A regular
/// target (not a test target) so test targets can depend on it; only tests do. Public API of the product
/// targets only (no `@testable import`), so it builds in any configuration.
import MeshCore
import Testing

/// Runs `body` and expects it to throw a `MeshError` with `code` (and, when given, a reason starting with
/// `reasonPrefix`). Returns the error for further checks, or nil after recording the issue.
@discardableResult
public func expectMeshError(_ code: String, reasonPrefix: String? = nil,
                            sourceLocation: SourceLocation = #_sourceLocation,
                            _ body: () throws -> Void) -> MeshError? {
    do {
        try body()
        Issue.record("expected \(code), but nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as MeshError {
        #expect(error.code == code, "reason: \(error.reason)", sourceLocation: sourceLocation)
        if let reasonPrefix {
            #expect(error.reason.hasPrefix(reasonPrefix), "reason: \(error.reason)", sourceLocation: sourceLocation)
        }
        return error
    } catch {
        Issue.record("expected MeshError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
