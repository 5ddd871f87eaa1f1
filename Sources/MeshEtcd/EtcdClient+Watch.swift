import MeshCore

extension EtcdClient {
    public func watch(prefix: [UInt8], fromRevision: Int64, onEvents: @escaping @Sendable ([EtcdEvent]) -> Void,
                      onError: @escaping @Sendable (MeshError) -> Void) -> EtcdWatch {
        fatalError("watch: not yet")
    }
}
