import Foundation
import Glibc
import MeshTLS
import MeshTestSupport
import Testing

/// What an attacker (or a stale sidecar) sends or writes in place of a control plane's slice, for
/// `SliceSignatureTests`: raw polls with a workload certificate, and last-known-good files signed by others.
enum SliceForgery {
    /// One `GET /v1/slice?<query>` with payments' own certificate (curl; the server is not verified: the test
    /// is about what the control plane answers). Returns the HTTP status ("000" on timeout) and the body.
    static func poll(_ mesh: ManagedMesh, query: String, maxTime: Int) throws -> (status: String, body: String) {
        let dir = "\(mesh.cp.dir)/payments"
        let text = try ChildProcess.run("/usr/bin/curl", ["-sk", "--max-time", "\(maxTime)", "--cert", "\(dir)/svid.crt", "--key", "\(dir)/svid.key",
                                                         "-w", "\n%{http_code}", "https://127.0.0.1:\(mesh.cp.port)/v1/slice?\(query)"]).stdout
        guard let cut = text.lastIndex(of: "\n") else { return (text, "") }
        return (String(text[text.index(after: cut)...]), String(text[..<cut]))
    }

    /// The epoch in a poll answer's signed document, if it has one.
    static func epoch(in body: String) -> String? {
        guard let answer = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let document = answer["document"] as? String,
              let doc = try? JSONSerialization.jsonObject(with: Data(document.utf8)) as? [String: Any] else { return nil }
        return doc["epoch"] as? String
    }

    /// A key and the chain that goes with it in the file (not necessarily the key's own certificate).
    struct Signer {
        let name: String
        let key: PrivateKey
        let chainPEM: String
    }

    /// Keys that are not the control plane's, each with the reason the sidecar must give: a certificate for the
    /// control plane's name from another CA, the sidecar's own valid certificate and key, and the real control
    /// plane's chain (taken from the genuine file `original`) with a signature by another key.
    static func signers(_ mesh: ManagedMesh, original: String) throws -> [(Signer, String)] {
        let foreign = try TestCA().mint("spiffe://mesh.local/ns/mesh-system/sa/mesh-control")
        let dir = "\(mesh.cp.dir)/payments"
        let ownKey = try PrivateKey(pem: Array(try String(contentsOfFile: "\(dir)/svid.key", encoding: .utf8).utf8))
        let ownChain = try String(contentsOfFile: "\(dir)/svid.crt", encoding: .utf8)
        let genuine = try JSONSerialization.jsonObject(with: Data(original.utf8)) as? [String: Any]
        let controlPlaneChain = try #require(genuine?["chain"] as? String)
        return [
            (Signer(name: "another CA", key: foreign.key,
                    chainPEM: foreign.chain.map { String(decoding: $0.pem(), as: UTF8.self) }.joined()), "untrusted-signer"),
            (Signer(name: "the sidecar's own key", key: ownKey, chainPEM: ownChain), "wrong-signer"),
            (Signer(name: "another key under the control plane's chain", key: ownKey, chainPEM: controlPlaneChain), "bad-signature"),
        ]
    }

    /// `slice` wrapped in a signed slice document (the wire and file format), signed by `signer`.
    static func signed(_ slice: String, by signer: Signer) throws -> String {
        let document = #"{"epoch":"00","slice":"# + slice + "}"
        let signature = try signer.key.sign(Array(document.utf8)).map { String(format: "%02x", $0) }.joined()
        let envelope: [String: Any] = ["document": document, "signature": signature, "chain": signer.chainPEM]
        return String(decoding: try JSONSerialization.data(withJSONObject: envelope), as: UTF8.self)
    }
}
