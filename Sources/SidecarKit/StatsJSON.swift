import MeshCore
import MeshHTTP

/// `GET /stats` and `GET /config` bodies, built by hand (no Foundation in the sidecar).
enum StatsJSON {
    static func render(_ runtime: SidecarRuntime) -> String {
        let s = runtime.stats
        func dir(_ d: Direction) -> String {
            let x = s.of(d)
            return "{\"opened\":\(x.opened.load(ordering: .relaxed)),\"closed\":\(x.closed.load(ordering: .relaxed)),"
                + "\"active\":\(x.active.load(ordering: .relaxed)),\"bytesFromDownstream\":\(x.bytesFromDownstream.load(ordering: .relaxed)),"
                + "\"bytesFromUpstream\":\(x.bytesFromUpstream.load(ordering: .relaxed)),\"handshakes\":\(x.handshakes.load(ordering: .relaxed)),"
                + "\"handshakesResumed\":\(x.handshakesResumed.load(ordering: .relaxed))}"
        }
        let failures = s.failureCounts().sorted { ($0.key.direction.rawValue, $0.key.reason) < ($1.key.direction.rawValue, $1.key.reason) }
            .map { "{\"direction\":\"\($0.key.direction.rawValue)\",\"reason\":\(JSONText.quote($0.key.reason.rawValue)),\"count\":\($0.value)}" }
        let decisions = s.decisionCounts().sorted { ($0.key.direction.rawValue, $0.key.rule) < ($1.key.direction.rawValue, $1.key.rule) }
            .map { "{\"direction\":\"\($0.key.direction.rawValue)\",\"verdict\":\"\($0.key.allowed ? "allow" : "deny")\",\"rule\":\(JSONText.quote($0.key.rule)),\"count\":\($0.value)}" }
        return "{\"inbound\":\(dir(.inbound)),\"outbound\":\(dir(.outbound)),\"open\":\(s.open.load(ordering: .relaxed)),"
            + "\"failures\":[\(failures.joined(separator: ","))],\"decisions\":[\(decisions.joined(separator: ","))],"
            + "\"reloads\":{\"success\":\(s.reloadsOK.load(ordering: .relaxed)),\"failure\":\(s.reloadsFailed.load(ordering: .relaxed))}}\n"
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
            "{\"name\":\(q($0.name)),\"listen\":\(q($0.listen.description)),\"upstream\":\(q($0.upstream.description)),"
                + "\"expectIdentity\":\(q($0.expectIdentity.description))}"
        }
        let l = c.limits
        let limits = "{\"handshakeTimeoutMs\":\(l.handshakeTimeoutMs),\"connectTimeoutMs\":\(l.connectTimeoutMs),"
            + "\"idleTimeoutMs\":\(l.idleTimeoutMs),\"maxConnections\":\(l.maxConnections),"
            + "\"maxConcurrentHandshakesPerLoop\":\(l.maxConcurrentHandshakesPerLoop),\"bufferBytes\":\(l.bufferBytes)}"
        let bundle = state.identity.trustBundle.map {
            "{\"sha256\":\(q($0.sha256Fingerprint)),\"subject\":\(q($0.commonName)),\"notAfter\":\(q(EventLog.iso8601($0.notAfter)))}"
        }
        let lastReload = reloader.lastReload.map {
            "{\"time\":\(q(EventLog.iso8601($0.time))),\"trigger\":\(q($0.trigger)),\"ok\":\($0.ok),\"error\":\($0.error.map(q) ?? "null")}"
        } ?? "null"
        return "{\"generation\":\(state.generation),\"loadedAt\":\(q(EventLog.iso8601(state.loadedAt))),"
            + "\"identity\":{\"spiffeID\":\(q(state.identity.spiffeID.description)),\"certificateSerial\":\(q(leaf.serialHex)),"
            + "\"notBefore\":\(q(EventLog.iso8601(leaf.notBefore))),\"notAfter\":\(q(EventLog.iso8601(leaf.notAfter))),"
            + "\"certificate\":\(q(c.identity.certificate)),\"key\":\(q(c.identity.key)),\"trustBundle\":\(q(c.identity.trustBundle)),"
            + "\"trustDomain\":\(q(c.identity.trustDomain.name))},"
            + "\"trustBundle\":[\(bundle.joined(separator: ","))],"
            + "\"inbound\":[\(inbound.joined(separator: ","))],\"outbound\":[\(outbound.joined(separator: ","))],"
            + "\"limits\":\(limits),\"tls\":{\"resumption\":\(q(c.tls.resumption.rawValue))},"
            + "\"admin\":{\"listen\":\(q(c.admin.listen.description))},"
            + "\"lastReload\":\(lastReload)}\n"
    }
}
