@testable import MeshTLS
import Testing

@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func matchesKnownVectors(input: String, digest: String) {
        #expect(SHA256.hex(Array(input.utf8)) == digest)
    }

    @Test func incrementalEqualsOneShot() {
        let bytes = randomBytes(100_000)
        let h = SHA256()
        var offset = 0
        for size in [1, 63, 64, 65, 4_096, 10_000] {
            h.update(Array(bytes[offset..<offset + size]))
            offset += size
        }
        bytes[offset...].withUnsafeBytes { h.update($0) }
        #expect(h.finalizeHex() == SHA256.hex(bytes))
    }

    @Test func millionAs() {
        let h = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000)
        for _ in 0..<1_000 { h.update(chunk) }
        #expect(h.finalizeHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}
