/// Listener and upstream addresses in the sidecar config: `host:port` or `[v6]:port`, where the host is an
/// IPv4 dotted literal, an IPv6 literal, or `localhost`. No names are resolved and nothing is normalised.
extension HostPort {
    /// Parses `text` strictly. Codes: `config.bad-address` (shape or host), `config.bad-port` (not 1-65535
    /// written as plain decimal digits without a leading zero). Reasons quote `text`; callers prefix the path.
    public init(parsing text: String) throws(MeshError) {
        let bytes = Array(text.utf8)
        let colon = UInt8(ascii: ":")
        let hostBytes: ArraySlice<UInt8>
        let portBytes: ArraySlice<UInt8>
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else {
                throw MeshError(.configBadAddress, "\(text.debugDescription): missing ']' after the IPv6 address")
            }
            guard close + 1 < bytes.count, bytes[close + 1] == colon else {
                throw MeshError(.configBadAddress, "\(text.debugDescription): expected ':<port>' after ']'")
            }
            hostBytes = bytes[1..<close]
            portBytes = bytes[(close + 2)...]
            guard IPLiteral.ipv6(hostBytes) != nil else {
                throw MeshError(.configBadAddress, "\(text.debugDescription): the bracketed host is not an IPv6 literal")
            }
        } else {
            guard let last = bytes.lastIndex(of: colon) else {
                throw MeshError(.configBadAddress, "\(text.debugDescription): expected host:port or [ipv6]:port")
            }
            hostBytes = bytes[..<last]
            portBytes = bytes[(last + 1)...]
            if hostBytes.contains(colon) {
                throw MeshError(.configBadAddress,
                                "\(text.debugDescription): an IPv6 address must be written in brackets, as [addr]:port")
            }
            guard hostBytes.elementsEqual("localhost".utf8) || IPLiteral.ipv4(hostBytes) != nil else {
                throw MeshError(.configBadAddress,
                                "\(text.debugDescription): the host must be an IPv4 or IPv6 literal or localhost")
            }
        }
        let digits = portBytes.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        guard digits, (1...5).contains(portBytes.count), portBytes.first != UInt8(ascii: "0"),
              let port = Int(String(decoding: portBytes, as: UTF8.self)), (1...65535).contains(port) else {
            let portText = String(decoding: portBytes, as: UTF8.self).debugDescription
            throw MeshError(.configBadPort, "\(text.debugDescription): port \(portText) is not a number in 1...65535")
        }
        self.init(host: String(decoding: hostBytes, as: UTF8.self), port: UInt16(port))
    }
}

/// Strict IP literal parsing (the forms `inet_pton` accepts, minus IPv4 leading zeros and IPv6 zone IDs).
enum IPLiteral {
    /// Four decimal octets 0-255 without leading zeros (`010` would mean 8 to some parsers).
    static func ipv4(_ text: some Collection<UInt8>) -> [UInt8]? {
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  part.count == 1 || part.first != UInt8(ascii: "0"),
                  let value = UInt8(String(decoding: part, as: UTF8.self)) else { return nil }
            octets.append(value)
        }
        return octets
    }

    /// RFC 4291 text form: eight groups of 1-4 hex digits, or fewer with exactly one `::` standing for at least
    /// one zero group; the last 32 bits may be written as an IPv4 literal.
    static func ipv6(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        let bytes = Array(text)
        var doubleColon: Int?
        for i in 0..<max(0, bytes.count - 1) where bytes[i] == 0x3A && bytes[i + 1] == 0x3A {
            doubleColon = i
            break
        }
        var groups: [UInt16]
        if let split = doubleColon {
            guard let head = ipv6Groups(bytes[..<split], ipv4Tail: false),
                  let tail = ipv6Groups(bytes[(split + 2)...], ipv4Tail: true),
                  head.count + tail.count <= 7 else { return nil }
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let all = ipv6Groups(bytes[...], ipv4Tail: true), all.count == 8 else { return nil }
            groups = all
        }
        return groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// Colon-separated groups (empty text → none); an empty group (from `:::` or a stray `:`) fails.
    private static func ipv6Groups(_ text: ArraySlice<UInt8>, ipv4Tail: Bool) -> [UInt16]? {
        if text.isEmpty { return [] }
        let fields = text.split(separator: 0x3A, omittingEmptySubsequences: false)
        var groups: [UInt16] = []
        for (index, field) in fields.enumerated() {
            if ipv4Tail && index == fields.count - 1 && field.contains(UInt8(ascii: ".")) {
                guard let v4 = ipv4(field) else { return nil }
                groups += [UInt16(v4[0]) << 8 | UInt16(v4[1]), UInt16(v4[2]) << 8 | UInt16(v4[3])]
                continue
            }
            let isHex = field.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }
            guard (1...4).contains(field.count), isHex,
                  let value = UInt16(String(decoding: field, as: UTF8.self), radix: 16) else { return nil }
            groups.append(value)
        }
        return groups
    }
}

/// The addresses a listener host stands for, to find two listeners that would bind the same socket.
struct HostAddresses {
    /// 4-byte IPv4 or 16-byte IPv6 addresses; IPv4-mapped IPv6 addresses are folded to IPv4.
    let addresses: Set<[UInt8]>
    /// `0.0.0.0` or `::`: binds every address of the port (Linux dual-stack sockets cover IPv4 too).
    let isWildcard: Bool

    init(_ host: String) {
        let bytes = Array(host.utf8)
        var address: [UInt8]
        if bytes.elementsEqual("localhost".utf8) {
            addresses = [[127, 0, 0, 1], Array(repeating: 0, count: 15) + [1]]
            isWildcard = false
            return
        } else if let v4 = IPLiteral.ipv4(bytes) {
            address = v4
        } else if let v6 = IPLiteral.ipv6(bytes[...]) {
            let mappedPrefix: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF]
            address = v6.starts(with: mappedPrefix) ? Array(v6[12...]) : v6
        } else {
            address = bytes  // not reachable for a parsed HostPort; compares by text
        }
        addresses = [address]
        isWildcard = address.allSatisfy { $0 == 0 } && (address.count == 4 || address.count == 16)
    }

    func overlaps(_ other: HostAddresses) -> Bool {
        isWildcard || other.isWildcard || !addresses.isDisjoint(with: other.addresses)
    }
}
