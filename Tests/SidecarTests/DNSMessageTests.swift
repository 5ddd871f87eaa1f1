import MeshCore
import Testing
import MeshTestSupport
@testable import SidecarKit

/// DNS parsing vectors (truncated, compression loops, oversized, odd label types), answers, name outcomes,
/// virtual IP assignment and resolv.conf.
@Suite struct DNSMessageTests {
    /// A standard query for `name` (type `type`), ID 0x1234, RD set.
    static func query(_ name: String, type: UInt16 = 1, id: UInt16 = 0x1234) -> [UInt8] {
        var b: [UInt8] = [UInt8(id >> 8), UInt8(id & 255), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") { b.append(UInt8(label.utf8.count)); b += Array(label.utf8) }
        b += [0, UInt8(type >> 8), UInt8(type & 255), 0, 1]
        return b
    }

    static let header: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]

    @Test func parsesAStandardQueryLowercased() throws {
        let q = try DNSWire.query(Self.query("Payments.SHOP.mesh.local"))
        #expect(q.id == 0x1234 && q.recursionDesired)
        #expect(q.question == DNSQuestion(labels: ["payments", "shop", "mesh", "local"], type: 1, qclass: 1))
        #expect(q.questionEnd == Self.query("Payments.SHOP.mesh.local").count)
    }

    @Test func truncatedMessagesAreRejected() {
        let full = Self.query("payments.shop.mesh.local")
        expectMeshError("dns.malformed", reasonPrefix: "shorter than a header") { _ = try DNSWire.query(Array(full.prefix(11))) }
        // Cut inside a label, right after the root byte (no type), and inside the class.
        for cut in [14, full.count - 4, full.count - 1] {
            expectMeshError("dns.malformed") { _ = try DNSWire.query(Array(full.prefix(cut))) }
        }
        // A label length pointing past the end.
        expectMeshError("dns.malformed", reasonPrefix: "label runs past the end") { _ = try DNSWire.query(Self.header + [40, 97, 98]) }
        // A pointer missing its second byte.
        expectMeshError("dns.malformed", reasonPrefix: "truncated compression pointer") { _ = try DNSWire.query(Self.header + [0xC0]) }
    }

    @Test func compressionLoopsAreRejected() {
        // The question's name is a pointer to itself.
        expectMeshError("dns.malformed", reasonPrefix: "compression pointer at byte 12") {
            _ = try DNSWire.query(Self.header + [0xC0, 12, 0, 1, 0, 1])
        }
        // A label then a pointer back to that label: a loop through two names' worth of bytes.
        expectMeshError("dns.malformed", reasonPrefix: "compression pointer at byte 14") {
            _ = try DNSWire.query(Self.header + [1, 97, 0xC0, 12, 0, 1, 0, 1])
        }
        // Forward pointers and pointers into the header are refused too.
        expectMeshError("dns.malformed") { _ = try DNSWire.query(Self.header + [0xC0, 20, 0, 1, 0, 1, 0, 0, 0, 0, 1, 97, 0]) }
        expectMeshError("dns.malformed") { _ = try DNSWire.query(Self.header + [0xC0, 2, 0, 1, 0, 1]) }
        // A chain that goes back each time is followed: "b" at 14 → "a" at 12 → end.
        let msg = Self.header + [1, 97, 0, 1, 98, 0xC0, 12]
        #expect((try? DNSWire.name(msg, at: 15))?.labels == ["b", "a"])
        #expect((try? DNSWire.name(msg, at: 15))?.next == 19)
    }

    @Test func oversizedNamesLabelsAndMessagesAreRejected() {
        let label63 = String(repeating: "a", count: 63)
        expectMeshError("dns.malformed", reasonPrefix: "name longer than 255") {
            _ = try DNSWire.query(Self.query([label63, label63, label63, label63].joined(separator: ".")))
        }
        #expect((try? DNSWire.query(Self.query([label63, label63, label63, String(repeating: "b", count: 61)].joined(separator: ".")))) != nil)
        // 64-byte labels do not exist: 0x40 is an (obsolete) extended label type.
        expectMeshError("dns.malformed", reasonPrefix: "label type 0x40") { _ = try DNSWire.query(Self.header + [0x40] + Array(repeating: 97, count: 64) + [0, 0, 1, 0, 1]) }
        expectMeshError("dns.malformed", reasonPrefix: "query of 1233 bytes") { _ = try DNSWire.query(Self.query("a") + Array(repeating: 0, count: 1233 - 19)) }
    }

