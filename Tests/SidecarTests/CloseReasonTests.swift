import Testing
import MeshCore
import MeshTLS
@testable import SidecarKit

/// Close reasons are one closed set whose strings never change: logs, `/stats`, metrics and the black-box
/// tests read them.
@Suite struct CloseReasonTests {
    @Test(arguments: PeerRejection.allCases)
    func keepsTheTLSLayersString(_ r: PeerRejection) {
        #expect(CloseReason(r).rawValue == r.rawValue)
    }

    @Test(arguments: DenyReason.allCases)
    func keepsTheAuthorizationString(_ r: DenyReason) {
        #expect(CloseReason(r).rawValue == r.rawValue)
    }

    @Test func rawValuesAreDistinct() {
        #expect(Set(CloseReason.allCases.map(\.rawValue)).count == CloseReason.allCases.count)
    }

    @Test func sidecarReasonsKeepTheirStrings() {
        let expected: [(CloseReason, String)] = [
            (.closed, "closed"), (.idleTimeout, "idle-timeout"), (.tlsError, "tls-error"), (.socketError, "socket-error"),
            (.internalError, "internal-error"), (.defaultDeny, "default-deny"), (.egressNotAllowed, "egress-not-allowed"),
            (.ownCertificateExpired, "own-certificate-expired"), (.noAppAddress, "no-app-address"),
            (.permissionRevoked, "permission-revoked"), (.identityRevoked, "identity-revoked"), (.serverIdentityChanged, "server-identity-changed"),
            (.appUnreachable, "app-unreachable"), (.upstreamUnreachable, "upstream-unreachable"),
            (.appConnectTimeout, "app-connect-timeout"), (.upstreamConnectTimeout, "upstream-connect-timeout"),
            (.acceptEMFILE, "accept-emfile"), (.maxConnections, "max-connections"), (.rateLimited, "rate-limited"),
            (.noEndpoint, "no-endpoint"), (.appProtocolError, "app-protocol-error"),
            (.egressNotMesh, "egress-not-mesh"), (.transparentLoop, "transparent-loop"), (.noOriginalDestination, "no-original-destination"),
        ]
        for (reason, text) in expected { #expect(reason.rawValue == text) }
        #expect(CloseReason.allCases.count == PeerRejection.allCases.count + DenyReason.allCases.count + expected.count)
    }

    @Test func failureCountsAreKeyedByReason() {
        let stats = SidecarStats()
        stats.count(failure: .idleTimeout, .inbound)
        stats.count(failure: .idleTimeout, .inbound)
        stats.count(failure: CloseReason(PeerRejection.unknownCA), .outbound)
        let counts = stats.failureCounts()
        #expect(counts[SidecarStats.FailureKey(direction: .inbound, reason: .idleTimeout)] == 2)
        #expect(counts[SidecarStats.FailureKey(direction: .outbound, reason: .unknownCA)] == 1)
    }
}
