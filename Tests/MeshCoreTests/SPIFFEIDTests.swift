import MeshCore
import Testing
import MeshTestSupport

@Suite struct SPIFFEIDTests {
    /// Every reject vector of SECURITY.md §1, plus a few more, with the code that names the broken rule.
    @Test(arguments: [
        ("", "spiffe.empty"),
        ("spiffe:/", "spiffe.bad-scheme"),
        ("Spiffe://td/x", "spiffe.bad-scheme"),
        ("spiffe://", "spiffe.empty-trust-domain"),
        ("spiffe:///", "spiffe.empty-trust-domain"),
        ("spiffe://td/", "spiffe.trailing-slash"),
        ("spiffe://td//x", "spiffe.empty-segment"),
        ("spiffe://td/x/", "spiffe.trailing-slash"),
        ("spiffe://td/./x", "spiffe.dot-segment"),
        ("spiffe://td/x/..", "spiffe.dot-segment"),
        ("spiffe://td/%41", "spiffe.bad-path-char"),
        ("spiffe://TD/x", "spiffe.bad-trust-domain-char"),
        ("spiffe://td:443/x", "spiffe.bad-trust-domain-char"),
        ("spiffe://u@td/x", "spiffe.bad-trust-domain-char"),
        ("spiffe://td/x?y", "spiffe.bad-path-char"),
        ("spiffe://td/x#y", "spiffe.bad-path-char"),
        ("spiffe://trust$domain/x", "spiffe.bad-trust-domain-char"),
        // beyond the list
        ("https://td/x", "spiffe.bad-scheme"),
        ("SPIFFE://td/x", "spiffe.bad-scheme"),
        (" spiffe://td/x", "spiffe.bad-scheme"),
        ("spiffe://td/x y", "spiffe.bad-path-char"),
        ("spiffe://td/caf\u{E9}", "spiffe.bad-path-char"),
        ("spiffe://t\u{E9}d/x", "spiffe.bad-trust-domain-char"),
        ("spiffe://td/x\0", "spiffe.bad-path-char"),
        ("spiffe://td/..", "spiffe.dot-segment"),
        ("spiffe://td/.", "spiffe.dot-segment"),
    ])
    func rejectsMalformedIDs(text: String, code: String) {
        expectMeshError(code) { _ = try SPIFFEID(parsing: text) }
    }

    @Test(arguments: [
        ("spiffe://td/.x", "td", "/.x"),
        ("spiffe://td/..x", "td", "/..x"),
        ("spiffe://td/...", "td", "/..."),
        ("spiffe://mesh.local/ns/shop/sa/frontend", "mesh.local", "/ns/shop/sa/frontend"),
        ("spiffe://a-b_c.9/A/b-c/D_e.F", "a-b_c.9", "/A/b-c/D_e.F"),
        ("spiffe://td", "td", ""),
    ])
    func acceptsValidIDs(text: String, trustDomain: String, path: String) throws {
        let id = try SPIFFEID(parsing: text)
        #expect(id.trustDomain.name == trustDomain)
        #expect(id.path == path)
        #expect(id.description == text)
        #expect(id.isWorkload == !path.isEmpty)
    }

    @Test func trustDomainIDCannotIdentifyAWorkload() throws {
        expectMeshError("spiffe.no-path") { _ = try SPIFFEID.workload("spiffe://td") }
        #expect(try SPIFFEID.workload("spiffe://td/x").path == "/x")
    }

    @Test func limitsLengthTo2048Bytes() throws {
        let prefix = "spiffe://td/"
        let longest = prefix + String(repeating: "a", count: SPIFFEID.maxLength - prefix.utf8.count)
        #expect(try SPIFFEID(parsing: longest).description.utf8.count == 2048)
        expectMeshError("spiffe.too-long") { _ = try SPIFFEID(parsing: longest + "a") }
    }

    @Test func limitsTrustDomainTo255Bytes() throws {
        let longest = String(repeating: "d", count: 255)
        #expect(try SPIFFEID(parsing: "spiffe://\(longest)/x").trustDomain.name == longest)
        expectMeshError("spiffe.trust-domain-too-long") { _ = try SPIFFEID(parsing: "spiffe://\(longest)d/x") }
        expectMeshError("spiffe.trust-domain-too-long") { _ = try TrustDomain(longest + "d") }
    }

    @Test func comparesByteForByte() throws {
        #expect(try SPIFFEID(parsing: "spiffe://td/X") != SPIFFEID(parsing: "spiffe://td/x"))
        #expect(try SPIFFEID(parsing: "spiffe://td/x") == SPIFFEID(parsing: "spiffe://td/x"))
        #expect(try SPIFFEID(parsing: "spiffe://td/x") != SPIFFEID(parsing: "spiffe://td2/x"))
    }

    @Test func buildsConventionalServiceIDs() throws {
        let id = try SPIFFEID.service(trustDomain: TrustDomain("mesh.local"), namespace: "shop", name: "payments")
        #expect(id.description == "spiffe://mesh.local/ns/shop/sa/payments")
        expectMeshError("spiffe.bad-path-char") {
            _ = try SPIFFEID.service(trustDomain: TrustDomain("mesh.local"), namespace: "sh op", name: "x")
        }
    }

    @Test(arguments: [("", "spiffe.empty-trust-domain"), ("Mesh.local", "spiffe.bad-trust-domain-char"),
                      ("mesh.local/x", "spiffe.bad-trust-domain-char")])
    func rejectsBadTrustDomains(name: String, code: String) {
        expectMeshError(code) { _ = try TrustDomain(name) }
    }
}
