#if canImport(Glibc)
import Glibc
#endif
import MeshNet
import Testing

/// The one syscall helper: EINTR is retried, EAGAIN is would-block, anything else (EMFILE from accept4 when
/// the process is out of descriptors, which the sidecar's listener backs off on) is thrown with the call's name.
@Suite struct SyscallTests {
    @Test func interruptedCallsAreRetried() throws {
        var attempts = 0
        let r = try Syscall.run("read") { () -> Int in
            attempts += 1
            if attempts < 3 { errno = EINTR; return -1 }
            return 7
        }
        guard case .done(7) = r else { Issue.record("expected .done(7), got \(r)"); return }
        #expect(attempts == 3)
    }

    @Test(arguments: [EAGAIN, EWOULDBLOCK])
    func eagainIsWouldBlock(code: Int32) throws {
        let r = try Syscall.run("accept4") { () -> Int32 in errno = code; return -1 }
        guard case .wouldBlock = r else { Issue.record("expected .wouldBlock, got \(r)"); return }
    }

    @Test(arguments: [EMFILE, ENFILE, ECONNRESET])
    func otherErrorsAreThrownWithTheCallName(code: Int32) {
        #expect(throws: SyscallError("accept4", code)) {
            _ = try Syscall.run("accept4") { () -> Int32 in errno = code; return -1 }
        }
    }

    @Test func mustTreatsWouldBlockAsAnError() {
        #expect(throws: SyscallError("listen", EAGAIN)) {
            _ = try Syscall.must("listen") { () -> Int32 in errno = EAGAIN; return -1 }
        }
    }

    @Test func anErrorNamesTheCallAndTheErrno() {
        #expect(SyscallError("accept4", EMFILE).description == "accept4 failed: Too many open files (errno \(EMFILE))")
    }
}
