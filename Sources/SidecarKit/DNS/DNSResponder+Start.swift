import MeshCore
import MeshNet

extension DNSResponder {
    /// The responder the config asks for (nil: no `dns` section, or disabled), on `loop`, answering from the
    /// runtime's current slice. The resolver is `dns.upstream`, else the first nameserver of `resolvConf`.
    static func start(runtime: SidecarRuntime, loop: EventLoop, resolvConf: String = ResolvConf.path) throws -> DNSResponder? {
        guard let settings = runtime.config.dns, settings.enabled else { return nil }
        var upstream = settings.upstream
        if upstream == nil, case .success(let bytes) = FileIO.readAll(resolvConf, limit: 64 * 1024) {
            upstream = ResolvConf.firstNameserver(String(decoding: bytes, as: UTF8.self))
        }
        if upstream == nil {
            runtime.log.event("dns-no-upstream", fields: [("resolvConf", .string(resolvConf))])
        }
        let cache = DNSNameCache(domain: settings.domain)
        return try DNSResponder(settings: settings, upstream: try upstream.map { try SocketAddress($0) }, loop: loop) {
            cache.names(for: runtime.state)
        }
    }
}

/// The name table of the last state seen (rebuilt when the state is swapped); touched on one loop only.
final class DNSNameCache {
    let domain: String
    private var cached: (state: SidecarState, names: DNSNames)?

    init(domain: String) { self.domain = domain }

    func names(for state: SidecarState) -> DNSNames {
        if let c = cached, c.state === state { return c.names }
        let n = DNSNames(domain: domain, virtualIPs: VirtualIPs.assign(state.slice?.destinations.map(\.service) ?? []))
        cached = (state, n)
        return n
    }
}
