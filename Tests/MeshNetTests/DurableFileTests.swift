#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshNet
import Testing
import MeshTestSupport

/// Durable replacement of whole files (MeshNet, used by the control plane, the sidecar and the dev tools):
/// what is written is what is read, with the asked mode, and leftovers of interrupted writes are swept away.
@Suite struct DurableFileTests {
    @Test func writtenBytesReadBackUnchanged() throws {
        let dir = try TempDir()
        let bytes: [UInt8] = Array("hello\n".utf8) + [0, 0xff, 0x0a] + (0..<200_000).map { UInt8($0 % 251) }
        try DurableFile.write(dir.file("state.json"), bytes)
        #expect(try DurableFile.read(dir.file("state.json")) == bytes)
        #expect(try dir.read("state.json") == bytes)
    }

    @Test func emptyFileRoundTrips() throws {
        let dir = try TempDir()
        try DurableFile.write(dir.file("empty"), [])
        #expect(try DurableFile.read(dir.file("empty")) == [])
        #expect(DurableFile.exists(dir.file("empty")))
    }

    @Test(arguments: [0o600, 0o644, 0o400])
    func honoursTheAskedMode(_ mode: Int) throws {
        let dir = try TempDir()
        try DurableFile.write(dir.file("f"), Array("x".utf8), mode: mode_t(mode))
        #expect(try dir.mode("f") == mode)
    }

    @Test func defaultModeIsOwnerOnly() throws {
        let dir = try TempDir()
        try DurableFile.write(dir.file("secret"), Array("s".utf8))
        #expect(try dir.mode("secret") == 0o600)
    }

    @Test func overwritingKeepsExactlyTheNewContent() throws {
        let dir = try TempDir()
        try DurableFile.write(dir.file("doc"), Array(repeating: UInt8(ascii: "a"), count: 10_000))
        try DurableFile.write(dir.file("doc"), Array("short".utf8))
        #expect(try dir.text("doc") == "short")
        #expect(try dir.names() == ["doc"], "no temporary file is left behind")
    }

    @Test func removesLeftoversOfInterruptedWritesOnly() throws {
        let dir = try TempDir()
        try dir.write("state.json", "{}")
        try dir.write("state.json.tmp-4242", "{\"half")
        try dir.write("root-1.key.tmp-7", "partial")
        try dir.write("notes.txt", "keep me")
        DurableFile.removeLeftovers(in: dir.path)
        #expect(try dir.names() == ["notes.txt", "state.json"])
        #expect(try dir.text("state.json") == "{}")
    }

    @Test func removingLeftoversInAMissingFolderIsHarmless() throws {
        let dir = try TempDir()
        DurableFile.removeLeftovers(in: dir.file("absent"))
        #expect(try dir.names() == [])
    }

    @Test func readingAMissingFileSaysMissing() throws {
        let dir = try TempDir()
        expectMeshError("store.missing") { _ = try DurableFile.read(dir.file("nope")) }
        #expect(!DurableFile.exists(dir.file("nope")))
    }

    @Test func readingPastTheLimitIsRefused() throws {
        let dir = try TempDir()
        try DurableFile.write(dir.file("big"), [UInt8](repeating: 1, count: 100_000))
        expectMeshError("store.too-large") { _ = try DurableFile.read(dir.file("big"), limit: 1000) }
    }

    @Test func writingIntoAMissingFolderFailsVisibly() throws {
        let dir = try TempDir()
        expectMeshError("store.io") { try DurableFile.write(dir.file("absent/state.json"), Array("x".utf8)) }
    }

    @Test func makeDirectoryIsIdempotentAndPrivate() throws {
        let dir = try TempDir()
        try DurableFile.makeDirectory(dir.file("ca"))
        try DurableFile.makeDirectory(dir.file("ca"))
        #expect(try dir.mode("ca") == 0o700)
    }

    @Test func aSymlinkAtThePathIsReplacedNotWrittenThrough() throws {
        let dir = try TempDir()
        try dir.write("elsewhere", "untouched")
        #expect(symlink(dir.file("elsewhere"), dir.file("svid.key")) == 0)
        try DurableFile.write(dir.file("svid.key"), Array("new key".utf8))
        #expect(try dir.text("elsewhere") == "untouched")
        #expect(try dir.text("svid.key") == "new key")
        var st = stat()
        #expect(lstat(dir.file("svid.key"), &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG)
    }

    @Test func aStaleTemporaryFileDoesNotKeepItsMode() throws {
        let dir = try TempDir()
        try dir.write("secret.tmp-\(getpid())", "old")
        #expect(chmod(dir.file("secret.tmp-\(getpid())"), 0o666) == 0)
        try DurableFile.write(dir.file("secret"), Array("s".utf8), mode: 0o600)
        #expect(try dir.mode("secret") == 0o600)
        #expect(try dir.names() == ["secret"])
    }

    @Test(arguments: [("/var/lib/mesh/state.json", "/var/lib/mesh"), ("/state.json", "/"), ("state.json", "."),
                      ("data/ca/root-1.key", "data/ca")])
    func theFolderToSyncIsThePathsOwn(_ path: String, _ folder: String) {
        #expect(DurableFile.directory(of: path) == folder)
    }
}
