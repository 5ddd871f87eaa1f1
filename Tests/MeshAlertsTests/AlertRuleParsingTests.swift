import MeshAlerts
import MeshCore
import Testing

/// Alert rules read strictly: each error names the path and the problem, and a rule reads back equal.
@Suite struct AlertRuleParsingTests {
    static func parse(_ text: String) throws(MeshError) -> AlertRule {
        try AlertRule(JSONNode(try StrictJSON.parse(Array(text.utf8)), path: JSONPath.root.appending("alerts").appending(index: 0)))
    }

    static func refusal(_ text: String) -> MeshError? {
        do { _ = try parse(text); return nil } catch { return error }
    }

    @Test func readsAProbingRuleWithQuarantine() throws {
        let rule = try Self.parse(#"{"name": "lateral", "kind": "probing", "distinct": 3, "window": "2m", "severity": "critical", "action": "quarantine", "quarantineFor": "1h", "description": "d"}"#)
        #expect(rule == AlertRule(name: "lateral", kind: .probing, severity: .critical, distinct: 3, window: 120, action: .quarantine,
                                  quarantineFor: 3600, description: "d"))
        #expect(rule.effectiveResolveAfter == 120)
        #expect(try AlertRule(JSONNode(rule.json)) == rule)
    }

    @Test func defaultsAreDocumented() throws {
        let spike = try Self.parse(#"{"name": "s", "kind": "deny-spike", "threshold": 10, "severity": "info"}"#)
        #expect(spike.effectiveWindow == 60 && spike.effectiveResolveAfter == 60 && spike.forSeconds == 0)
        let stale = try Self.parse(#"{"name": "s", "kind": "sidecar-stale", "severity": "warning"}"#)
        #expect(stale.effectiveResolveAfter == 0)
        let edge = try Self.parse(#"{"name": "e", "kind": "new-edge", "severity": "info", "learningPeriod": "0s"}"#)
        #expect(edge.learningPeriod == 0 && edge.effectiveResolveAfter == 300)
    }

    @Test func throttleActionReadsAndWritesBack() throws {
        let text = #"{"name": "spiky", "kind": "deny-spike", "threshold": 50, "severity": "warning", "action": "throttle", "throttlePerSecond": 2.5, "throttleFor": "10m"}"#
        let rule = try Self.parse(text)
        #expect(rule == AlertRule(name: "spiky", kind: .denySpike, severity: .warning, threshold: 50, action: .throttle,
                                  throttlePerSecond: 2.5, throttleFor: 600))
        #expect(rule.json.text.contains(#""action":"throttle","throttlePerSecond":2.5,"throttleFor":"600s""#), "\(rule.json.text)")
    }

    @Test(arguments: [
        (#"{"name": "s", "kind": "deny-spike", "severity": "info"}"#, "alert.missing-parameter", "alerts[0]: deny-spike needs threshold"),
        (#"{"name": "s", "kind": "probing", "window": "1m", "severity": "info"}"#, "alert.missing-parameter", "alerts[0]: probing needs distinct"),
        (#"{"name": "s", "kind": "deny-spike", "threshold": 5, "distinct": 2, "severity": "info"}"#, "alert.parameter-not-for-kind",
         "alerts[0].distinct: deny-spike takes no distinct; it takes: threshold, window"),
        (#"{"name": "s", "kind": "probing", "distinct": 2, "window": "soon", "severity": "info"}"#, "alert.bad-duration",
         "alerts[0].window: \"soon\": expected a duration like 30s, 5m, 1h or 2d, at most 86400 s"),
        (#"{"name": "s", "kind": "probing", "distinct": 2, "window": "2d", "severity": "info"}"#, "alert.bad-duration",
         "alerts[0].window: \"2d\": expected a duration like 30s, 5m, 1h or 2d, at most 86400 s"),
        (#"{"name": "s", "kind": "probing", "distinct": 1, "severity": "info"}"#, "config.out-of-range",
         "alerts[0].distinct: 1 is outside the allowed range 2...64"),
        (#"{"name": "s", "kind": "probing", "distinct": 2, "severity": "loud"}"#, "config.bad-value",
         "alerts[0].severity: \"loud\": expected one of info, warning, critical"),
        (#"{"name": "s", "kind": "port-scan", "severity": "info"}"#, "config.bad-value",
         "alerts[0].kind: \"port-scan\": expected one of deny-spike, probing, new-edge, unknown-identity, certificate-expiring, sidecar-stale, policy-out-of-sync, clone-suspected"),
        (#"{"name": "S", "kind": "probing", "distinct": 2, "severity": "info"}"#, "policy.bad-name",
         "alerts[0].name: \"S\" is not a DNS label (1 to 63 of a-z, 0-9, -; no - at either end)"),
        (#"{"name": "s", "kind": "probing", "distinct": 2, "severity": "info", "quarantineFor": "1h"}"#, "alert.bad-action",
         "alerts[0].quarantineFor: quarantineFor needs \"action\": \"quarantine\""),
        (#"{"name": "s", "kind": "sidecar-stale", "severity": "info", "action": "quarantine"}"#, "alert.bad-action",
         "alerts[0].action: sidecar-stale is about availability, not a threat: it cannot quarantine"),
        (#"{"name": "s", "kind": "probing", "distinct": 2, "severity": "info", "treshold": 3}"#, "config.unknown-field", nil),
        (#"{"name": "s", "kind": "probing", "distinct": 2, "severity": "info", "action": "throttle"}"#, "alert.missing-parameter",
         "alerts[0]: action throttle needs throttlePerSecond"),
        (#"{"name": "s", "kind": "probing", "distinct": 2, "severity": "info", "throttlePerSecond": 2}"#, "alert.bad-action",
         "alerts[0].throttlePerSecond: throttlePerSecond needs \"action\": \"throttle\""),
        (#"{"name": "s", "kind": "probing", "distinct": 2, "severity": "info", "action": "throttle", "throttlePerSecond": 0}"#,
         "config.out-of-range", nil),
        (#"{"name": "s", "kind": "sidecar-stale", "severity": "info", "action": "throttle", "throttlePerSecond": 1}"#, "alert.bad-action",
         "alerts[0].action: sidecar-stale is about availability, not a threat: it cannot throttle"),
    ] as [(String, String, String?)])
    func refuses(_ text: String, _ code: String, _ reason: String?) {
        let e = Self.refusal(text)
        #expect(e?.errorCode.id == code, "\(String(describing: e))")
        if let reason { #expect(e?.reason == reason) }
    }
}
