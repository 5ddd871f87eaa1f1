import ControlPlaneKit
import MeshCore
import Testing
import MeshTestSupport

/// `--cert-ttl` and `--rotation-overlap` values: a number with an optional s/m/h/d unit, positive, at least
/// the option's minimum.
@Suite struct DurationTests {
    @Test(arguments: [
        ("30s", 30.0),
        ("5m", 300),
        ("24h", 86_400),
        ("2d", 172_800),
        ("90", 90),
        ("10", 10),
        ("1.5h", 5400),
    ])
    func parsesADuration(_ text: String, _ seconds: Double) throws {
        #expect(try ControlCommand.duration(text, min: 10) == seconds)
    }

    @Test(arguments: ["5x", "0", "-1", "", "s", "h5", "5 m", " 5m", "0s", "-5m", "nan", "5ms", "m5"])
    func refusesABadDuration(_ text: String) {
        expectMeshError("usage") { _ = try ControlCommand.duration(text, min: 1) }
    }

    @Test(arguments: [("9s", 10.0), ("9", 10), ("59s", 60), ("0.5m", 31)])
    func refusesADurationBelowTheMinimum(_ text: String, _ min: Double) {
        let error = expectMeshError("usage") { _ = try ControlCommand.duration(text, min: min) }
        #expect(error?.reason.contains("minimum") == true, "\(error?.reason ?? "")")
    }

    @Test func acceptsExactlyTheMinimum() throws {
        #expect(try ControlCommand.duration("10s", min: 10) == 10)
    }

    /// `Double("inf")` parses: non-finite and absurdly large durations must still be refused.
    @Test(arguments: ["infs", "infinityh", "1e30s"])
    func refusesANonFiniteOrHugeDuration(_ text: String) {
        expectMeshError("usage") { _ = try ControlCommand.duration(text, min: 10) }
    }
}
