import Foundation
import MeshCore
import Testing
import MeshTestSupport

/// Runs every document in `mesh-config/` (valid) and `mesh-config/invalid/` (each must be refused with the
/// code listed here, so a new invalid example needs a line in `expectedCodes`).
@Suite struct MeshConfigFilesTests {
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("mesh-config")

    static func jsonFiles(in folder: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted()
    }

    static let validFiles = jsonFiles(in: folder)
    static let invalidFiles = jsonFiles(in: folder.appendingPathComponent("invalid"))

    static let expectedCodes: [String: String] = [
        "dns-bad-domain.json": "config.bad-value",
        "duplicate-key.json": "json.duplicate-key",
        "duplicate-listener-name.json": "config.duplicate-name",
        "foreign-trust-domain.json": "config.foreign-trust-domain",
        "fractional-number.json": "config.wrong-type",
        "listen-conflict.json": "config.listen-conflict",
        "malformed.json": "json.syntax",
        "missing-identity.json": "config.missing-field",
        "no-listeners.json": "config.no-listeners",
        "outbound-without-expect-identity-or-to.json": "config.missing-field",
        "outbound-without-upstream-static-policy.json": "config.missing-field",
        "http-header-count-zero.json": "config.out-of-range",
        "pool-retries-out-of-range.json": "config.out-of-range",
        "port-out-of-range.json": "config.bad-port",
        "too-deep.json": "json.too-deep",
        "transparent-bad-external.json": "config.bad-address",
        "transparent-without-policy.json": "config.bad-value",
        "unknown-field.json": "config.unknown-field",
        "uppercase-trust-domain.json": "spiffe.bad-trust-domain-char",
        "wrong-type.json": "config.wrong-type",
    ]

    static func load(_ url: URL) throws -> SidecarConfig {
        let bytes = [UInt8](try Data(contentsOf: url))
        return try SidecarConfig.parse(json: bytes, baseDirectory: url.deletingLastPathComponent().path)
    }

    @Test func findsTheExampleFolders() {
        #expect(Self.validFiles.count >= 2, "no examples in \(Self.folder.path)")
        #expect(Set(Self.invalidFiles) == Set(Self.expectedCodes.keys))
    }

    @Test(arguments: validFiles)
    func acceptsValidExample(name: String) throws {
        let config = try Self.load(Self.folder.appendingPathComponent(name))
        #expect(config.identity.certificate.hasPrefix(Self.folder.path + "/"))
    }

    @Test(arguments: invalidFiles)
    func rejectsInvalidExample(name: String) {
        let expected = Self.expectedCodes[name] ?? "(listed in expectedCodes)"
        expectMeshError(expected) { _ = try Self.load(Self.folder.appendingPathComponent("invalid/\(name)")) }
    }

    @Test func frontendCanCallPayments() throws {
        let frontend = try Self.load(Self.folder.appendingPathComponent("sidecar-frontend.json"))
        let payments = try Self.load(Self.folder.appendingPathComponent("sidecar-payments.json"))
        let call = try #require(frontend.outbound.first { $0.name == "payments" })
        let api = try #require(payments.inbound.first { $0.listen.port == call.upstream?.port })
        let frontendID = try SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/frontend")
        #expect(api.allow.contains(frontendID))
        #expect(call.expectIdentity.description == "spiffe://mesh.local/ns/shop/sa/payments")
        #expect(AllowList(listener: api.name, trustDomain: payments.identity.trustDomain, allowed: api.allow)
            .evaluate(frontendID).isAllowed)
    }
}
