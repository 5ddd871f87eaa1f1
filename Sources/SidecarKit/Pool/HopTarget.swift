import MeshCore

/// What a pooled hop is for: the key its pool, balancer and resumable sessions are kept under, and whom it must
/// reach. An outbound `http` listener's hops are keyed by the listener's name; a transparently intercepted
/// connection to a mesh service's `http` port by `transparent/<service>:<port>` (one pool per destination port).
struct HopTarget: Sendable {
    let key: String
    /// The destination service of a transparent target (nil: an outbound listener's).
    let service: ServiceKey?

    static func listener(_ name: String) -> HopTarget { HopTarget(key: name, service: nil) }

    static func transparent(_ service: ServiceKey, port: Int) -> HopTarget {
        HopTarget(key: "\(ProxyConnection.transparentListenerName)/\(service):\(port)", service: service)
    }

    /// Who the remote sidecar must be in state `s` (secure naming). nil: nobody any more (the service is no
    /// longer one of the slice's destinations; a listener always names one), and a hop is then refused.
    func expectedServer(in s: SidecarState) -> SPIFFEID? {
        guard let service else { return s.authorizer.expectedServer(listener: key) }
        return s.slice?.outbound[service]?.identity
    }
}
