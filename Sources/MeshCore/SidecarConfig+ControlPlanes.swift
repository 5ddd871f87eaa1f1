/// `bootstrap.controlPlane`: one `"host:port"` (a single control plane, as before) or an array of them (the
/// replicas of a highly available control plane, in order of preference). Sidecars dial them in order and stay
/// with the replica that works; see `ControlChannel`.
extension SidecarConfig {
    /// At most this many control-plane addresses (a sidecar tries them one after another on every failover,
    /// each with its connect timeout, so a long list only lengthens the worst case).
    public static let maxControlPlaneAddresses = 16

    static func parseControlPlanes(_ node: JSONNode) throws(MeshError) -> [HostPort] {
        func one(_ n: JSONNode) throws(MeshError) -> HostPort {
            do { return try HostPort(parsing: try n.string()) } catch { throw n.error(error.errorCode, error.reason) }
        }
        guard case .array = node.value else { return [try one(node)] }
        let items = try node.elements()
        guard !items.isEmpty else { throw node.error(.configBadValue, "controlPlane needs at least one \"host:port\"") }
        guard items.count <= maxControlPlaneAddresses else {
            throw node.error(.configOutOfRange, "at most \(maxControlPlaneAddresses) control-plane addresses, found \(items.count)")
        }
        var seen: [HostPort] = []
        for item in items {
            let address = try one(item)
            guard !seen.contains(address) else { throw item.error(.configBadValue, "\(address) is listed twice") }
            seen.append(address)
        }
        return seen
    }
}
