import MeshCore
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

/// Builds sidecar config documents for tests from small, valid parts.
enum ConfigDoc {
    static let identity = #""identity": {"trustDomain": "mesh.local", "certificate": "certs/a.crt", "key": "certs/a.key", "trustBundle": "certs/ca.crt"}"#

    static func inbound(name: String = "http", listen: String = "0.0.0.0:15443", forwardTo: String = "127.0.0.1:8080",
                        allow: String = #"["spiffe://mesh.local/ns/shop/sa/frontend"]"#) -> String {
        #"{"name": "\#(name)", "listen": "\#(listen)", "forwardTo": "\#(forwardTo)", "allow": \#(allow)}"#
    }

    static func outbound(name: String = "payments", listen: String = "127.0.0.1:10001",
                         upstream: String = "127.0.0.1:15444",
                         expect: String = "spiffe://mesh.local/ns/shop/sa/payments") -> String {
        #"{"name": "\#(name)", "listen": "\#(listen)", "upstream": "\#(upstream)", "expectIdentity": "\#(expect)"}"#
    }

    /// `{identity, "inbound": [one default listener], extra…}`.
    static func withInbound(_ extra: String...) -> String {
        object([identity, #""inbound": [\#(inbound())]"#] + extra)
    }

    static func object(_ members: [String]) -> String { "{" + members.joined(separator: ", ") + "}" }
}
