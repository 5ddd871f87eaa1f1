import Synchronization
import MeshAPI
import MeshCore
import MeshTLS

/// Signs the slices the control plane hands out, with the key of its own workload identity
/// (`spiffe://<td>/ns/mesh-system/sa/mesh-control`): the serving certificate's key, swapped in whenever that
/// certificate is renewed. The answer carries the certificate chain, so a sidecar checks the signer against its
/// own trust bundle and the control plane's configured identity, now and again when it reads its
/// last-known-good file at start.
public final class SliceSigner: Sendable {
    private let current = Mutex<(key: PrivateKey, chain: [Certificate])?>(nil)

    public init() {}

    /// From now on, sign with `key`, certified by `chain` (leaf first).
    public func use(key: PrivateKey, chain: [Certificate]) {
        current.withLock { $0 = (key, chain) }
    }

    /// ECDSA P-256/SHA-256 over the exact bytes of `document.text`.
    public func sign(_ document: SliceDocument) throws -> SignedSlice {
        guard let (key, chain) = current.withLock({ $0 }) else {
            throw MeshError(.policyNoSigner, "the control plane has no signing identity yet; retry shortly")
        }
        let text = document.text
        let pem = chain.map { String(decoding: $0.pem(), as: UTF8.self) }.joined()
        return SignedSlice(document: text, signature: try key.sign(Array(text.utf8)), chain: pem)
    }
}
