@testable import MeshTLS
import MeshCore
import MeshTestSupport

/// The trust domain every test here lives in.
let meshDomain = TestCA.meshDomain

let placeholderID = try! SPIFFEID.workload("spiffe://mesh.local/ns/test/sa/unchecked")
let serverID = try! SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/payments")
let clientID = try! SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/frontend")

extension TestCA {
    /// An identity that skips the SVID check on its own leaf, for peers with broken certificates. It trusts
    /// this CA, so only the other side has a reason to refuse. Needs MeshTLS internals, hence here and not
    /// in MeshTestSupport.
    func uncheckedIdentity(_ minted: Minted) -> TLSIdentity {
        TLSIdentity(unchecked: minted.chain, key: minted.key, trustBundle: [ca.certificate], trustDomain: trustDomain,
                    spiffeID: placeholderID)
    }
}
