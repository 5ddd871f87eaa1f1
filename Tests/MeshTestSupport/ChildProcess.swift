import Foundation

/// Runs a program to completion and collects what it printed: one helper for the tests that drive the built
/// binaries (`meshctl`, `mesh-control`, `mesh-dev`). Both pipes are drained at once (stderr on its own thread),
/// so a child that fills one pipe while we wait on the other cannot stall.
public enum ChildProcess {
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                           currentDirectory: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let environment { p.environment = environment }
        if let currentDirectory { p.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let errorText = Drained()
        let drained = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            errorText.data = err.fileHandleForReading.readDataToEndOfFile()
            drained.signal()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        p.waitForExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: errorText.data, as: UTF8.self))
    }

    /// Written by the draining thread before it signals, read after the wait.
    private final class Drained: @unchecked Sendable {
        var data = Data()
    }
}

extension Process {
    /// Waits for the child without `waitUntilExit`, which spins a Foundation run loop on the calling thread (and
    /// so gives every test thread that waits a CFRunLoop with descriptors of its own, closed when the thread goes
    /// away). `isRunning` is cleared by Foundation's own process-manager thread when the child is reaped.
    public func waitForExit() {
        while isRunning { usleep(5_000) }
    }
}
