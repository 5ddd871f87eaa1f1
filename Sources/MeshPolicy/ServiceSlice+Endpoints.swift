import MeshCore

/// Endpoints in a slice (issue 14): the control plane fills them in when it hands a slice out; the sidecar reads
/// them per destination port.
extension ServiceSlice {
    /// This slice with each destination's live endpoints from `lookup` (service → (port, address) ascending),
    /// stamped with the registry's `revision`. A destination with none keeps `address` as its fallback.
    public func with(endpointsRevision revision: Int,
                     _ lookup: (ServiceKey) -> [(port: Int, address: HostPort)]) -> ServiceSlice {
        var s = self
        s.endpointsRevision = revision
        for key in outbound.keys {
            let list = lookup(key)
            var byPort: [Int: [HostPort]] = [:]
            var all: [HostPort] = []
            for (port, address) in list {
                byPort[port, default: []].append(address)
                if !all.contains(address) { all.append(address) }
            }
            s.outbound[key]!.endpoints = all.sorted { ($0.host, $0.port) < ($1.host, $1.port) }
            s.outbound[key]!.endpointsByPort = byPort
        }
        return s
    }

    /// `[{"port": 8080, "endpoints": ["10.0.0.5:15443", …]}, …]`, ports ascending.
    static func endpointsByPortJSON(_ map: [Int: [HostPort]]) -> JSONValue {
        .array(map.keys.sorted().map { .object([("port", .int($0)), ("endpoints", .array(map[$0]!.map { .string($0.description) }))]) })
    }

    static func endpointsByPort(_ node: JSONNode) throws(MeshError) -> [Int: [HostPort]] {
        var out: [Int: [HostPort]] = [:]
        for item in try node.elements() {
            let e = try item.object(fields: ["port", "endpoints"])
            let portNode = try e.required("port")
            let port = try portNode.int(in: 1...65535)
            guard out[port] == nil else { throw portNode.error(.policyDuplicateEntry, "port \(port) is listed twice") }
            var list: [HostPort] = []
            for a in try e.required("endpoints").elements() {
                let text = try a.string()
                let hp = try PolicyFields.rethrow(at: a) { try HostPort(parsing: text) }
                guard !list.contains(hp) else { throw a.error(.policyDuplicateEntry, "endpoint \(hp) is listed twice") }
                list.append(hp)
            }
            out[port] = list
        }
        return out
    }
}

extension SliceDestination {
    /// The endpoints serving `port`: the per-port list when the control plane sent one, else `endpoints` (a
    /// slice that names endpoints without ports).
    public func endpoints(port: Int) -> [HostPort] {
        endpointsByPort.isEmpty ? endpoints : endpointsByPort[port] ?? []
    }
}
