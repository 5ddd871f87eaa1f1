#if canImport(Glibc)
import Glibc
#endif
import MeshAPI
import MeshCore
import MeshPolicy
import MeshNet

/// `meshctl validate|apply|get|check|status`: the mesh configuration (services, segments, rules).
enum PolicyCommands {
    /// Every `*.json` directly in `dir`, sorted by name.
    static func readMesh(_ dir: String) throws -> [(name: String, content: String)] {
        guard let d = opendir(dir) else { throw MeshError(.fileUnreadable, "cannot open folder \(dir)") }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".json") { names.append(name) }
        }
        if names.isEmpty { throw MeshError(.fileUnreadable, "no *.json files in \(dir)") }
        let files = try names.sorted().map { n in
            switch FileIO.readAll("\(dir)/\(n)", limit: 4 << 20) {
            case .success(let b): return (name: n, content: String(decoding: b, as: UTF8.self))
            case .failure(let e): throw e
            }
        }
        // `issuers[].jwksFile` is read here, relative to the folder, and sent inline (the control plane reads no files).
        return try MeshPolicy.inlineJWKSFiles(files) { path in try FileIO.readAll("\(dir)/\(path)", limit: 1 << 20).get() }
    }

    /// Offline: no control plane needed. Exit 0 valid, 64 invalid.
    static func validate(_ o: Options) -> Int32 {
        guard let dir = o.value("f") ?? o.value("file") else { MeshctlCommand.err("meshctl validate: -f DIR is required"); return 64 }
        do {
            let files = try readMesh(dir)
            let p = try MeshPolicy.load(files: files.map { ($0.name, Array($0.content.utf8)) })
            try IssuerKeyCheck.validate(p)
            if o.json {
                MeshctlCommand.out(JSONValue.object([("valid", .bool(true)), ("services", .int(p.services.count)),
                                                     ("segments", .int(p.segments.count)), ("rules", .int(p.rules.count)), ("alerts", .int(p.alerts.count))]).text)
            } else {
                MeshctlCommand.out("valid: \(files.count) file(s), \(p.services.count) services, \(p.segments.count) segments, \(p.rules.count) rules"
                                   + (p.alerts.isEmpty ? "" : ", \(p.alerts.count) alert rules"))
            }
            return 0
        } catch let e as MeshError {
            MeshctlCommand.err("meshctl validate: \(e.code): \(e.reason)")
            return e.kind == .unreadable ? 66 : 64
        } catch {
            MeshctlCommand.err("meshctl validate: \(error)")
            return 64
        }
    }

    static func apply(_ c: ControlClient, _ o: Options) throws -> Int32 {
        guard let dir = o.value("f") ?? o.value("file") else { throw UsageError("apply needs -f DIR") }
        let files = try readMesh(dir)
        let body = JSONValue.object([("files", .array(files.map { .object([("name", .string($0.name)), ("content", .string($0.content))]) }))])
        let check = try c.call("POST", "/v1/mesh/validate", body: body)
        let base = check["baseVersion"]?.intValue ?? 0
        let diff = (check["diff"]?.arrayValue ?? []).compactMap(\.stringValue)
        if o.value("dry-run") != nil {
            if o.json { MeshctlCommand.out(check.text) } else { printDiff(diff, header: "dry run against version \(base):") }
            return 0
        }
        let r = try c.call("PUT", "/v1/mesh", body: body, headers: [("If-Match", "\"\(base)\"")])
        if o.json { MeshctlCommand.out(r.text); return 0 }
        printDiff((r["diff"]?.arrayValue ?? []).compactMap(\.stringValue), header: "applied: version \(base) → \(r["version"]?.intValue ?? 0)")
        return 0
    }

    static func printDiff(_ diff: [String], header: String) {
        MeshctlCommand.out(header)
        MeshctlCommand.out(diff.isEmpty ? "  (no changes)" : diff.map { "  " + $0 }.joined(separator: "\n"))
    }

    static func get(_ c: ControlClient, _ o: Options, what: String) throws -> Int32 {
        let r = try c.call("GET", "/v1/mesh")
        let mesh = r["mesh"] ?? .null
        guard let items = mesh[what]?.arrayValue else { throw UsageError("get services|segments|rules") }
        if o.json { MeshctlCommand.out(JSONValue.array(items).text); return 0 }
        func list(_ v: JSONValue?) -> String {
            (v?.arrayValue ?? []).compactMap { item in
                // A port with a protocol (`{"port": 8080, "protocol": "http"}`) shows as 8080/http.
                item.stringValue ?? item.intValue.map(String.init)
                    ?? item["port"]?.intValue.map { "\($0)/\(item["protocol"]?.stringValue ?? "tcp")" }
            }.joined(separator: ",")
        }
        func obj(_ v: JSONValue?) -> String {
            guard case .object(let m)? = v else { return "" }
            return m.map { k, v in v.arrayValue != nil ? "\(k)=\(list(v))" : "\(k)=\(v.stringValue ?? "")" }.joined(separator: " ")
        }
        let rows: [[String]]
        let header: [String]
        switch what {
        case "services":
            header = ["SERVICE", "PORTS", "LABELS", "ADDRESS"]
            rows = items.map { ["\($0["namespace"]?.stringValue ?? "")/\($0["name"]?.stringValue ?? "")", list($0["ports"]), obj($0["labels"]), $0["address"]?.stringValue ?? "-"] }
        case "segments":
            header = ["SEGMENT", "SELECTOR", "SERVICES"]
            rows = items.map { [$0["name"]?.stringValue ?? "", obj($0["selector"]), list($0["services"])] }
        default:
            header = ["RULE", "ACTION", "MODE", "FROM", "TO", "PORTS", "EXPIRES"]
            rows = items.map { [$0["name"]?.stringValue ?? "", $0["action"]?.stringValue ?? "", $0["mode"]?.stringValue ?? "",
                                obj($0["from"]), obj($0["to"]), list($0["ports"]).isEmpty ? "*" : list($0["ports"]), $0["expires"]?.stringValue ?? "-"] }
        }
        MeshctlCommand.out("version \(r["version"]?.intValue ?? 0)")
        MeshctlCommand.out(Table.render(header, rows))
        return 0
    }

    /// Exit 0 when allowed, 1 when denied (so scripts can branch on it).
    static func check(_ c: ControlClient, _ o: Options) throws -> Int32 {
        if CheckRequestCommand.wanted(o) { return try CheckRequestCommand.run(c, o) }
        guard let from = o.value("from"), let to = o.value("to"), let port = o.value("port") else {
            throw UsageError("check needs --from NS/NAME (or a SPIFFE ID) --to NS/NAME --port N")
        }
        let q = "from=\(percent(from))&to=\(percent(to))&port=\(percent(port))"
        let r = try c.call("GET", "/v1/check?\(q)")
        let e = r["explanation"] ?? .null
        let quarantined = r["quarantined"]?.arrayValue ?? []
        let allowed = e["verdict"]?["allowed"]?.boolValue == true && quarantined.isEmpty
        if o.json { MeshctlCommand.out(r.text); return allowed ? 0 : 1 }
        for q in quarantined {
            MeshctlCommand.out("DENIED: \(q["identity"]?.stringValue ?? "?") is quarantined (\(q["reason"]?.stringValue ?? "")): "
                               + "every sidecar denies it above every rule; the rules alone would say:")
        }
        let rule = e["verdict"]?["rule"]?.stringValue ?? "?"
        MeshctlCommand.out("\(allowed ? "ALLOWED" : "DENIED"): \(e["from"]?.stringValue ?? from) → \(to):\(port) by \(rule) (mesh version \(r["version"]?.intValue ?? 0))")
        if let shadow = e["shadow"], shadow != .null {
            MeshctlCommand.out("audit (not enforced): would be \(shadow["allowed"]?.boolValue == true ? "allowed" : "denied") by \(shadow["rule"]?.stringValue ?? "?")")
        }
        let rows = (e["rules"]?.arrayValue ?? []).map { [$0["rule"]?.stringValue ?? "", $0["action"]?.stringValue ?? "", $0["mode"]?.stringValue ?? "",
                                                        $0["status"]?.stringValue ?? "", $0["reason"]?.stringValue ?? ""] }
        if !rows.isEmpty { MeshctlCommand.out(Table.render(["RULE", "ACTION", "MODE", "STATUS", "WHY"], rows)) }
        return allowed ? 0 : 1
    }

    /// The per-rule table of an explanation computed here (`meshctl check` at layer 7).
    static func ruleTable(_ e: PolicyExplanation) -> String {
        Table.render(["RULE", "ACTION", "MODE", "STATUS", "WHY"],
                     e.rules.map { [$0.rule, $0.action.rawValue, $0.mode.rawValue, $0.status.rawValue, $0.reason] })
    }

    static func percent(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            let c = Character(Unicode.Scalar(b))
            if c.isLetter && b < 128 || c.isNumber && b < 128 || "-._~/".contains(c) { out.append(c) } else {
                out += "%" + String(b, radix: 16, uppercase: true).leftPad2
            }
        }
        return out
    }
}

extension String {
    var leftPad2: String { count == 1 ? "0" + self : self }
}
