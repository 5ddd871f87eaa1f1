@testable import ControlPlaneKit
import MeshCore
import MeshTLS
import Testing
import MeshTestSupport

/// Join tokens: single use, bound to one identity, expiring, stored only as a SHA-256, durable across restarts.
@Suite struct TokenStoreTests {
    private let now = 1_700_000_000.0
    private let cart = try! SPIFFEID.workload("spiffe://mesh.local/ns/shop/sa/cart")

    @Test func redeemingReturnsTheBoundIdentity() throws {
        let dir = try TempDir()
        let store = try FileTokenRepository(dataDir: dir.path)
        let token = try store.create(identity: cart, ttl: 600, now: now, createdBy: "operator")
        #expect(token.expiresAt == now + 600)
        #expect(token.secret.hasPrefix("mjt_"))
        #expect(token.secret.count == 4 + 64)
        #expect(try store.redeem(token.secret, now: now + 10) == cart)
    }

    @Test func refusesAReusedToken() throws {
        let dir = try TempDir()
        let store = try FileTokenRepository(dataDir: dir.path)
        let token = try store.create(identity: cart, ttl: 600, now: now, createdBy: "operator")
        _ = try store.redeem(token.secret, now: now + 1)
        expectMeshError("token.used") { _ = try store.redeem(token.secret, now: now + 2) }
    }

    @Test(arguments: [0.0, 1, 3600])
    func refusesAnExpiredToken(_ late: Double) throws {
        let dir = try TempDir()
        let store = try FileTokenRepository(dataDir: dir.path)
        let token = try store.create(identity: cart, ttl: 60, now: now, createdBy: "operator")
        expectMeshError("token.expired") { _ = try store.redeem(token.secret, now: now + 60 + late) }
    }

    @Test func acceptsATokenJustBeforeItExpires() throws {
        let dir = try TempDir()
        let store = try FileTokenRepository(dataDir: dir.path)
        let token = try store.create(identity: cart, ttl: 60, now: now, createdBy: "operator")
        #expect(try store.redeem(token.secret, now: now + 59) == cart)
    }

    @Test(arguments: ["", "mjt_", "mjt_0000000000000000000000000000000000000000000000000000000000000000", "not a token"])
    func refusesAnUnknownSecret(_ secret: String) throws {
        let dir = try TempDir()
        let store = try FileTokenRepository(dataDir: dir.path)
        _ = try store.create(identity: cart, ttl: 600, now: now, createdBy: "operator")
        expectMeshError("token.unknown") { _ = try store.redeem(secret, now: now) }
    }

    @Test func refusesTheStoredHashUsedAsASecret() throws {
        let dir = try TempDir()
        let store = try FileTokenRepository(dataDir: dir.path)
        let token = try store.create(identity: cart, ttl: 600, now: now, createdBy: "operator")
        expectMeshError("token.unknown") { _ = try store.redeem(SHA256.hex(Array(token.secret.utf8)), now: now) }
    }

    @Test func onlyTheHashIsOnDisk() throws {
        let dir = try TempDir()
        let store = try FileTokenRepository(dataDir: dir.path)
        let token = try store.create(identity: cart, ttl: 600, now: now, createdBy: "operator")
        let journalBefore = try dir.read("tokens.journal")
        #expect(!journalBefore.isEmpty)
        // In the journal first, then in the snapshot a restart compacts it into: the hash only, both times.
        _ = try FileTokenRepository(dataDir: dir.path)
        for file in ["tokens.journal", "tokens.json"] {
            let text = try file == "tokens.json" ? dir.text(file) : String(decoding: journalBefore, as: UTF8.self)
            #expect(!text.contains(token.secret))
            #expect(!text.contains(String(token.secret.dropFirst(4))))
            #expect(text.contains(SHA256.hex(Array(token.secret.utf8))))
            #expect(text.contains(cart.description))
            #expect(try dir.mode(file) == 0o600)
        }
    }

    @Test func eachTokenIsDifferent() throws {
        let dir = try TempDir()
        let store = try FileTokenRepository(dataDir: dir.path)
        let secrets = try (0..<5).map { _ in try store.create(identity: cart, ttl: 600, now: now, createdBy: "op").secret }
        #expect(Set(secrets).count == 5)
    }

    @Test func aUsedTokenStaysUsedAfterReopening() throws {
        let dir = try TempDir()
        let secret: String
        let unused: String
        do {
            let store = try FileTokenRepository(dataDir: dir.path)
            secret = try store.create(identity: cart, ttl: 600, now: now, createdBy: "operator").secret
            unused = try store.create(identity: cart, ttl: 600, now: now, createdBy: "operator").secret
            _ = try store.redeem(secret, now: now + 1)
        }
        let reopened = try FileTokenRepository(dataDir: dir.path)
        expectMeshError("token.used") { _ = try reopened.redeem(secret, now: now + 2) }
        #expect(try reopened.redeem(unused, now: now + 3) == cart)
        let again = try FileTokenRepository(dataDir: dir.path)
        expectMeshError("token.used") { _ = try again.redeem(unused, now: now + 4) }
    }

    @Test func anExpiryStaysAfterReopening() throws {
        let dir = try TempDir()
        let secret = try FileTokenRepository(dataDir: dir.path).create(identity: cart, ttl: 60, now: now, createdBy: "op").secret
        let reopened = try FileTokenRepository(dataDir: dir.path)
        expectMeshError("token.expired") { _ = try reopened.redeem(secret, now: now + 61) }
    }

    @Test func aCorruptTokenFileIsRefused() throws {
        let dir = try TempDir()
        try dir.write("tokens.json", "{\"tokens\":[{\"hash\":\"ab\"}]}\n")
        expectMeshError("tokens.corrupt") { _ = try FileTokenRepository(dataDir: dir.path) }
    }

    @Test(arguments: [("ab", "ab", true), ("ab", "ac", false), ("ab", "abc", false), ("", "", true)])
    func comparesSecretsInConstantTime(_ a: String, _ b: String, _ equal: Bool) {
        #expect(JoinTokenSecret.constantTimeEqual(a, b) == equal)
    }
}
