import MeshCore
import Testing

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