    @Test func onlyPlainQueriesAreAccepted() {
        var response = Self.query("a.b")
        response[2] |= 0x80
        expectMeshError("dns.malformed", reasonPrefix: "a response") { _ = try DNSWire.query(response) }
        var update = Self.query("a.b")
        update[2] |= 5 << 3
        expectMeshError("dns.malformed", reasonPrefix: "opcode 5") { _ = try DNSWire.query(update) }
        var two = Self.query("a.b")
        two[5] = 2
        expectMeshError("dns.malformed", reasonPrefix: "counts 2/0/0/0") { _ = try DNSWire.query(two) }
    }

    @Test func answersCarryTheQuestionAndTheAddress() throws {
        let bytes = Self.query("payments.shop.mesh.local")
        let q = try DNSWire.query(bytes)
        let a = DNSWire.answer(to: q, in: bytes, rcode: 0, addresses: [0xF0F0_0102], ttl: 5, authoritative: true)
        #expect(Array(a[0..<12]) == [0x12, 0x34, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 0])
        #expect(Array(a[12..<q.questionEnd]) == Array(bytes[12...]))
        #expect(Array(a[q.questionEnd...]) == [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 240, 240, 1, 2])
        let nx = DNSWire.answer(to: q, in: bytes, rcode: 3, addresses: [], ttl: 0, authoritative: true)
        #expect(nx[3] & 0x0F == 3 && nx[7] == 0 && nx.count == q.questionEnd)
    }

    @Test func meshNamesAnsweredOthersForwarded() {
        let key = ServiceKey(namespace: "shop", name: "payments")
        let names = DNSNames(domain: "mesh.local", virtualIPs: [key: 0xF0F0_0102])
        func q(_ n: String, _ t: UInt16 = 1) -> DNSQuestion { DNSQuestion(labels: n.split(separator: ".").map(String.init), type: t, qclass: 1) }
        #expect(names.outcome(q("payments.shop.mesh.local")) == .answer(0xF0F0_0102))
        #expect(names.outcome(q("payments.shop.mesh.local", 28)) == .noData)
        #expect(names.outcome(q("ledger.shop.mesh.local")) == .nxdomain)
        #expect(names.outcome(q("x.payments.shop.mesh.local")) == .nxdomain)
        #expect(names.outcome(q("mesh.local")) == .nxdomain)
        #expect(names.outcome(q("example.com")) == .forward)
        #expect(names.outcome(q("payments.shop.mesh.localx")) == .forward)
        #expect(names.outcome(q("local")) == .forward)
    }

    @Test func virtualIPsAreStableAndCollisionsMoveTheLaterKey() {
        let a = ServiceKey(namespace: "shop", name: "payments")
        #expect(VirtualIPs.assign([a])[a] == VirtualIPs.home(a))
        #expect(VirtualIPs.contains(VirtualIPs.home(a)))
        // Find two keys with the same home slot; the one sorting first keeps it, the other takes the next.
        var seen: [UInt32: ServiceKey] = [:]
        var pair: (ServiceKey, ServiceKey)?
        for i in 0..<5_000 {
            let k = ServiceKey(namespace: "ns", name: "svc\(i)")
            if let other = seen[VirtualIPs.home(k)] { pair = (other, k); break }
            seen[VirtualIPs.home(k)] = k
        }
        guard let (x, y) = pair else { Issue.record("no collision in 5,000 keys"); return }
        let (first, second) = x < y ? (x, y) : (y, x)
        let table = VirtualIPs.assign([second, first])
        #expect(table[first] == VirtualIPs.home(first))
        #expect(table[second] == VirtualIPs.home(first) + 1 || VirtualIPs.home(first) & 0xFFFF == 65_534)
        #expect(Set(table.values).count == 2)
    }

    @Test func resolvConfFirstIPv4Nameserver() {
        #expect(ResolvConf.firstNameserver("# c\nsearch x\nnameserver ::1\nnameserver\t10.0.0.2\nnameserver 10.0.0.3\n") == HostPort(host: "10.0.0.2", port: 53))
        #expect(ResolvConf.firstNameserver("search x\n") == nil)
    }
}
