import MeshCore

extension EtcdClient {
    /// See `EtcdWatcher` for how a watch survives member failures.
    public func watch(prefix: [UInt8], fromRevision: Int64, onEvents: @escaping @Sendable ([EtcdEvent]) -> Void,
                      onError: @escaping @Sendable (MeshError) -> Void) -> EtcdWatch {
        let w = EtcdWatcher(client: self, prefix: prefix, fromRevision: fromRevision, onEvents: onEvents, onError: onError)
        w.start()
        return w
    }
}
