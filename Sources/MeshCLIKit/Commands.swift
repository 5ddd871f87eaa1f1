import MeshAPI
import MeshCore
import MeshNet

enum TokenCommands {
    static func create(_ c: ControlClient, _ o: Options) throws -> Int32 {
        guard let service = o.value("service") else { throw UsageError("token create needs --service NAMESPACE/NAME") }
        let ttl = try o.value("ttl").map { try Duration.seconds($0) } ?? 3600
        let r = try c.api.createToken(TokenRequest(service: service, ttlSeconds: ttl))
        if o.json { MeshctlCommand.out(r.json.text); return 0 }
        MeshctlCommand.out(r.token)
        Syscall.writeAll(fd: 2, "token for \(r.spiffeID), single use, expires \(Table.time(r.expiresAt))\n")
        return 0
    }
}

enum CACommands {
    static func status(_ c: ControlClient, _ o: Options) throws -> Int32 {
        print(try c.api.caStatus(), o)
        return 0
    }

    static func rotate(_ c: ControlClient, _ o: Options) throws -> Int32 {
        print(try c.api.rotateCA(), o)
        return 0
    }

    static func print(_ r: CAStatus, _ o: Options) {
        if o.json { MeshctlCommand.out(r.json.text); return }
        MeshctlCommand.out("trust domain \(r.trustDomain), issuing root \(r.issuing), "
                           + "cert TTL \(r.certTTLSeconds) s, rotation overlap \(r.rotationOverlapSeconds) s")
        let rows = r.roots.map { x in
            [String(x.id), x.phase, String(x.sha256.prefix(16)), Table.time(x.notAfter), x.nextChangeAt.map { Table.time($0) } ?? "-"]
        }
        MeshctlCommand.out(Table.render(["ROOT", "PHASE", "SHA256", "NOT AFTER", "NEXT CHANGE"], rows))
    }
}

enum AuditCommand {
    static func run(_ c: ControlClient, _ o: Options) throws -> Int32 {
        // Follows the pages (`next`) to the end. The control plane checks the whole chain first (the full
        // verification, `--verify`, the default) unless `--no-verify` asks only for the records.
        var records: [JSONValue] = []
        var path = "/v1/audit?limit=\(AuditPaging.pageSize)" + (o.value("no-verify") == nil ? "&verify=true" : "")
        let first = try c.call("GET", path)
        var r = first
        while true {
            records += r["records"]?.arrayValue ?? []
            guard let next = r["next"]?.intValue, records.count < AuditPaging.maxRecords else { break }
            path = "/v1/audit?limit=\(AuditPaging.pageSize)&after=\(next)"
            r = try c.call("GET", path)
        }
        let verified = first["verified"]?.boolValue == true
        if o.json {
            MeshctlCommand.out(JSONValue.object([("verified", .bool(verified)), ("count", first["count"] ?? .int(records.count)),
                                                 ("records", .array(records))]).text)
            return 0
        }
        let rows = records.map { x -> [String] in
            let skip: Set<String> = ["seq", "time", "actor", "action", "prev", "hash"]
            let detail: [String]
            if case .object(let m) = x {
                detail = m.filter { !skip.contains($0.0) }.map { "\($0.0)=\($0.1.stringValue ?? $0.1.text)" }
            } else {
                detail = []
            }
            return [String(x["seq"]?.intValue ?? 0), x["time"]?.stringValue ?? "", x["actor"]?.stringValue ?? "",
                    x["action"]?.stringValue ?? "", detail.joined(separator: " ")]
        }
        MeshctlCommand.out(Table.render(["SEQ", "TIME", "ACTOR", "ACTION", "DETAIL"], rows))
        MeshctlCommand.out(verified ? "chain verified: true, \(first["count"]?.intValue ?? 0) records"
                                    : "\(records.count) records (chain not checked: --no-verify)")
        return 0
    }
}

/// How `meshctl audit` pages: 1,000 records a request, at most 1,000,000 shown.
enum AuditPaging {
    static let pageSize = 1_000
    static let maxRecords = 1_000_000
}

enum Duration {
    static func seconds(_ text: String) throws -> Int {
        do { return Int(try DurationText.seconds(text)) } catch { throw UsageError(error.reason) }
    }
}

enum Table {
    static func render(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count) }
                .joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    static func time(_ t: Int?) -> String {
        guard let t else { return "-" }
        return UTCTime.iso8601(Double(t))
    }
}
