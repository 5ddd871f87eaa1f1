import MeshCore

/// The unary operations of `EtcdKV`, each one gateway call.
extension EtcdClient {
    public func get(_ key: [UInt8]) throws -> EtcdKeyValue? {
        let v = try call("/v3/kv/range", .object([("key", EtcdJSON.bytes(key))]), write: false)
        return try EtcdJSON.keyValues(v["kvs"]).first
    }

    public func range(prefix: [UInt8], after: [UInt8]?, limit: Int) throws -> (kvs: [EtcdKeyValue], revision: Int64, more: Bool) {
        // `after` is exclusive: start at the first key after it (after + 0x00).
        let from = after.map { $0 + [0] } ?? (prefix.isEmpty ? [0] : prefix)
        var f: [(String, JSONValue)] = [("key", EtcdJSON.bytes(from)), ("range_end", EtcdJSON.bytes(EtcdJSON.prefixEnd(prefix)))]
        if limit > 0 { f.append(("limit", EtcdJSON.int64(Int64(limit)))) }
        let v = try call("/v3/kv/range", .object(f), write: false)
        return (try EtcdJSON.keyValues(v["kvs"]), try EtcdJSON.headerRevision(v), EtcdJSON.bool(v["more"]))
    }

    public func txn(_ compares: [EtcdCompare], success: [EtcdOp], failure: [EtcdOp]) throws -> EtcdTxnResult {
        let body = JSONValue.object([("compare", .array(compares.map(EtcdJSON.compare))),
                                     ("success", .array(success.map(EtcdJSON.op))),
                                     ("failure", .array(failure.map(EtcdJSON.op)))])
        // A transaction of only gets changes nothing: it may be retried like a read.
        let readOnly = (success + failure).allSatisfy { if case .get = $0 { true } else { false } }
        let v = try call("/v3/kv/txn", body, write: !readOnly)
        let succeeded = EtcdJSON.bool(v["succeeded"])
        var gets: [EtcdKeyValue?] = []
        for r in v["responses"]?.arrayValue ?? [] {
            if let range = r["response_range"] { gets.append(try EtcdJSON.keyValues(range["kvs"]).first) }
        }
        let ran = succeeded ? success : failure
        let expected = ran.filter { if case .get = $0 { true } else { false } }.count
        guard gets.count == expected else {
            throw MeshError(.storeProtocol, "etcd txn answered \(gets.count) ranges for \(expected) gets")
        }
        return EtcdTxnResult(succeeded: succeeded, revision: try EtcdJSON.headerRevision(v), gets: gets)
    }

    public func grantLease(ttlSeconds: Int) throws -> Int64 {
        let v = try call("/v3/lease/grant", .object([("TTL", EtcdJSON.int64(Int64(ttlSeconds)))]), write: true)
        if let e = v["error"]?.stringValue, !e.isEmpty { throw MeshError(.storeProtocol, "etcd lease grant: \(e)") }
        let id = try EtcdJSON.int64(v["ID"], "ID")
        guard id != 0 else { throw MeshError(.storeProtocol, "etcd lease grant answered no ID") }
        return id
    }

    /// One renewal through the gateway's streaming keep-alive (one message in, one `{"result":…}` out). Safe to
    /// retry: renewing twice is the same as once.
    public func keepAlive(lease: Int64) throws -> Int64 {
        let v = try call("/v3/lease/keepalive", .object([("ID", EtcdJSON.int64(lease))]), write: false)
        if let e = v["error"] { throw MeshError(.storeProtocol, "etcd lease keep-alive: \(e.text)") }
        return try EtcdJSON.int64(v["result"]?["TTL"], "TTL")
    }

    /// Revokes the lease (its keys go); a lease that is already gone counts as revoked.
    public func revokeLease(_ lease: Int64) throws {
        do {
            _ = try call("/v3/kv/lease/revoke", .object([("ID", EtcdJSON.int64(lease))]), write: false)
        } catch let e as MeshError where e.errorCode == .storeProtocol && e.reason.contains("lease not found") {
            return
        }
    }

    public func status() -> [EtcdMemberStatus] {
        members.map { m -> EtcdMemberStatus in
            do throws(EtcdMember.Failure) {
                let v = try m.exchange("/v3/maintenance/status", Array("{}".utf8), settings: settings)
                let leader = (try? EtcdJSON.int64(v["leader"], "leader")) ?? 0
                let member = (try? EtcdJSON.int64(v["header"]?["member_id"], "member_id")) ?? 0
                let errors = v["errors"]?.arrayValue?.compactMap(\.stringValue) ?? []
                return EtcdMemberStatus(endpoint: m.endpoint.url, healthy: leader != 0 && errors.isEmpty,
                                        leader: leader == 0 ? nil : String(UInt64(bitPattern: leader), radix: 16),
                                        error: leader == 0 ? "no leader" : errors.first,
                                        member: member == 0 ? nil : String(UInt64(bitPattern: member), radix: 16))
            } catch {
                let why: String
                switch error {
                case .notSent(let e), .noAnswer(let e): why = e.reason
                case .refused(_, _, let message): why = message
                }
                return EtcdMemberStatus(endpoint: m.endpoint.url, healthy: false, error: why)
            }
        }
    }
}
