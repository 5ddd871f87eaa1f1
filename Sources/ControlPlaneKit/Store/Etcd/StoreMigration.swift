#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshEtcd
import MeshNet

/// `mesh-control migrate`: copies a control plane's whole state between a data directory and etcd — the policy
/// (current document, its version and the epoch, so sidecars keep comparing versions), tokens, identity records
/// (deny list and every latest entry), the CA state (keys re-encrypted with the same passphrase), the admin
/// credential's hash and every audit record byte for byte (the chain still verifies). Refuses a non-empty
/// target. Into etcd the CA state is written last: a half-done copy cannot be served (and is not empty: clear
/// the prefix before trying again).
public enum StoreMigration {
    /// What was copied.
    public struct Summary: Sendable, Equatable {
        public var policyVersion = 0
        public var tokens = 0
        public var identities = 0
        public var auditRecords = 0
    }

    /// Data directory → etcd (the running control plane on `dataDir` should be stopped).
    public static func fileToEtcd(dataDir: String, store: EtcdStore, passphrase: [UInt8]) throws -> Summary {
        guard try store.isEmpty() else { throw MeshError(.caExists, "etcd already holds data under \(store.prefix); refusing to migrate into it") }
        let ca = try FileCAStateRepository(dataDir: dataDir, passphrase: passphrase).load()
        let admin = String(decoding: try DurableFile.read("\(dataDir)/admin.token.sha256"), as: UTF8.self).trimming(" \n")
        let policyRepo = try FilePolicyRepository(dataDir: dataDir)
        let policy = try policyRepo.load()
        let records = try FileIdentityRepository(dataDir: dataDir).load()
        let tokens = try readFileTokens(dataDir)
        let audit = try AuditLog(path: "\(dataDir)/audit.log")
        _ = try audit.verify()
        var lines: [[UInt8]] = []
        for p in audit.segmentPaths() where DurableFile.exists(p) {
            lines += try DurableFile.read(p, limit: 1 << 30).split(separator: 0x0A).map(Array.init)
        }
        try EtcdAuditSink(store: store).importLines(lines)
        var ops: [EtcdOp] = tokens.map { .put(store.key(EtcdTokenRepository.key($0.hash)), EtcdTokenRepository.encode($0), lease: 0) }
        ops += records.latest.map { .put(store.key(EtcdIdentityRepository.latestPrefix + $0.key.description), EtcdIdentityRepository.encode($0.value), lease: 0) }
        ops.append(.put(store.key(EtcdIdentityRepository.denyList), FileIdentityRepository.encode(IdentityRecords.empty.withDenyList(of: records)), lease: 0))
        if policy.version > 0 {
            let doc = FilePolicyRepository.encode(policy)
            ops += [.put(store.key(EtcdPolicyRepository.current), doc, lease: 0), .put(store.key("policy/versions/\(policy.version)"), doc, lease: 0)]
        }
        ops += [.put(store.key("epoch"), Array(policyRepo.epoch.utf8), lease: 0), .put(store.key("admin/token.sha256"), Array(admin.utf8), lease: 0)]
        for start in stride(from: 0, to: ops.count, by: 100) {
            _ = try store.kv.txn([], success: Array(ops[start..<min(start + 100, ops.count)]), failure: [])
        }
        try EtcdCAStateRepository.create(store: store, ca, passphrase: passphrase)
        return Summary(policyVersion: policy.version, tokens: tokens.count, identities: records.latest.count, auditRecords: lines.count)
    }

    /// etcd → a new data directory (empty or absent).
    public static func etcdToFile(store: EtcdStore, dataDir: String, passphrase: [UInt8]) throws -> Summary {
        if DurableFile.exists(dataDir), let d = opendir(dataDir) {
            defer { closedir(d) }
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { throw MeshError(.caExists, "\(dataDir) is not empty; refusing to migrate into it") }
            }
        }
        let ca = try EtcdCAStateRepository(store: store, passphrase: passphrase).load()
        guard let admin = try store.kv.get(store.key("admin/token.sha256")) else { throw MeshError(.caCorrupt, "etcd holds no admin credential") }
        let policyRepo = try EtcdPolicyRepository(store: store)
        let policy = try policyRepo.load()
        let records = try EtcdIdentityRepository(store: store).load()
        let tokens = try EtcdTokenRepository(store: store).all()
        let sink = try EtcdAuditSink(store: store)
        _ = try sink.verify()
        let lines = try sink.lines()

        try DurableFile.makeDirectory(dataDir)
        try DurableFile.makeDirectory("\(dataDir)/policy")
        try DurableFile.write("\(dataDir)/policy/epoch", Array((policyRepo.epoch + "\n").utf8), mode: 0o600)
        if policy.version > 0 { try FilePolicyRepository(dataDir: dataDir).compareAndSet(expected: 0, policy) }
        try writeFileTokens(dataDir, tokens)
        try DurableFile.write("\(dataDir)/identities.json", FileIdentityRepository.encode(records), mode: 0o600)
        try DurableFile.write("\(dataDir)/audit.log", lines.flatMap { $0 + [0x0A] }, mode: 0o600)
        try DurableFile.write("\(dataDir)/admin.token.sha256", admin.value + [0x0A], mode: 0o600)
        let caDir = FileCAStateRepository.caDir(dataDir)
        try DurableFile.makeDirectory(caDir)
        for r in ca.all { try FileCAStateRepository.writeRootFiles(dir: caDir, r, passphrase: passphrase) }
        try FileCAStateRepository.persist(dir: caDir, ca)  // the commit point of the file store's CA
        return Summary(policyVersion: policy.version, tokens: tokens.count, identities: records.latest.count, auditRecords: lines.count)
    }

    /// The tokens of a data directory as `FileTokenRepository` reads them (`tokens.json` and `tokens.journal`).
    static func readFileTokens(_ dataDir: String) throws -> [JoinToken] {
        try FileTokenRepository(dataDir: dataDir).all()
    }

    static func writeFileTokens(_ dataDir: String, _ list: [JoinToken]) throws {
        let doc = JSONValue.object([("tokens", .array(list.map { t in
            .object([("hash", .string(t.hash)), ("identity", .string(t.identity.description)), ("expiresAt", .int(Int(t.expiresAt))),
                     ("usedAt", t.usedAt.map { .int(Int($0)) } ?? .null), ("createdBy", .string(t.createdBy))])
        }))])
        try DurableFile.write("\(dataDir)/tokens.json", Array((doc.text + "\n").utf8), mode: 0o600)
    }
}
