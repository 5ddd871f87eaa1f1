/// Declared error codes of the load tool (`mesh-dev simulate`, issue 9 telemetry / issue 11 scale).
/// The text of a code is a published contract (logs, tool output, tests): add codes, never reword one.
extension ErrorCode {
    /// The simulation could not be set up: the control plane did not start, or refused the mesh, a token or a CSR.
    public static let simSetup = ErrorCode("sim.setup", .unavailable)
    /// A simulated sidecar's connection to the control plane failed (connect, TLS, a broken or unexpected answer).
    public static let simConnection = ErrorCode("sim.connection", .unavailable)
}
