import Foundation

/// Runs a program to completion and collects what it printed: one helper for the tests that drive the built
/// binaries (`meshctl`, `mesh-control`, `mesh-dev`) and tools (`openssl`, `etcdctl`, `promtool`). Output goes to
/// files in a temp folder (read once the child exited), so a child that fills one stream cannot stall.
public enum ChildProcess {
    /// `stdinText`: written to a file the child reads as its standard input (else `/dev/null`).
    /// `timeout`: the child is killed after it, and the run throws.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                           currentDirectory: String? = nil, stdinText: String? = nil,
                           timeout: Double = 120) throws -> (status: Int32, stdout: String, stderr: String) {
        let dir = try TempDir(prefix: "child")
        var input = Spawned.Stream.null
        if let stdinText {
            try dir.write("stdin", stdinText)
            input = .file(dir.file("stdin"))
        }
        let p = try Spawned(executable, arguments, environment: environment, currentDirectory: currentDirectory,
                            stdin: input, stdout: .file(dir.file("stdout")), stderr: .file(dir.file("stderr")))
        guard let status = p.waitForExit(within: timeout) else {
            p.signal(SIGKILL)
            p.waitForExit()
            throw SpawnFailure("\(executable) \(arguments) did not exit within \(timeout)s")
        }
        return (status, (try? dir.text("stdout")) ?? "", (try? dir.text("stderr")) ?? "")
    }
}
