import MeshAPI
import MeshCore
import MeshTLS
import MeshTestSupport
import SidecarKit
import Testing

/// What a sidecar checks on a signed slice (hardening #5), as a pure function of the signed bytes, its trust
/// material and the control plane's configured identity: each forgery is refused with its own reason.
@Suite struct SliceVerifierTests {
    static let controlPlaneID = try! SPIFFEID.workload("spiffe://mesh.local/ns/mesh-system/sa/mesh-control")
    static let slice = #"{"version":3,"service":"shop/payments","identity":"spiffe://mesh.local/ns/shop/sa/payments","rules":[],"inbound":[],"outbound":[]}"#

    struct World {
        let authority: TestCA
        let sidecar: TLSIdentity
        let controlPlane: Minted
    }

    static func world() throws -> World {
        let authority = try TestCA()
        return World(authority: authority, sidecar: try authority.identity("spiffe://mesh.local/ns/shop/sa/payments"),
                     controlPlane: try authority.mint(controlPlaneID.description))
    }

    static func signed(_ slice: String = slice, by m: Minted, epoch: String = "0a1b") throws -> SignedSlice {
        let document = SliceDocument(epoch: epoch, slice: try SliceAnswer(bytes: Array(slice.utf8))).text
        return SignedSlice(document: document, signature: try m.key.sign(Array(document.utf8)),
                           chain: m.chain.map { String(decoding: $0.pem(), as: UTF8.self) }.joined())
    }

    static func reason(_ r: Result<VerifiedSlice, SliceRefusal>) -> SliceRejection? {
        if case .failure(let f) = r { return f.reason }
        return nil
    }

    @Test func theControlPlanesSignatureIsAccepted() throws {
        let w = try Self.world()
        let result = SliceVerifier.verify(try Self.signed(by: w.controlPlane), trust: w.sidecar, controlPlane: Self.controlPlaneID,
                                          at: w.authority.now)
        guard case .success(let v) = result else { Issue.record("refused: \(result)"); return }
        #expect(v.slice.version == 3 && v.epoch == "0a1b")
        // The file form: the same bytes, read back.
        let again = SliceVerifier.verifyFile(Array(v.signed.answerText.utf8), trust: w.sidecar, controlPlane: Self.controlPlaneID)
        #expect(Self.reason(again) == nil)
    }

    @Test func aValidCertificateOfAnotherIdentityIsTheWrongSigner() throws {
        let w = try Self.world()
        let otherWorkload = try w.authority.mint("spiffe://mesh.local/ns/shop/sa/payments")
        let r = SliceVerifier.verify(try Self.signed(by: otherWorkload), trust: w.sidecar, controlPlane: Self.controlPlaneID,
                                     at: w.authority.now)
        #expect(Self.reason(r) == .wrongSigner)
    }

    @Test func anotherCAOrAnotherKeyOrAChangedByteIsRefused() throws {
        let w = try Self.world()
        let foreign = try TestCA().mint(Self.controlPlaneID.description)
        #expect(Self.reason(SliceVerifier.verify(try Self.signed(by: foreign), trust: w.sidecar, controlPlane: Self.controlPlaneID,
                                                 at: w.authority.now)) == .untrustedSigner)
        // The control plane's chain with another key's signature.
        let good = try Self.signed(by: w.controlPlane)
        let otherKey = try w.authority.mint(Self.controlPlaneID.description)
        var swapped = good
        swapped.signature = try Self.signed(by: otherKey).signature
        #expect(Self.reason(SliceVerifier.verify(swapped, trust: w.sidecar, controlPlane: Self.controlPlaneID,
                                                 at: w.authority.now)) == .badSignature)
        // One byte of the document changed (version 3 → 9).
        var tampered = good
        tampered.document = good.document.replacingOccurrences(of: "\"version\":3", with: "\"version\":9")
        #expect(tampered.document != good.document)
        #expect(Self.reason(SliceVerifier.verify(tampered, trust: w.sidecar, controlPlane: Self.controlPlaneID,
                                                 at: w.authority.now)) == .badSignature)
        // A signature that is not hex.
        var garbled = good
        garbled.signature = "zz"
        #expect(Self.reason(SliceVerifier.verify(garbled, trust: w.sidecar, controlPlane: Self.controlPlaneID,
                                                 at: w.authority.now)) == .badSignature)
    }

    @Test func aPlainSliceFileIsUnsignedAndAnotherWorkloadsSliceIsNotOurs() throws {
        let w = try Self.world()
        #expect(Self.reason(SliceVerifier.verifyFile(Array(Self.slice.utf8), trust: w.sidecar,
                                                     controlPlane: Self.controlPlaneID)) == .unsigned)
        let cart = #"{"version":3,"service":"shop/cart","identity":"spiffe://mesh.local/ns/shop/sa/cart","rules":[],"inbound":[],"outbound":[]}"#
        #expect(Self.reason(SliceVerifier.verify(try Self.signed(cart, by: w.controlPlane), trust: w.sidecar,
                                                 controlPlane: Self.controlPlaneID, at: w.authority.now)) == .notOurs)
        let notASlice = #"{"version":3,"service":"shop/payments"}"#
        #expect(Self.reason(SliceVerifier.verify(try Self.signed(notASlice, by: w.controlPlane), trust: w.sidecar,
                                                 controlPlane: Self.controlPlaneID, at: w.authority.now)) == .badDocument)
    }
}
