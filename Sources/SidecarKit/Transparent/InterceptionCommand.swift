#if canImport(Glibc)
import Glibc
#endif
import MeshCore

/// `mesh-sidecar init-iptables` and `cleanup-iptables`: flags like Istio's istio-iptables and Linkerd's
/// proxy-init, rules from `InterceptionRules`, run through `iptables` (whichever backend the system's binary
/// uses). Exit 0 done, 64 bad flags, 70 an iptables command failed (init then removes what it added).
enum InterceptionCommand {
    static let usage = """
    Usage: mesh-sidecar init-iptables --proxy-uid UID [--proxy-gid GID] [--outbound-port 15001]
                                      [--inbound-port 15443] [--inbound-ports 8080,9090|*]
                                      [--exclude-outbound-ports P,...] [--exclude-outbound-cidrs CIDR,...]
                                      [--exclude-inbound-ports P,...] [--dns-port 15053]
                                      [--iptables iptables] [--dry-run]
           mesh-sidecar cleanup-iptables [--iptables iptables] [--dry-run]
    """

    /// Runs one iptables command; returns its exit status (127: could not start). `quiet`: output discarded.
    typealias Runner = (_ arguments: [String], _ quiet: Bool) -> Int32

    static func main(_ verb: String, _ args: [String], runner: Runner? = nil) -> Int32 {
        var rules = InterceptionRules(proxyUID: -1)
        var binary = "iptables"
        var dryRun = false
        var i = 0
        func value() -> String? { i + 1 < args.count ? args[i + 1] : nil }
        while i < args.count {
            let flag = args[i]
            if flag == "--dry-run" { dryRun = true; i += 1; continue }
            if flag == "--help" || flag == "-h" { SidecarCommand.out(usage); return 0 }
            guard let v = value() else { return bad("\(flag) needs a value") }
            i += 2
            switch (verb, flag) {
            case (_, "--iptables"): binary = v
            case ("init-iptables", "--proxy-uid"): guard let n = Int(v), n >= 0 else { return bad("--proxy-uid: not a UID: \(v)") }; rules.proxyUID = n
            case ("init-iptables", "--proxy-gid"): guard let n = Int(v), n >= 0 else { return bad("--proxy-gid: not a GID: \(v)") }; rules.proxyGID = n
            case ("init-iptables", "--outbound-port"): guard let p = port(v) else { return bad("\(flag): not a port: \(v)") }; rules.outboundPort = p
            case ("init-iptables", "--inbound-port"): guard let p = port(v) else { return bad("\(flag): not a port: \(v)") }; rules.inboundPort = p
            case ("init-iptables", "--dns-port"): guard let p = port(v) else { return bad("\(flag): not a port: \(v)") }; rules.dnsPort = p
            case ("init-iptables", "--inbound-ports"):
                if v == "*" { rules.allInbound = true } else { guard let l = ports(v) else { return bad("\(flag): not a port list: \(v)") }; rules.inboundPorts = l }
            case ("init-iptables", "--exclude-outbound-ports"): guard let l = ports(v) else { return bad("\(flag): not a port list: \(v)") }; rules.excludeOutboundPorts = l
            case ("init-iptables", "--exclude-inbound-ports"): guard let l = ports(v) else { return bad("\(flag): not a port list: \(v)") }; rules.excludeInboundPorts = l
            case ("init-iptables", "--exclude-outbound-cidrs"):
                let l = v.split(separator: ",").map(String.init)
                for c in l where IPv4Destination(parsing: c + ":1") == nil { return bad("\(flag): not an IPv4 CIDR: \(c)") }
                rules.excludeOutboundCIDRs = l
            default: return bad("unknown flag \(flag)")
            }
        }
        if verb == "init-iptables" && rules.proxyUID < 0 { return bad("--proxy-uid is required (the sidecar's own traffic must not be redirected)") }
        let run: Runner = dryRun ? { a, _ in SidecarCommand.out(([binary] + a).joined(separator: " ")); return 0 } : runner ?? { spawn(binary, $0, quiet: $1) }
        if verb == "cleanup-iptables" { return cleanup(run, dryRun: dryRun) ? 0 : 70 }
        if !dryRun { _ = cleanup(run, dryRun: false) }  // idempotent: a second init replaces the first
        for a in rules.install where run(a, false) != 0 {
            err("mesh-sidecar: \(MeshError(.iptablesFailed, "\(binary) \(a.joined(separator: " ")) failed; removing what was added"))")
            _ = cleanup(run, dryRun: false)
            return 70
        }
        return 0
    }

    /// Deletes our jumps (each as often as it is there, at most 16 times) and our chains; nothing else.
    static func cleanup(_ run: Runner, dryRun: Bool) -> Bool {
        var ok = true
        for (hook, chain) in InterceptionRules.owned {
            if dryRun {
                _ = run(["-t", "nat", "-D", hook, "-j", chain], false)
                _ = run(["-t", "nat", "-F", chain], false)
                _ = run(["-t", "nat", "-X", chain], false)
                continue
            }
            for _ in 0..<16 where run(["-t", "nat", "-C", hook, "-j", chain], true) == 0 {
                if run(["-t", "nat", "-D", hook, "-j", chain], false) != 0 { ok = false; break }
            }
            if run(["-t", "nat", "-n", "-L", chain], true) == 0 {
                if run(["-t", "nat", "-F", chain], false) != 0 || run(["-t", "nat", "-X", chain], false) != 0 { ok = false }
            }
        }
        return ok
    }

    static func port(_ s: String) -> UInt16? { UInt16(s).flatMap { $0 > 0 ? $0 : nil } }

    static func ports(_ s: String) -> [UInt16]? {
        let l = s.split(separator: ",", omittingEmptySubsequences: false).map { port(String($0)) }
        return l.contains(where: { $0 == nil }) || l.isEmpty ? nil : l.compactMap { $0 }
    }

    private static func bad(_ message: String) -> Int32 {
        err("mesh-sidecar: \(message)\n\n\(usage)")
        return 64
    }

    private static func err(_ s: String) { SidecarCommand.err(s) }

    /// Runs `binary args` (searched in PATH) and waits; `quiet` sends its output to /dev/null.
    static func spawn(_ binary: String, _ args: [String], quiet: Bool) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if quiet {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawnp(&pid, binary, &actions, nil, argv, environ) == 0 else { return 127 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128
    }
}
