import Foundation
import Testing
import MeshCore
import MeshHTTP
import MeshHTTP1
import MeshNet
import MeshTLS

/// Black box: `/v1/audit` pages (`after`, `limit`), and `meshctl audit` follows the pages (hardening #8).
@Suite("Audit log paging")
struct AuditPagingTests {
    static func get(_ cp: ControlPlaneFixture, _ path: String) throws -> HTTPClient.Response {
        let bundle = try Certificate.parseChain(pem: Array(try Data(contentsOf: URL(fileURLWithPath: "\(cp.dataDir)/bundle.pem"))), maxCount: 16)
        let admin = try String(contentsOfFile: "\(cp.dataDir)/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let client = HTTPClient(address: try SocketAddress(HostPort(host: "127.0.0.1", port: cp.port)),
                                tls: try TLSContext.client(trusting: bundle, trustDomain: try TrustDomain("mesh.local")),
                                expectServer: try SPIFFEID.workload("spiffe://mesh.local/ns/mesh-system/sa/mesh-control"))
        return try client.send(method: "GET", path: path, headers: HTTPHeaders([("Authorization", "Bearer \(admin)")]))
    }

    @Test func pagesReturnEveryRecordOnceAndMeshctlFollowsThem() throws {
        let cp = try ControlPlaneFixture()
        defer { cp.stop() }
        for i in 0..<9 { _ = try cp.tokenFile("shop/svc\(i)") }
        var seqs: [Int] = []
        var after = 0
        var pages = 0
        while pages < 20 {
            let r = try Self.get(cp, "/v1/audit?after=\(after)&limit=4")
            #expect(r.status == 200, "\(r.text)")
            let doc = try StrictJSON.parse(r.body)
            let recs = doc["records"]?.arrayValue ?? []
            #expect(recs.count <= 4)
            seqs += recs.compactMap { $0["seq"]?.intValue }
            pages += 1
            guard let next = doc["next"]?.intValue else { break }
            after = next
        }
        #expect(seqs == Array(1...10), "ca.init + 9 token.create")
        #expect(pages == 3)
        let bad = try Self.get(cp, "/v1/audit?limit=100000")
        #expect(bad.status == 400 && bad.text.contains("api.bad-value"))
        #expect(try cp.auditRecords().count == 10)
        let verified = try cp.meshctl(["audit", "--verify"])
        #expect(verified.status == 0 && verified.stdout.contains("chain verified: true, 10 records"), "\(verified.stdout) \(verified.stderr)")
    }
}
