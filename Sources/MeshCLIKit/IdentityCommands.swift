import MeshCore

/// `meshctl identity revoke|list-revoked` and `meshctl metrics`: the identity lifecycle as an operator sees it.
enum IdentityCommands {
    /// `identity revoke --identity spiffe://… | --serial HEX [--reason TEXT]`.
    static func revoke(_ c: ControlClient, _ o: Options) throws -> Int32 {
        let identity = o.value("identity"), serial = o.value("serial")
        guard (identity == nil) != (serial == nil) else {
            throw UsageError("identity revoke needs exactly one of --identity spiffe://… or --serial HEX")
        }
        var members: [(String, JSONValue)] = []
        if let identity { members.append(("identity", .string(identity))) }
        if let serial { members.append(("serial", .string(serial))) }
        if let reason = o.value("reason") { members.append(("reason", .string(reason))) }
        let r = try c.call("POST", "/v1/identities/revoke", body: .object(members))
        if o.json { MeshctlCommand.out(r.text); return 0 }
        let v = r["revoked"]
        MeshctlCommand.out("revoked \(v?["identity"]?.stringValue ?? "serial " + (v?["serial"]?.stringValue ?? "?")) "
                           + "(deny list revision \(r["revision"]?.intValue ?? 0)); sidecars close its connections now")
        return 0
    }

    /// `identity list-revoked`: what is revoked, when, by whom and why.
    static func listRevoked(_ c: ControlClient, _ o: Options) throws -> Int32 {
        let r = try c.call("GET", "/v1/identities/revoked")
        if o.json { MeshctlCommand.out(r.text); return 0 }
        let rows = (r["revocations"]?.arrayValue ?? []).map { v -> [String] in
            [v["identity"]?.stringValue ?? "-", v["serial"]?.stringValue ?? "-", Table.time(v["revokedAt"]?.intValue),
             v["actor"]?.stringValue ?? "", v["reason"]?.stringValue ?? ""]
        }
        MeshctlCommand.out(Table.render(["IDENTITY", "SERIAL", "REVOKED AT", "BY", "REASON"], rows))
        return 0
    }

    /// `metrics`: the control plane's Prometheus text.
    static func metrics(_ c: ControlClient, _ o: Options) throws -> Int32 {
        let r = try c.api.exchange("GET", "/metrics")
        MeshctlCommand.out(String(decoding: r.body, as: UTF8.self))
        return 0
    }
}
