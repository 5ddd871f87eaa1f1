import Glibc
import MeshTestSupport
import Testing

/// The tests' process spawner: what a child inherits and how its end is reported.
@Suite("Spawned (test support)")
struct SpawnedTests {
    @Test func exitCodesSignalsAndStreams() throws {
        #expect(try ChildProcess.run("/bin/sh", ["-c", "exit 7"]).status == 7)
        let killed = try Spawned("/bin/sleep", ["30"])
        killed.signal(SIGKILL)
        #expect(killed.waitForExit() == 128 + SIGKILL)
        #expect(!killed.isRunning)
        let r = try ChildProcess.run("/bin/sh", ["-c", "cat; echo oops >&2; pwd"], currentDirectory: "/tmp", stdinText: "fed\n")
        #expect(r.stdout == "fed\n/tmp\n" && r.stderr == "oops\n")
    }

    /// A descriptor the test process opened without close-on-exec (a socket, say) is not held by the child: a
    /// child holding a test's socket would keep its port bound or its peer from seeing EOF.
    @Test func childInheritsOnlyItsStandardStreams() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd > 2)
        defer { close(fd) }
        let r = try ChildProcess.run("/bin/ls", ["/proc/self/fd"])
        #expect(r.status == 0)
        #expect(r.stdout.split(separator: "\n").sorted() == ["0", "1", "2", "3"], "3 is ls's own directory handle")
    }

    @Test func environmentGivenIsTheWholeEnvironment() throws {
        let r = try ChildProcess.run("/usr/bin/env", [], environment: ["ONLY": "this"])
        #expect(r.stdout == "ONLY=this\n")
    }
}
