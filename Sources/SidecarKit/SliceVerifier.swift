import MeshAPI
import MeshCore
import MeshPolicy
import MeshTLS

/// Why a signed slice was refused. Raw values are stable: logged and used as the `reason` metric label.
public enum SliceRejection: String, Sendable, CaseIterable {
    /// Not a signed slice at all (a plain slice document, or garbage).
    case unsigned
    /// The signer's chain does not verify against our trust bundle.
    case untrustedSigner = "untrusted-signer"
    /// A valid certificate of our mesh, but not the control plane's identity.
    case wrongSigner = "wrong-signer"
    /// The signature does not match the document (one byte changed, another key).
    case badSignature = "bad-signature"
    /// Correctly signed, but not a slice document we can read.
    case badDocument = "bad-document"
    /// Correctly signed slice of another workload.
    case notOurs = "not-ours"
}

/// A refusal: the stable reason and, for the log, what exactly failed.
public struct SliceRefusal: Error, Sendable {
    public let reason: SliceRejection
    public let detail: String
}

/// A slice whose signature checked out, with the epoch it was signed with and the signed form (to keep).
public struct VerifiedSlice: Sendable {
    public let epoch: String
    public let slice: ServiceSlice
    public let signed: SignedSlice
}

/// Checks a signed slice before anything of it is used: the chain to our trust bundle (purpose server, depth
/// ≤ 4), the signer's SPIFFE ID (the control plane's, from the bootstrap settings), the signature over the
/// exact document bytes, then the document and the slice, which must be ours. The same checks run on every
/// poll answer (validity at `now`) and on the last-known-good file at start (no time check: the file may
/// outlive the control plane's short-lived serving certificate; the trust bundle still bounds who signed it).
public enum SliceVerifier {
    public static func verify(_ signed: SignedSlice, trust: TLSIdentity, controlPlane: SPIFFEID,
                              at time: Double?) -> Result<VerifiedSlice, SliceRefusal> {
        func refuse(_ r: SliceRejection, _ detail: String) -> Result<VerifiedSlice, SliceRefusal> {
            .failure(SliceRefusal(reason: r, detail: detail))
        }
        guard let chain = try? Certificate.parseChain(pem: Array(signed.chain.utf8)) else {
            return refuse(.untrustedSigner, "the signer's chain is not PEM certificates (at most 4)")
        }
        let signer: SPIFFEID
        switch chain[0].verifyChain(intermediates: Array(chain.dropFirst()), bundle: trust.trustBundle, role: .server,
                                    trustDomain: trust.trustDomain, at: time) {
        case .failure(let why) where why.rawValue.hasPrefix("svid-"):
            return refuse(.wrongSigner, "the signer is not a valid X.509-SVID of \(trust.trustDomain): \(why.rawValue)")
        case .failure(let why):
            return refuse(.untrustedSigner, "the signer's chain does not verify against our trust bundle: \(why.rawValue)")
        case .success(let id):
            signer = id
        }
        guard signer == controlPlane else { return refuse(.wrongSigner, "signed by \(signer), not \(controlPlane)") }
        guard let signature = signed.signatureBytes, chain[0].verifies(signature, over: signed.documentBytes) else {
            return refuse(.badSignature, "the signature of \(signer) does not match the document")
        }
        let document: SliceDocument
        let slice: ServiceSlice
        do {
            document = try SliceDocument(bytes: signed.documentBytes)
            slice = try ServiceSlice(json: document.slice.json)
        } catch {
            return refuse(.badDocument, "\(error)")
        }
        guard slice.identity == trust.spiffeID else {
            return refuse(.notOurs, "the slice of \(slice.identity), not ours (\(trust.spiffeID))")
        }
        return .success(VerifiedSlice(epoch: document.epoch, slice: slice, signed: signed))
    }

    /// A last-known-good file's bytes: a signed slice (else `unsigned`), checked without a time.
    public static func verifyFile(_ bytes: [UInt8], trust: TLSIdentity, controlPlane: SPIFFEID) -> Result<VerifiedSlice, SliceRefusal> {
        guard let signed = try? SignedSlice(bytes: bytes, limits: SignedSlice.limits) else {
            return .failure(SliceRefusal(reason: .unsigned, detail: "the file is not a signed slice document"))
        }
        return verify(signed, trust: trust, controlPlane: controlPlane, at: nil)
    }
}
