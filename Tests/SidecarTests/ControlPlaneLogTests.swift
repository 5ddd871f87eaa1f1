import Foundation
import Testing

/// Black box: the control plane logs in the sidecar's shape, `{"ts":…,"event":…}`, one JSON object a line.
@Suite("Control plane log")
struct ControlPlaneLogTests {
    @Test func controlPlaneLinesCarryTsLikeTheSidecars() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        var started: [String: Any]?
        let deadline = Date().addingTimeInterval(5)
        while started == nil && Date() < deadline {
            let text = (try? String(contentsOfFile: cp.logPath, encoding: .utf8)) ?? ""
            started = text.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
                .first { $0["event"] as? String == "started" }
            if started == nil { usleep(50_000) }
        }
        let line = try #require(started)
        let ts = try #require(line["ts"] as? String)
        #expect(ts.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression) != nil, "\(ts)")
        #expect(line["time"] == nil)
        #expect(line["listen"] as? String == "127.0.0.1:\(cp.port)")
    }
}
