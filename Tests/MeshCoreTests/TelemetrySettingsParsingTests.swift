import MeshCore
import Testing
import MeshTestSupport

/// The sidecar config's `telemetry` section: defaults, bounds, and in force only with a control plane.
@Suite struct TelemetrySettingsParsingTests {
    typealias P = SidecarConfigParsingTests
    static let bootstrapIdentity = #"{"trustDomain": "mesh.local", "certificate": "a.crt", "key": "a.key", "trustBundle": "ca.crt", "bootstrap": {"controlPlane": "127.0.0.1:7443", "tokenFile": "t", "trustAnchor": "root.pem"}}"#

    static func managed(_ telemetry: String?) -> String {
        var members = [#""identity": \#(bootstrapIdentity)"#, #""inbound": [\#(P.inb())]"#]
        if let telemetry { members.append(#""telemetry": \#(telemetry)"#) }
        return ConfigDoc.object(members)
    }

    @Test func defaultsReportWithAControlPlaneOnly() throws {
        let withCP = try P.parse(Self.managed(nil))
        #expect(withCP.telemetry == TelemetrySettings())
        #expect(withCP.telemetry.intervalSeconds == 5 && withCP.telemetry.maxEdges == 1_024 && withCP.telemetry.enabled)
        #expect(withCP.reportsTelemetry)
        #expect(!(try P.parse(P.doc(inbound: [P.inb()]))).reportsTelemetry, "no control plane, nothing to report to")
        #expect(!(try P.parse(Self.managed(#"{"enabled": false}"#))).reportsTelemetry)
    }

    @Test func readsEveryField() throws {
        let t = try P.parse(Self.managed(#"{"enabled": true, "intervalSeconds": 300, "maxEdges": 16}"#)).telemetry
        #expect(t.enabled && t.intervalSeconds == 300 && t.maxEdges == 16)
    }

    @Test(arguments: [
        (managed(#"{"intervalSeconds": 0}"#), "config.out-of-range", "telemetry.intervalSeconds: "),
        (managed(#"{"intervalSeconds": 301}"#), "config.out-of-range", "telemetry.intervalSeconds: "),
        (managed(#"{"maxEdges": 15}"#), "config.out-of-range", "telemetry.maxEdges: "),
        (managed(#"{"maxEdges": 100001}"#), "config.out-of-range", "telemetry.maxEdges: "),
        (managed(#"{"enabled": "yes"}"#), "config.wrong-type", "telemetry.enabled: "),
        (managed(#"{"every": 5}"#), "config.unknown-field", "telemetry.every: "),
        (P.doc(inbound: [P.inb()], #""telemetry": {"enabled": true}"#), "config.bad-value", "telemetry.enabled: "),
    ])
    func refusesBadSettings(json: String, code: String, path: String) {
        expectMeshError(code, reasonPrefix: path) { _ = try P.parse(json) }
    }
}
