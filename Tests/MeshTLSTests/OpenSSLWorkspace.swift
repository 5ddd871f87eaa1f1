import Foundation
import MeshTestSupport
import MeshCore
import Testing

/// A temporary folder to run the `openssl` command line in, for fixtures our own API cannot (and should not)
/// make: CSRs with SANs or other key types, keys encrypted by another tool. Removed when it goes away. (Gate
/// tests on `OpenSSLCLI.isAvailable`.)
final class OpenSSLWorkspace {
    let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("meshtls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: false)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Runs `openssl args…` in the folder and returns what it printed; throws with its stderr when it exits
    /// non-zero.
    @discardableResult
    func run(_ args: [String]) throws -> String {
        let r = try ChildProcess.run("/usr/bin/env", ["openssl"] + args, currentDirectory: dir.path)
        guard r.status == 0 else {
            throw MeshError(ErrorCode("test.openssl", .internal), "openssl \(args.joined(separator: " ")): \(r.stderr)")
        }
        return r.stdout
    }

    func read(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: dir.appendingPathComponent(name))) }

    func write(_ name: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: dir.appendingPathComponent(name)) }
}

/// PEM text for `der` under `label`, in 64-column lines.
func pemText(label: String, der: [UInt8]) -> [UInt8] {
    let b64 = Data(der).base64EncodedString()
    var lines = ["-----BEGIN \(label)-----"]
    var rest = Substring(b64)
    while !rest.isEmpty {
        lines.append(String(rest.prefix(64)))
        rest = rest.dropFirst(64)
    }
    lines.append("-----END \(label)-----")
    return Array((lines.joined(separator: "\n") + "\n").utf8)
}
