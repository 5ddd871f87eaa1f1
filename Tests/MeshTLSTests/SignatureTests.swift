import MeshTLS
import MeshCore
import Testing
import MeshTestSupport

/// ECDSA P-256 signatures over whole documents (hardening #5: signed slices), and chain verification outside a
/// handshake: what a sidecar checks on a signed slice before it reads a byte of it.
@Suite struct SignatureTests {
    static let controlPlane = "spiffe://mesh.local/ns/mesh-system/sa/mesh-control"
    let message = Array(#"{"epoch":"ab","slice":{"version":7}}"#.utf8)

    @Test func aSignatureVerifiesWithTheSignersCertificateOnly() throws {
        let authority = try TestCA()
        let signer = try authority.mint(Self.controlPlane)
        let other = try authority.mint(Self.controlPlane)
        let signature = try signer.key.sign(message)
        #expect(signer.chain[0].verifies(signature, over: message))
        #expect(!other.chain[0].verifies(signature, over: message), "another key's certificate accepted the signature")
        #expect(!signer.chain[0].verifies(try other.key.sign(message), over: message), "a signature by another key passed")
    }

    @Test func oneFlippedBitAnywhereFails() throws {
        let signer = try TestCA().mint(Self.controlPlane)
        let signature = try signer.key.sign(message)
        for i in message.indices {
            var changed = message
            changed[i] ^= 0x01
            #expect(!signer.chain[0].verifies(signature, over: changed), "byte \(i) of the message")
        }
        for i in signature.indices {
            var changed = signature
            changed[i] ^= 0x01
            #expect(!signer.chain[0].verifies(changed, over: message), "byte \(i) of the signature")
        }
        #expect(!signer.chain[0].verifies([], over: message))
        #expect(!signer.chain[0].verifies(signature, over: message + [0x20]))
        #expect(!signer.chain[0].verifies(signature, over: []))
    }

    @Test func theChainIsVerifiedAgainstTheBundleAndNamesTheSigner() throws {
        let authority = try TestCA()
        let signer = try authority.mintThrough(intermediates: 1, uri: Self.controlPlane)
        let bundle = [authority.certificate]
        let leaf = signer.chain[0], intermediates = Array(signer.chain.dropFirst())
        let id = try SPIFFEID.workload(Self.controlPlane)
        #expect(leaf.verifyChain(intermediates: intermediates, bundle: bundle, role: .server,
                                 trustDomain: TestCA.meshDomain, at: authority.now) == .success(id))
        // Without the intermediate, or against another CA's bundle: not ours.
        #expect(leaf.verifyChain(intermediates: [], bundle: bundle, role: .server, trustDomain: TestCA.meshDomain,
                                 at: authority.now) == .failure(.unknownCA))
        #expect(leaf.verifyChain(intermediates: intermediates, bundle: [try TestCA().certificate], role: .server,
                                 trustDomain: TestCA.meshDomain, at: authority.now) == .failure(.unknownCA))
        // Validity is checked at the time given; nil skips it (a document read back after the signer expired).
        #expect(leaf.verifyChain(intermediates: intermediates, bundle: bundle, role: .server, trustDomain: TestCA.meshDomain,
                                 at: authority.now + 7200) == .failure(.expired))
        #expect(leaf.verifyChain(intermediates: intermediates, bundle: bundle, role: .server, trustDomain: TestCA.meshDomain,
                                 at: nil) == .success(id))
        // The SVID rules apply to the signer: a CA certificate cannot sign as a workload.
        let caAsLeaf = try authority.mint(Self.controlPlane) { $0.isCA = true }
        #expect(caAsLeaf.chain[0].verifyChain(intermediates: [], bundle: bundle, role: .server, trustDomain: TestCA.meshDomain,
                                              at: authority.now) == .failure(.leafIsCA))
    }
}
