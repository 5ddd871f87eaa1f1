import MeshCore

/// The JSON shapes of etcd 3.4's gateway (proto3 JSON mapping): `bytes` are base64, int64 are decimal strings,
/// and a field at its zero value (0, false, empty) is left out — so every reader here treats absent as zero.
enum EtcdJSON {
    static func bytes(_ b: [UInt8]) -> JSONValue { .string(EtcdBase64.encode(b)) }
    static func int64(_ v: Int64) -> JSONValue { .string(String(v)) }

    /// The first key after every key that starts with `prefix` (etcd's `range_end` for a prefix); `[0]` (all keys)
    /// for an empty prefix or one of only 0xff bytes.
    static func prefixEnd(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xff {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }

    static func compare(_ c: EtcdCompare) -> JSONValue {
        switch c {
        case .modRevision(let k, let v):
            .object([("key", bytes(k)), ("target", .string("MOD")), ("result", .string("EQUAL")), ("mod_revision", int64(v))])
        case .createRevision(let k, let v):
            .object([("key", bytes(k)), ("target", .string("CREATE")), ("result", .string("EQUAL")), ("create_revision", int64(v))])
        case .version(let k, let v):
            .object([("key", bytes(k)), ("target", .string("VERSION")), ("result", .string("EQUAL")), ("version", int64(v))])
        case .value(let k, let v):
            .object([("key", bytes(k)), ("target", .string("VALUE")), ("result", .string("EQUAL")), ("value", bytes(v))])
        }
    }

    static func op(_ o: EtcdOp) -> JSONValue {
        switch o {
        case .put(let k, let v, let lease):
            var f: [(String, JSONValue)] = [("key", bytes(k)), ("value", bytes(v))]
            if lease != 0 { f.append(("lease", int64(lease))) }
            return .object([("request_put", .object(f))])
        case .delete(let k):
            return .object([("request_delete_range", .object([("key", bytes(k))]))])
        case .deletePrefix(let p):
            return .object([("request_delete_range", .object([("key", bytes(p.isEmpty ? [0] : p)), ("range_end", bytes(prefixEnd(p)))]))])
        case .get(let k):
            return .object([("request_range", .object([("key", bytes(k))]))])
        }
    }

    static func parse(_ body: [UInt8], what: String) throws -> JSONValue {
        do {
            return try StrictJSON.parse(body, limits: StrictJSON.Limits(maxDepth: 32, maxBytes: 64 << 20))
        } catch {
            throw MeshError(.storeProtocol, "etcd \(what): answer is not JSON: \(error)")
        }
    }

    /// An int64 field: absent → 0; a string or a number of digits.
    static func int64(_ v: JSONValue?, _ field: String) throws -> Int64 {
        guard let v else { return 0 }
        let text: String
        switch v {
        case .string(let s): text = s
        case .number(let n): text = n
        default: throw MeshError(.storeProtocol, "etcd field \(field) is not an integer")
        }
        if let i = Int64(text) { return i }
        if let u = UInt64(text) { return Int64(bitPattern: u) }  // member ids are uint64
        throw MeshError(.storeProtocol, "etcd field \(field) is not an integer: \(text)")
    }

    static func byteField(_ v: JSONValue?, _ field: String) throws -> [UInt8] {
        guard let v else { return [] }
        guard case .string(let s) = v, let b = EtcdBase64.decode(s) else {
            throw MeshError(.storeProtocol, "etcd field \(field) is not base64")
        }
        return b
    }

    static func keyValue(_ v: JSONValue) throws -> EtcdKeyValue {
        guard case .object = v else { throw MeshError(.storeProtocol, "etcd kv is not an object") }
        return EtcdKeyValue(key: try byteField(v["key"], "key"), value: try byteField(v["value"], "value"),
                            createRevision: try int64(v["create_revision"], "create_revision"),
                            modRevision: try int64(v["mod_revision"], "mod_revision"),
                            version: try int64(v["version"], "version"), lease: try int64(v["lease"], "lease"))
    }

    static func keyValues(_ v: JSONValue?) throws -> [EtcdKeyValue] {
        guard let v else { return [] }
        guard let a = v.arrayValue else { throw MeshError(.storeProtocol, "etcd kvs is not an array") }
        return try a.map(keyValue)
    }

    static func headerRevision(_ v: JSONValue) throws -> Int64 {
        try int64(v["header"]?["revision"], "header.revision")
    }

    static func bool(_ v: JSONValue?) -> Bool { v?.boolValue ?? false }

    static func event(_ v: JSONValue) throws -> EtcdEvent {
        let kind: EtcdEvent.Kind = v["type"]?.stringValue == "DELETE" ? .delete : .put
        guard let kv = v["kv"] else { throw MeshError(.storeProtocol, "etcd event without kv") }
        return EtcdEvent(kind: kind, kv: try keyValue(kv))
    }
}
