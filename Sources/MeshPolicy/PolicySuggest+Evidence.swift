import MeshCore

/// What one suggested rule rests on: connections per port and observer, first and last seen, and the rules that
/// decided the observed flows. Written into the rule's `description` (bounded by `maxDescriptionBytes`).
struct SuggestEvidence {
    /// port → observer → connections.
    var ports: [Int: [String: Int]] = [:]
    var firstSeen = Int.max
    var lastSeen = 0
    var allowedBy: Set<String> = []
    var shadowAllowedBy: Set<String> = []

    mutating func add(_ flow: ObservedFlow) {
        ports[flow.port, default: [:]][flow.observer, default: 0] += flow.connections
        firstSeen = min(firstSeen, flow.firstSeen)
        lastSeen = max(lastSeen, flow.lastSeen)
        if flow.allowed {
            allowedBy.insert(flow.rule)
        } else if flow.shadowAllowed == true {
            shadowAllowedBy.insert(flow.shadowRule ?? "?")
        }
    }

    /// `Observed: port 8080: 6 inbound, 6 outbound connections; first seen …Z, last seen …Z; allowed by a;
    /// shadow-allowed (audit) by b.`
    var description: String {
        let perPort = ports.keys.sorted().map { port in
            let counts = ports[port]!.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            return "port \(port): \(counts) connections"
        }
        var parts = ["Observed: " + perPort.joined(separator: "; "),
                     "first seen \(UTCTime.iso8601(Double(firstSeen))), last seen \(UTCTime.iso8601(Double(lastSeen)))"]
        if !allowedBy.isEmpty { parts.append("allowed by " + allowedBy.sorted().joined(separator: ", ")) }
        if !shadowAllowedBy.isEmpty { parts.append("shadow-allowed (audit) by " + shadowAllowedBy.sorted().joined(separator: ", ")) }
        let text = parts.joined(separator: "; ") + "."
        // ASCII only (labels, digits, timestamps), so cutting bytes cuts characters.
        guard text.utf8.count > MeshPolicy.maxDescriptionBytes else { return text }
        return String(decoding: text.utf8.prefix(MeshPolicy.maxDescriptionBytes - 3), as: UTF8.self) + "..."
    }
}

/// Deterministic, collision-free rule names (DNS labels, at most 63 bytes):
/// `observed-<caller name>-to-<destination name>` when those names alone are unambiguous among the suggested
/// pairs, else `observed-<caller ns>-<caller name>-to-<destination ns>-<destination name>`, and when that is
/// too long or still collides (with another suggestion or a `reserved` name), its first 54 bytes plus `-` and
/// 8 hex digits of a FNV-1a hash of the two keys.
enum SuggestNaming {
    static let maxLength = 63

    static func names(for pairs: [SuggestPair], reserved: Set<String>) -> [SuggestPair: String] {
        func short(_ p: SuggestPair) -> String { "observed-\(p.caller.name)-to-\(p.destination.name)" }
        func long(_ p: SuggestPair) -> String {
            "observed-\(p.caller.namespace)-\(p.caller.name)-to-\(p.destination.namespace)-\(p.destination.name)"
        }
        var shortCount: [String: Int] = [:]
        for p in pairs { shortCount[short(p), default: 0] += 1 }
        var candidate: [SuggestPair: String] = [:]
        for p in pairs {
            let s = short(p), l = long(p)
            if shortCount[s] == 1, s.utf8.count <= maxLength, !reserved.contains(s) {
                candidate[p] = s
            } else if l.utf8.count <= maxLength, !reserved.contains(l) {
                candidate[p] = l
            } else {
                candidate[p] = ""
            }
        }
        var uses: [String: Int] = [:]
        for name in candidate.values { uses[name, default: 0] += 1 }
        var taken = reserved
        var out: [SuggestPair: String] = [:]
        for p in pairs where !candidate[p]!.isEmpty && uses[candidate[p]!] == 1 {
            out[p] = candidate[p]!
            taken.insert(candidate[p]!)
        }
        for p in pairs where out[p] == nil {
            var salt = 0
            var name = hashed(long(p), "\(p.caller)>\(p.destination)")
            while taken.contains(name) {
                salt += 1
                name = hashed(long(p), "\(p.caller)>\(p.destination)#\(salt)")
            }
            out[p] = name
            taken.insert(name)
        }
        return out
    }

    static func hashed(_ stem: String, _ key: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        let hex = String(UInt32(truncatingIfNeeded: h ^ (h >> 32)), radix: 16)
        let padded = String(repeating: "0", count: 8 - hex.count) + hex
        return String(decoding: stem.utf8.prefix(maxLength - 9), as: UTF8.self) + "-" + padded
    }
}
