import MeshCore
import MeshPolicy
import Testing

/// Runs `body` and expects it to throw a `MeshError` with `code` (and, when given, a reason starting with
/// `reasonPrefix`). Returns the error for further checks.
@discardableResult
func expectMeshError(_ code: String, reasonPrefix: String? = nil,
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

/// The facts of one connection, spelled like the argument lists the decision functions took before facts.
func facts(_ peer: SPIFFEID, to destination: ServiceKey, port: Int, now: Double) -> ConnectionFacts {
    ConnectionFacts(peer: peer, destination: destination, port: port, now: now)
}
