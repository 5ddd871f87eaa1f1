import Foundation
import Glibc
import Testing
import MeshTestSupport
@testable import SidecarKit

/// `mesh-sidecar init-iptables` / `cleanup-iptables`: the rules, their flags, and that cleanup removes exactly
/// what init added (real iptables, in a namespace the test creates).
@Suite struct TransparentIptablesTests {
    static func sidecar(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try ChildProcess.run(SidecarProcess.binDir + "/mesh-sidecar", args)
    }

    /// iptables-save without its timestamp comments and packet counters.
    static func saved(_ ns: NetNS) throws -> String {
        try ns.exec(["/usr/sbin/iptables-save"]).stdout.split(separator: "\n")
            .filter { !$0.hasPrefix("#") }
            .map { $0.replacingOccurrences(of: #"\[\d+:\d+\]"#, with: "[]", options: .regularExpression) }
            .joined(separator: "\n")
    }

    @Test func badFlagsExit64() throws {
        #expect(try Self.sidecar(["init-iptables"]).status == 64)  // --proxy-uid is required
        #expect(try Self.sidecar(["init-iptables", "--proxy-uid", "x"]).status == 64)
        #expect(try Self.sidecar(["init-iptables", "--proxy-uid", "1", "--outbound-port", "0"]).status == 64)
        #expect(try Self.sidecar(["init-iptables", "--proxy-uid", "1", "--inbound-ports", "80,,81"]).status == 64)
        #expect(try Self.sidecar(["init-iptables", "--proxy-uid", "1", "--exclude-outbound-cidrs", "10.0.0.0/33"]).status == 64)
        #expect(try Self.sidecar(["init-iptables", "--proxy-uid", "1", "--bogus", "1"]).status == 64)
        #expect(try Self.sidecar(["cleanup-iptables", "--proxy-uid", "1"]).status == 64)
        #expect(try Self.sidecar(["init-iptables", "--proxy-uid"]).status == 64)
    }

    @Test func dryRunPrintsTheRulesInOrder() throws {
        let r = try Self.sidecar(["init-iptables", "--dry-run", "--proxy-uid", "1337", "--inbound-ports", "8080,9090",
                                  "--exclude-inbound-ports", "9090", "--exclude-outbound-ports", "22",
                                  "--exclude-outbound-cidrs", "10.96.0.0/12", "--dns-port", "15053"])
        #expect(r.status == 0)
        #expect(r.stdout.split(separator: "\n").map(String.init) == [
            "iptables -t nat -N MESH_OUTPUT",
            "iptables -t nat -A MESH_OUTPUT -m owner --uid-owner 1337 -j RETURN",
            "iptables -t nat -A MESH_OUTPUT -p udp --dport 53 -j REDIRECT --to-ports 15053",
            "iptables -t nat -A MESH_OUTPUT -d 127.0.0.0/8 -j RETURN",
            "iptables -t nat -A MESH_OUTPUT -d 10.96.0.0/12 -j RETURN",
            "iptables -t nat -A MESH_OUTPUT -p tcp --dport 22 -j RETURN",
            "iptables -t nat -A MESH_OUTPUT -p tcp -j REDIRECT --to-ports 15001",
            "iptables -t nat -A OUTPUT -j MESH_OUTPUT",
            "iptables -t nat -N MESH_PREROUTING",
            "iptables -t nat -A MESH_PREROUTING -p tcp --dport 8080 -j REDIRECT --to-ports 15443",
            "iptables -t nat -A PREROUTING -j MESH_PREROUTING",
        ])
        let c = try Self.sidecar(["cleanup-iptables", "--dry-run"])
        #expect(c.status == 0)
        #expect(c.stdout.contains("iptables -t nat -D OUTPUT -j MESH_OUTPUT\n") && c.stdout.contains("iptables -t nat -X MESH_PREROUTING\n"))
    }

    @Test(.enabled(if: NetNS.unavailableReason == nil, "needs root, ip and iptables"))
    func cleanupRemovesExactlyWhatInitAdded() throws {
        let ns = try NetNS("mti")
        defer { ns.delete() }
        // Unrelated rules that must survive: in nat (our hooks included), in filter, and a user chain.
        try ns.exec(["/usr/sbin/iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "--dport", "9", "-j", "RETURN"])
        try ns.exec(["/usr/sbin/iptables", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "7", "-j", "REDIRECT", "--to-ports", "77"])
        try ns.exec(["/usr/sbin/iptables", "-t", "nat", "-N", "OTHER_CHAIN"])
        try ns.exec(["/usr/sbin/iptables", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"])
        let before = try Self.saved(ns)
        let args = ["init-iptables", "--proxy-uid", "1337", "--inbound-ports", "8080", "--exclude-outbound-cidrs", "10.96.0.0/12", "--dns-port", "15053"]
        #expect(try ns.run([SidecarProcess.binDir + "/mesh-sidecar"] + args).status == 0)
        #expect(try ns.run([SidecarProcess.binDir + "/mesh-sidecar"] + args).status == 0)  // again: replaces, no duplicates
        let during = try Self.saved(ns)
        #expect(during.components(separatedBy: "-A OUTPUT -j MESH_OUTPUT").count == 2)
        #expect(during.contains("-A MESH_OUTPUT -m owner --uid-owner 1337 -j RETURN"))
        #expect(during.contains("-A MESH_PREROUTING -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 15443"))
        #expect(during.contains("-A OTHER_CHAIN") || during.contains(":OTHER_CHAIN"))
        #expect(try ns.run([SidecarProcess.binDir + "/mesh-sidecar", "cleanup-iptables"]).status == 0)
        #expect(try Self.saved(ns) == before)
        // Cleanup with nothing installed changes nothing and succeeds.
        #expect(try ns.run([SidecarProcess.binDir + "/mesh-sidecar", "cleanup-iptables"]).status == 0)
        #expect(try Self.saved(ns) == before)
    }

    @Test(.enabled(if: NetNS.unavailableReason == nil, "needs root, ip and iptables"))
    func aFailingRuleRollsBackEverything() throws {
        let ns = try NetNS("mtr")
        defer { ns.delete() }
        try ns.exec(["/usr/sbin/iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "--dport", "9", "-j", "RETURN"])  // nat exists
        let before = try Self.saved(ns)
        // The real iptables in the namespace, except that the REDIRECT rule fails half-way through init.
        var seen: [[String]] = []
        let status = InterceptionCommand.main("init-iptables", ["--proxy-uid", "1", "--iptables", "/usr/sbin/iptables"]) { args, quiet in
            seen.append(args)
            if args.contains("REDIRECT") { return 1 }
            return (try? ns.run(["/usr/sbin/iptables"] + args).status) ?? 127
        }
        #expect(status == 70)
        #expect(seen.contains { $0.contains("-X") })
        #expect(try Self.saved(ns) == before)
    }
}
