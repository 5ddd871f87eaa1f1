#if canImport(Glibc)
import Glibc
#endif
import MeshCore
import MeshPolicy
import MeshNet

/// What a transparently intercepted connection was going to: a mesh service and port (mTLS, the service's
/// identity expected, decided by the slice's egress rules like an outbound listener to it), or a declared
/// external destination (`service == nil`: plain TCP passthrough, no identity).
struct TransparentTarget {
    let service: ServiceKey?
    let port: Int
    let original: SocketAddress
}

extension ProxyConnection {
    /// Listener name transparent connections are counted and logged under.
    static let transparentListenerName = "transparent"

    /// A connection redirected by iptables: read its original destination, map it through the slice, then go
    /// on exactly as an outbound listener to that service would (egress check, dial, mTLS, expected identity).
    static func startTransparent(fd: Int32, peer: SocketAddress, intake: TransparentIntake, context: LoopContext) {
        guard let (c, down) = openOutbound(fd: fd, peer: peer, listener: transparentListenerName,
                                           port: intake.settings.listen.port, context: context) else { return }
        guard let original = Socket.originalDestination(fd) else {
            c.finish(reason: .noOriginalDestination, detail: "no original destination (not redirected by iptables)", refused: true)
            return
        }
        switch intake.routes(for: c.state).route(original) {
        case .loop:
            c.finish(reason: .transparentLoop, detail: "original destination \(original) is this sidecar", refused: true)
        case .notMesh:
            c.finish(reason: .egressNotMesh, detail: "to \(original): not a mesh service nor a declared external destination",
                     refused: true, rule: Verdict.defaultDenyRule)
        case .external:
            c.transparent = TransparentTarget(service: nil, port: Int(original.port), original: original)
            c.allowRule = "external"
            c.recordDecision(allowed: true, reason: "external-destination", rule: "external", detail: "to \(original)")
            c.connect(down, to: original)
        case .mesh(let d, let port, let upstream):
            c.transparent = TransparentTarget(service: d.service, port: port, original: original)
            c.destination = (d.service, port)
            if let verdict = c.egressVerdict(c.state), case .deny(let rule, let why) = verdict {
                c.finish(reason: why == .quarantined ? .identityQuarantined : .egressNotAllowed,
                         detail: "to \(d.service):\(port) (original destination \(original))", refused: true, rule: rule)
                return
            }
            c.allowRule = "\(transparentListenerName)/\(d.service)"
            // An `http` port: requests on pooled hops, as from an outbound `http` listener (the receiving sidecar
            // decides each one either way; this saves a handshake per app connection).
            if c.state.slice?.outbound[d.service]?.protocol(port: port) == .http {
                return c.startPooledHTTP(down, upstream: upstream, target: .transparent(d.service, port: port), readNow: false)
            }
            c.dialUpstream(down, upstream, key: "\(transparentListenerName)/\(d.service):\(port)")
        }
    }

    /// Plain TCP to a declared external destination: no TLS upstream.
    var isPassthrough: Bool { transparent != nil && transparent?.service == nil }

    /// Resumable sessions are kept per remote service: per listener, or per destination service when transparent.
    var sessionKey: String {
        guard let s = transparent?.service else { return listener }
        return "\(Self.transparentListenerName)/\(s)"
    }

    /// Who the upstream must be in state `s`: the outbound listener's expected identity, or the transparent
    /// destination service's identity in the slice (nil: no longer a destination, or passthrough).
    func expectedServer(in s: SidecarState) -> SPIFFEID? {
        guard let t = transparent else { return s.authorizer.expectedServer(listener: listener) }
        guard let service = t.service else { return nil }
        return s.slice?.outbound[service]?.identity
    }

    /// The egress decision in state `s` (nil: static policy, or an external destination the config declares).
    func outboundDecision(in s: SidecarState) -> PolicyDecision? {
        guard let t = transparent else { return s.authorizer.outbound(listener: listener, now: runtime.clock.wallSeconds()) }
        guard let service = t.service else { return nil }
        // Optional chaining, not `guard let`: binding the slice copies it.
        guard let me = s.slice?.identity,
              let decided = s.slice?.egressDecision(ConnectionFacts(peer: me, destination: service, port: t.port,
                                                                    now: runtime.clock.wallSeconds())) else {
            return PolicyDecision(enforced: .deny(rule: Verdict.defaultDenyRule, reason: .noPolicy))
        }
        return decided
    }
}
