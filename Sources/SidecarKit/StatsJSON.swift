import MeshCore
import MeshHTTP
import MeshObservability

/// `GET /stats` and `GET /config` bodies, built by hand (no Foundation in the sidecar).
enum StatsJSON {
    /// The same snapshot `/metrics` renders, in the JSON shape `/stats` has always had; the agents' sections
    /// appear only when the agents run.
    static func render(_ snap: StatsSnapshot) -> String {
        func dir(_ d: Direction) -> String {
            let l: KeyValuePairs<String, String> = ["direction": d.rawValue]
            let resumed = snap.int("mesh_tls_handshakes_total", ["direction": d.rawValue, "resumed": "true"])
            let full = snap.int("mesh_tls_handshakes_total", ["direction": d.rawValue, "resumed": "false"])
            return "{\"opened\":\(snap.int("mesh_connections_opened_total", l)),\"closed\":\(snap.int("mesh_connections_closed_total", l)),"
                + "\"active\":\(snap.int("mesh_connections_active", l)),"
                + "\"bytesFromDownstream\":\(snap.int("mesh_proxied_bytes_total", ["direction": d.rawValue, "from": "downstream"])),"
                + "\"bytesFromUpstream\":\(snap.int("mesh_proxied_bytes_total", ["direction": d.rawValue, "from": "upstream"])),"
                + "\"handshakes\":\(full + resumed),\"handshakesResumed\":\(resumed)}"
        }
        func samples(_ name: String) -> [MetricSample] { snap.family(name)?.samples ?? [] }
        let failures = samples("mesh_connection_failures_total").map {
            "{\"direction\":\"\($0.label("direction") ?? "")\",\"reason\":\(JSONText.quote($0.label("reason") ?? "")),\"count\":\($0.value.intValue)}"
        }
        let decisions = samples("mesh_authz_decisions_total").map {
            "{\"direction\":\"\($0.label("direction") ?? "")\",\"verdict\":\"\($0.label("verdict") ?? "")\",\"rule\":\(JSONText.quote($0.label("rule") ?? "")),\"count\":\($0.value.intValue)}"
        }
        func results(_ name: String) -> String {
            "{\"success\":\(snap.int(name, ["result": "success"])),\"failure\":\(snap.int(name, ["result": "failure"]))}"
        }
        var out = "{\"inbound\":\(dir(.inbound)),\"outbound\":\(dir(.outbound)),\"open\":\(snap.int("mesh_connections_open")),"
            + "\"failures\":[\(failures.joined(separator: ","))],\"decisions\":[\(decisions.joined(separator: ","))],"
            + "\"reloads\":\(results("mesh_reloads_total"))" + snap.endpointsJSON()
        if snap.family("mesh_pool_hops_opened_total") != nil { out += ",\"pool\":\(snap.poolJSON())" }
        if snap.family("mesh_certificate_renewals_total") != nil {
            let notAfter = UTCTime.iso8601(Double(snap.int("mesh_certificate_expiry_timestamp_seconds")), milliseconds: true)
            out += ",\"identity\":{\"renewals\":\(results("mesh_certificate_renewals_total")),\"notAfter\":\(JSONText.quote(notAfter)),"
                + "\"expiring\":\(snap.int("mesh_certificate_expiring") == 1)}"
        }
        if snap.family("mesh_policy_polls_total") != nil {
            out += ",\"policy\":{\"version\":\(snap.int("mesh_policy_version")),\"polls\":\(results("mesh_policy_polls_total")),"
                + "\"lastKnownGood\":\(snap.int("mesh_policy_last_known_good") == 1)}"
        }
        if snap.family("mesh_telemetry_reports_total") != nil {
            let r = { (result: String) in snap.int("mesh_telemetry_reports_total", ["result": result]) }
            out += ",\"telemetry\":{\"reports\":{\"acknowledged\":\(r("acknowledged")),\"duplicate\":\(r("duplicate")),"
                + "\"failed\":\(r("failed")),\"dropped\":\(r("dropped"))},\"edges\":\(snap.int("mesh_telemetry_edges")),"
                + "\"foldedConnections\":\(snap.int("mesh_telemetry_folded_connections_total")),"
                + "\"pendingBatch\":\(snap.int("mesh_telemetry_pending_batch") == 1),\"lastAckSeq\":\(snap.int("mesh_telemetry_last_ack_seq"))}"
        }
        return out + "}\n"
    }
}

enum ConfigJSON {
    /// The active configuration and the material in force: certificate serial, SPIFFE ID, validity, trust-bundle
    /// fingerprints, when they were loaded, and how the last reload went.
    static func render(_ runtime: SidecarRuntime, reloader: Reloader) -> String {
        let state = runtime.state
        let c = state.config
        let leaf = state.identity.leaf
        let q = JSONText.quote
        let inbound = c.inbound.map {
            "{\"name\":\(q($0.name)),\"listen\":\(q($0.listen.description)),\"forwardTo\":\(q($0.forwardTo.description)),"
                + "\"allow\":[\($0.allow.map { q($0.description) }.joined(separator: ","))]}"
        }
        let outbound = c.outbound.map {
            "{\"name\":\(q($0.name)),\"listen\":\(q($0.listen.description)),\"upstream\":\($0.upstream.map { q($0.description) } ?? "null"),"
                + "\"expectIdentity\":\(q($0.expectIdentity.description))}"
        }
        let l = c.limits
        let limits = "{\"handshakeTimeoutMs\":\(l.handshakeTimeoutMs),\"connectTimeoutMs\":\(l.connectTimeoutMs),"
            + "\"idleTimeoutMs\":\(l.idleTimeoutMs),\"maxConnections\":\(l.maxConnections),"
            + "\"maxConcurrentHandshakesPerLoop\":\(l.maxConcurrentHandshakesPerLoop),\"bufferBytes\":\(l.bufferBytes)}"
        let bundle = state.identity.trustBundle.map {
            "{\"sha256\":\(q($0.sha256Fingerprint)),\"subject\":\(q($0.commonName)),\"notAfter\":\(q(UTCTime.iso8601($0.notAfter, milliseconds: true)))}"
        }
        let lastReload = reloader.lastReload.map {
            "{\"time\":\(q(UTCTime.iso8601($0.time, milliseconds: true))),\"trigger\":\(q($0.trigger)),\"ok\":\($0.ok),\"error\":\($0.error.map(q) ?? "null")}"
        } ?? "null"
        return "{\"generation\":\(state.generation),\"loadedAt\":\(q(UTCTime.iso8601(state.loadedAt, milliseconds: true))),"
            + "\"identity\":{\"spiffeID\":\(q(state.identity.spiffeID.description)),\"certificateSerial\":\(q(leaf.serialHex)),"
            + "\"notBefore\":\(q(UTCTime.iso8601(leaf.notBefore, milliseconds: true))),\"notAfter\":\(q(UTCTime.iso8601(leaf.notAfter, milliseconds: true))),"
            + "\"certificate\":\(q(c.identity.certificate)),\"key\":\(q(c.identity.key)),\"trustBundle\":\(q(c.identity.trustBundle)),"
            + "\"trustDomain\":\(q(c.identity.trustDomain.name))},"
            + "\"trustBundle\":[\(bundle.joined(separator: ","))],"
            + "\"inbound\":[\(inbound.joined(separator: ","))],\"outbound\":[\(outbound.joined(separator: ","))],"
            + "\"limits\":\(limits),\"tls\":{\"resumption\":\(q(c.tls.resumption.rawValue))},"
            + "\"admin\":{\"listen\":\(q(c.admin.listen.description))},"
            + "\"lastReload\":\(lastReload)}\n"
    }
}
