import Synchronization
import MeshAPI
import MeshCore
import MeshPolicy
import MeshTLS

/// Signs the slices the control plane hands out, with the key of its own workload identity
/// (`spiffe://<td>/ns/mesh-system/sa/mesh-control`): the serving certificate's key, swapped in whenever that
/// certificate is renewed. The answer carries the certificate chain, so a sidecar checks the signer against its
/// own trust bundle and the control plane's configured identity, now and again when it reads its
/// last-known-good file at start.
///
/// Identical documents are signed once (`SliceAnswerCache`): an apply that wakes N parked polls of one service
/// costs one signature, not N. A new key starts an empty cache.
public final class SliceSigner: Sendable {
    private struct Signing: Sendable {
        let key: PrivateKey
        let chainPEM: String
        /// Which `use` this is: an answer signed with an earlier key is not stored after a renewal.
        let serial: Int
    }

    /// The key in force and the answers it signed, swapped together. (The cache is never copied out of the
    /// lock, so storing an answer does not copy it.)
    private let current = Mutex<(signing: Signing?, cache: SliceAnswerCache)>((nil, SliceAnswerCache()))
    private let made = Atomic<Int>(0)
    private let keys = Atomic<Int>(0)

    public init() {}

    /// ECDSA signatures made so far (what the answer cache saves shows here).
    public var signatures: Int { made.load(ordering: .relaxed) }

    /// Signed answers held for reuse.
    var cachedAnswers: Int { current.withLock { $0.cache.count } }

    /// From now on, sign with `key`, certified by `chain` (leaf first); answers signed before are dropped.
    public func use(key: PrivateKey, chain: [Certificate]) {
        let pem = chain.map { String(decoding: $0.pem(), as: UTF8.self) }.joined()
        let serial = keys.add(1, ordering: .relaxed).newValue
        current.withLock { $0 = (Signing(key: key, chainPEM: pem, serial: serial), SliceAnswerCache()) }
    }

    /// The signed answer (`SignedSlice.answerText`) for `slice` of the store `epoch`: the one signed before
    /// for the same service, version, deny-list revision and key, else a new one (signed outside the lock).
    public func signedAnswer(_ slice: ServiceSlice, epoch: String) throws -> String {
        String(decoding: try signedAnswerBytes(slice, epoch: epoch), as: UTF8.self)
    }

    /// The same answer as its UTF-8 bytes, shared by every caller of the generation (no copy per poll).
    func signedAnswerBytes(_ slice: ServiceSlice, epoch: String) throws -> [UInt8] {
        let generation = SliceAnswerCache.Generation(epoch: epoch, version: slice.version, revision: slice.revoked.revision,
                                                     endpoints: slice.endpointsRevision)
        let (signing, cached) = current.withLock { s in (s.signing, s.cache.answer(for: slice.service, in: generation)) }
        if let cached { return cached }
        guard let signing else { throw Self.noSigner }
        let document = SliceDocument(epoch: epoch, slice: try SliceAnswer(json: slice.json()))
        let answer = Array(try sign(document, with: signing).answerText.utf8)
        current.withLock { s in
            guard s.signing?.serial == signing.serial else { return }
            s.cache.store(answer, for: slice.service, in: generation)
        }
        return answer
    }

    /// ECDSA P-256/SHA-256 over the exact bytes of `document.text`.
    public func sign(_ document: SliceDocument) throws -> SignedSlice {
        guard let signing = current.withLock({ $0.signing }) else { throw Self.noSigner }
        return try sign(document, with: signing)
    }

    private func sign(_ document: SliceDocument, with signing: Signing) throws -> SignedSlice {
        let text = document.text
        made.add(1, ordering: .relaxed)
        return SignedSlice(document: text, signature: try signing.key.sign(Array(text.utf8)), chain: signing.chainPEM)
    }

    private static var noSigner: MeshError {
        MeshError(.policyNoSigner, "the control plane has no signing identity yet; retry shortly")
    }
}
