import MeshCore
import MeshNet

extension BootstrapSettings {
    /// The control-plane replicas as socket addresses, in the configured order.
    public func controlPlaneAddresses() throws -> [SocketAddress] {
        try controlPlanes.map { try SocketAddress($0) }
    }
}
