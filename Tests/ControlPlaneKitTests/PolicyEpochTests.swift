import ControlPlaneKit
import MeshCore
import MeshTestSupport
import Testing

/// The policy store's epoch (hardening #5): made with the store, kept across restarts, new with a new store,
/// and a damaged epoch file refuses to start rather than inventing a new one silently.
@Suite struct PolicyEpochTests {
    @Test func theEpochIsKeptAcrossRestartsAndNewWithANewStore() throws {
        let dir = try TempDir()
        let first = try FilePolicyRepository(dataDir: dir.path).epoch
        #expect(first.count == 32 && first.allSatisfy { $0.isHexDigit })
        #expect(try dir.mode("policy/epoch") == 0o600)
        try FilePolicyRepository(dataDir: dir.path).compareAndSet(expected: 0, RepositoryContract.document(1))
        #expect(try FilePolicyRepository(dataDir: dir.path).epoch == first)
        let other = try TempDir()
        #expect(try FilePolicyRepository(dataDir: other.path).epoch != first)
    }

    @Test func aDamagedEpochFileRefusesToStart() throws {
        let dir = try TempDir()
        _ = try FilePolicyRepository(dataDir: dir.path)
        try dir.write("policy/epoch", "not hex\n")
        expectMeshError("policy.bad-epoch") { _ = try FilePolicyRepository(dataDir: dir.path) }
    }
}
