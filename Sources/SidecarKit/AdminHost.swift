import MeshCore

/// The stats endpoint's `Host` rule (DNS-rebinding defence): a page a local browser loaded from `evil.example`
/// can make that name resolve to 127.0.0.1 and read `/config` and `/decisions` as same-origin. Such a request
/// still carries `Host: evil.example`, so only an IP literal or `localhost` (any case, optional port) is
/// answered; everything else, a missing Host included, is refused with `admin.bad-host` (403).
enum AdminHost {
    static func isAcceptable(_ value: String?) -> Bool {
        guard let value, !value.isEmpty, value.utf8.count <= 255 else { return false }
        var host = Substring(value)
        var port: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let rest = host[host.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return false }
                port = rest.dropFirst()
            }
            host = host[host.index(after: host.startIndex)..<close]
            guard host.contains(":") else { return false }
        } else if let colon = host.lastIndex(of: ":") {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        if let port, port.isEmpty || port.count > 5 || !port.allSatisfy({ $0.isASCII && $0.isNumber }) { return false }
        if host.lowercased() == "localhost" { return true }
        return HostPort(host: String(host), port: 1).hostIsIPLiteral
    }
}
