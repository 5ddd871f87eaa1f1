import MeshCore

/// What the responder does with one question: the mesh's names (`<service>.<namespace>.<domain>`) are answered
/// here with the service's virtual IP, other names under the domain do not exist, everything else is forwarded.
enum DNSOutcome: Equatable {
    case answer(UInt32)
    /// The name exists but has no record of the type asked (AAAA of a mesh name: the app falls back to A).
    case noData
    case nxdomain
    case forward
}

struct DNSNames {
    let domain: [String]
    let virtualIPs: [ServiceKey: UInt32]
    /// Seconds an answer may be cached: short, since a new slice may move or drop a name.
    static let ttl: UInt32 = 5

    init(domain: String, virtualIPs: [ServiceKey: UInt32]) {
        self.domain = domain.split(separator: ".").map(String.init)
        self.virtualIPs = virtualIPs
    }

    func outcome(_ q: DNSQuestion) -> DNSOutcome {
        let n = q.labels.count, d = domain.count
        guard n >= d, Array(q.labels[(n - d)...]) == domain else { return .forward }
        guard n == d + 2, q.qclass == DNSWire.classIN || q.qclass == 255 else { return .nxdomain }
        guard let ip = virtualIPs[ServiceKey(namespace: q.labels[1], name: q.labels[0])] else { return .nxdomain }
        return q.type == DNSWire.typeA || q.type == 255 ? .answer(ip) : .noData
    }
}

/// The system resolver: the first `nameserver` line of resolv.conf text (IPv4 only; port 53).
enum ResolvConf {
    static let path = "/etc/resolv.conf"

    static func firstNameserver(_ text: String) -> HostPort? {
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, words[0] == "nameserver" else { continue }
            if IPv4Destination.parseIPv4(String(words[1])) != nil { return HostPort(host: String(words[1]), port: 53) }
        }
        return nil
    }
}
