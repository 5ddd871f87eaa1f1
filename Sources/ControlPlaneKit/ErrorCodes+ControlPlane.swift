import MeshCore

/// Codes only the control plane reports (declared here, beside their users; see MeshCore's ErrorCodes.swift).
extension ErrorCode {
    /// The CA state changed between read and write (another writer); retry on the new state.
    public static let caConflict = ErrorCode("ca.conflict", .conflict)
    /// A section was sent before any whole mesh was applied: there is nothing to replace it in.
    public static let policyNothingApplied = ErrorCode("policy.nothing-applied", .conflict)
    /// A sidecar asked for the slice of a service the applied mesh does not have.
    public static let policyServiceNotInMesh = ErrorCode("policy.service-not-in-mesh", .notFound)
}
