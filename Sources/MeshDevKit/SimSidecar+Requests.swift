import MeshAPI
import MeshCore
import MeshHTTP1
import MeshTLS

/// The three requests a simulated sidecar makes, and what it does with their answers.
extension SimSidecar {
    var hostHeader: (String, String) { ("Host", driver.address.description) }

    /// `GET /v1/slice?version=N&epoch=E[&wait=S]`: parked at the control plane until the mesh changes.
    func pollRequest() -> [UInt8] {
        var path = SliceAnswer.path(after: version, epoch: epoch)
        if let w = driver.options.wait { path += "&wait=\(w)" }
        driver.stats.pollsSent.add(1, ordering: .relaxed)
        return HTTPSerializer.request(method: "GET", target: path, headers: HTTPHeaders([hostHeader]))
    }

    /// `POST /v1/telemetry`: the unacknowledged batch again, or a new one of `--edges` synthetic edges.
    func reportRequest() -> [UInt8] {
        driver.stats.reportsSent.add(1, ordering: .relaxed)
        let body: [UInt8]
        if let u = unacked {
            body = u
        } else {
            seq += 1
            let now = Int(driver.clock.wallSeconds())
            let own = "sim/svc-\(index % driver.options.services)"
            let edges = (0..<driver.options.edges).map { e -> TelemetryEdge in
                let caller = "spiffe://\(driver.trustDomain.name)/ns/sim/sa/svc-\((index + e + 1) % driver.options.services)"
                var c = EdgeCounts()
                for k in 0..<(1 + (seq + e) % 4) {
                    c.record(bytesToDestination: 512 + 64 * k, bytesToCaller: 4096 + 128 * e, handshakeUs: 800 + 300 * k,
                             durationUs: 20_000 + 5_000 * e)
                }
                let allowed = e % 5 != 4
                let key = EdgeKey(observer: e % 2 == 0 ? .inbound : .outbound, caller: caller, destination: own, port: 8080,
                                  allowed: allowed, rule: allowed ? "sim-rule" : "", reason: allowed ? "allowed" : "no-matching-rule")
                return TelemetryEdge(key: key, counts: c)
            }
            let report = TelemetryReport(source: credential.id, instance: instance, seq: seq, policyVersion: max(0, version),
                                         windowStart: windowStart, windowEnd: now, edges: edges)
            windowStart = now
            body = Array(report.json.text.utf8)
            unacked = body
        }
        return HTTPSerializer.request(method: "POST", target: "/v1/telemetry",
                                      headers: HTTPHeaders([hostHeader, ("Content-Type", "application/json")]), body: body)
    }

    /// `POST /v1/identity` over our mTLS connection with a CSR for a fresh key (nil when the key cannot be made).
    func renewRequest() -> (PrivateKey, [UInt8])? {
        guard let key = try? PrivateKey.generateP256(), let csr = try? CertificateSigningRequest.create(key: key) else {
            driver.stats.error("sim.renew-keygen")
            return nil
        }
        let body = Array(IdentityRequest(csrPEM: String(decoding: csr.pem(), as: UTF8.self), token: nil).json.text.utf8)
        return (key, HTTPSerializer.request(method: "POST", target: "/v1/identity",
                                            headers: HTTPHeaders([hostHeader, ("Content-Type", "application/json")]), body: body))
    }

    func answered(_ request: Request) {
        let stats = driver.stats
        switch request {
        case .poll:
            if status == 304 { stats.pollsUnchanged.add(1, ordering: .relaxed); return }
            guard status == 200 else { return refused("poll") }
            do {
                let signed = try SignedSlice(json: try StrictJSON.parse(body, limits: SignedSlice.limits))
                let doc = try StrictJSON.parse(signed.documentBytes, limits: SignedSlice.limits)
                guard let e = doc["epoch"]?.stringValue, let v = doc["slice"]?["version"]?.intValue else {
                    throw MeshError(.simConnection, "a slice without epoch or version")
                }
                epoch = e
                version = v
                stats.pollsAnswered.add(1, ordering: .relaxed)
                stats.applied(index: index, version: v, nowNs: driver.clock.monotonicNs())
            } catch {
                stats.error("sim.connection: bad slice")
            }
        case .report:
            switch status {
            case 200:
                unacked = nil
                let ack = try? TelemetryAck(json: try StrictJSON.parse(body))
                if ack?.duplicate == true { stats.reportsDuplicate.add(1, ordering: .relaxed) } else { stats.reportsAccepted.add(1, ordering: .relaxed) }
            case 404:
                unacked = nil
                stats.reportsRouteMissing.add(1, ordering: .relaxed)
            default:
                // Refused (a 4xx is final for this batch; a 5xx would be retried by a sidecar, but the tool counts it).
                unacked = nil
                stats.reportsRefused.add(1, ordering: .relaxed)
                refused("report")
            }
        case .renew(let key):
            guard status == 200 else {
                stats.renewalsRefused.add(1, ordering: .relaxed)
                return refused("renew")
            }
            do {
                let a = try IdentityAnswer(json: try StrictJSON.parse(body))
                credential = try SimCredential(id: a.spiffeID, key: key, chainPEM: a.certificateChainPEM,
                                               bundle: driver.bundle, trustDomain: driver.trustDomain)
                stats.renewals.add(1, ordering: .relaxed)
                if stormPending {
                    stormPending = false
                    stats.stormRenewed(index: index, nowNs: driver.clock.monotonicNs())
                }
            } catch {
                stats.renewalsRefused.add(1, ordering: .relaxed)
                stats.error("sim.connection: bad renewal answer")
            }
        }
    }

    /// Counts a refusal by the API error code it carried (`<what> <status>` when there was none).
    func refused(_ what: String) {
        let code = (try? ErrorBody(json: try StrictJSON.parse(body)))?.error ?? "\(what) \(status)"
        driver.stats.error(code)
    }
}
