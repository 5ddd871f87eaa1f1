/// The static configuration of one sidecar (`mesh-sidecar run --config FILE`). The JSON schema is documented
/// in `mesh-config/README.md`; `SidecarConfig.parse(json:)` is the only way in, and it validates everything.
public struct SidecarConfig: Sendable, Equatable {
    public var identity: IdentityFiles
    public var inbound: [InboundListener]
    public var outbound: [OutboundListener]
    public var limits: Limits
    public var tls: TLSSettings
    public var log: LogSettings
    /// Event loops (threads); 0 means one per core.
    public var loops: Int
    /// The local stats endpoint.
    public var admin = AdminSettings()
    /// Set when allow lists come from the control plane's mesh configuration.
    public var policy: PolicySettings?
    /// Reporting to the control plane (used only with `identity.bootstrap`).
    public var telemetry = TelemetrySettings()
    /// Transparent interception of the app's outbound TCP (nil: off). See `SidecarConfig+Transparent.swift`.
    public var transparent: TransparentSettings?
    /// The DNS responder for the app (nil: off).
    public var dns: DNSSettings?
    /// Pooled hops of `http` outbound listeners.
    public var pool = PoolSettings()
    /// The request engine of inbound `http` ports.
    public var http = HTTPSettings()

    public init(identity: IdentityFiles, inbound: [InboundListener] = [], outbound: [OutboundListener] = [],
                limits: Limits = Limits(), tls: TLSSettings = TLSSettings(), log: LogSettings = LogSettings(),
                loops: Int = 0) {
        self.identity = identity
        self.inbound = inbound
        self.outbound = outbound
        self.limits = limits
        self.tls = tls
        self.log = log
        self.loops = loops
    }
}

/// Where the sidecar's own identity comes from.
public struct IdentityFiles: Sendable, Equatable {
    /// PEM: the leaf certificate first, then any intermediates.
    public var certificate: String
    /// PEM private key (PKCS#8 or SEC1), ECDSA P-256.
    public var key: String
    /// PEM: the trusted root certificates.
    public var trustBundle: String
    /// The only trust domain whose identities are accepted.
    public var trustDomain: TrustDomain
    /// When set, the sidecar obtains `certificate`, `key` and `trustBundle` itself from the control plane
    /// (join token first, then renewals) and writes them to those paths.
    public var bootstrap: BootstrapSettings?

    public init(certificate: String, key: String, trustBundle: String, trustDomain: TrustDomain) {
        self.certificate = certificate
        self.key = key
        self.trustBundle = trustBundle
        self.trustDomain = trustDomain
    }
}

/// A host (IPv4 or IPv6 literal, or `localhost`) and a TCP port.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// mTLS in from other sidecars → plaintext to the local app, for the identities allowed.
public struct InboundListener: Sendable, Equatable {
    public var name: String
    public var listen: HostPort
    public var forwardTo: HostPort
    public var allow: [SPIFFEID]
    /// The service port this listener serves (policy from the control plane decides per port).
    public var servicePort: Int?
    /// `http`: requests are parsed and decided one by one (with policy from the control plane, the protocol the
    /// mesh declares for the port wins). Default `tcp`.
    public var `protocol`: PortProtocol = .tcp
    public init(name: String, listen: HostPort, forwardTo: HostPort, allow: [SPIFFEID]) {
        self.name = name
        self.listen = listen
        self.forwardTo = forwardTo
        self.allow = allow
    }
}

/// Plaintext in from the local app → mTLS to a remote sidecar that must present `expectIdentity`.
public struct OutboundListener: Sendable, Equatable {
    public var name: String
    public var listen: HostPort
    /// A static address: the only one without policy from the control plane; with it, the fallback while the
    /// slice carries no endpoint of `to` (absent: endpoints from the slice only).
    public var upstream: HostPort?
    /// Who must answer; defaults to the identity of the service `to` names.
    public var expectIdentity: SPIFFEID
    /// The destination service and port, for the egress check of policy from the control plane.
    public var destination: ServiceKey?
    public var destinationPort: Int?
    /// Opt-in for a `listen` address other hosts can reach (default false: loopback only). Whoever can reach an
    /// outbound listener calls out with this sidecar's identity.
    public var allowNonLoopback = false
    /// `http`: the app's requests are parsed and carried over pooled keep-alive mTLS connections to the remote
    /// sidecar (with policy from the control plane, the protocol the mesh declares for the port wins). Default `tcp`.
    public var `protocol`: PortProtocol = .tcp
    public init(name: String, listen: HostPort, upstream: HostPort?, expectIdentity: SPIFFEID) {
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.expectIdentity = expectIdentity
    }
}

/// Every limit has a default (SECURITY.md §6), documented in `mesh-config/README.md`.
public struct Limits: Sendable, Equatable {
    /// TLS handshake must finish within this, or the connection is reaped.
    public var handshakeTimeoutMs: Int = 10_000
    /// Connecting to the app or the remote sidecar must finish within this.
    public var connectTimeoutMs: Int = 5_000
    /// A connection with no bytes moving either way for this long is closed.
    public var idleTimeoutMs: Int = 3_600_000
    /// Connections (accepted, proxied pairs count once) per sidecar; beyond it new ones are refused.
    public var maxConnections: Int = 10_000
    /// TLS handshakes in progress per event loop; beyond it accepts pause.
    public var maxConcurrentHandshakesPerLoop: Int = 256
    /// Bytes buffered per direction of a connection when the receiver is slow (backpressure beyond it).
    public var bufferBytes: Int = 16_384
    public init() {}
}

/// How TLS sessions are resumed between sidecars.
public enum ResumptionMode: String, Sendable, CaseIterable {
    /// TLS 1.3 stateless tickets.
    case tickets
    /// TLS 1.3 with a server-side session cache (cheapest on OpenSSL 3.0, see BENCHMARKS.md).
    case stateful
    /// Every connection does a full handshake.
    case off
}

public struct TLSSettings: Sendable, Equatable {
    public var resumption: ResumptionMode = .stateful
    /// Server-side session cache entries when `resumption` is `stateful`.
    public var sessionCacheSize: Int = 20_000
    /// Lifetime of a resumable session, seconds.
    public var sessionLifetimeSeconds: Int = 300
    public init() {}
}

public struct LogSettings: Sendable, Equatable {
    /// Append JSON lines to this file; nil means stderr.
    public var file: String?
    /// Also log every allowed connection (refusals and lifecycle events are always logged).
    public var logAllowed: Bool = false
    /// Rotate `file` when the next line would take it past this many bytes (64 MiB)…
    public var maxFileBytes: Int = 67_108_864
    /// … keeping this many old files, `FILE.1` (newest) … `FILE.<keepFiles>`.
    public var keepFiles: Int = 3
    /// Refusal and failed-connection lines per second, per reason (a token bucket), after …
    public var refusalLinesPerSecond: Int = 20
    /// … a burst of this many; the rest are counted (`mesh_log_suppressed_total`), not written.
    public var refusalLinesBurst: Int = 100
    public init() {}
}

/// The stats endpoint (`/healthz`, `/ready`, `/stats`, `/metrics`, `/config`, `/decisions`, `POST /reload`).
public struct AdminSettings: Sendable, Equatable {
    /// Default `127.0.0.1:15000`. State changes are accepted only from loopback callers, whatever the address.
    public var listen = HostPort(host: "127.0.0.1", port: 15000)
    public var enabled = true
    public init() {}
}

/// Where a bootstrapping sidecar gets its identity, and how it trusts the control plane the first time.
public struct BootstrapSettings: Sendable, Equatable {
    /// The control-plane replicas, in order of preference (`bootstrap.controlPlane`: one `"host:port"` or a
    /// non-empty array of them). Clients dial them in order and stay with the one that works (failover).
    public var controlPlanes: [HostPort]
    /// The first (preferred) replica; setting it replaces the list with that one address.
    public var controlPlane: HostPort {
        get { controlPlanes[0] }
        set { controlPlanes = [newValue] }
    }
    /// A file holding the single-use join token (`meshctl token create`).
    public var tokenFile: String
    /// The trust bundle as a PEM file, or …
    public var trustAnchor: String?
    /// … the SHA-256 fingerprint (hex) of a root the control plane's bundle must contain.
    public var trustAnchorSHA256: String?
    /// The identity the control plane must present (default `spiffe://<td>/ns/mesh-system/sa/mesh-control`).
    public var controlPlaneIdentity: SPIFFEID
    public init(controlPlane: HostPort, tokenFile: String, trustAnchor: String?, trustAnchorSHA256: String?, controlPlaneIdentity: SPIFFEID) {
        self.init(controlPlanes: [controlPlane], tokenFile: tokenFile, trustAnchor: trustAnchor,
                  trustAnchorSHA256: trustAnchorSHA256, controlPlaneIdentity: controlPlaneIdentity)
    }
    public init(controlPlanes: [HostPort], tokenFile: String, trustAnchor: String?, trustAnchorSHA256: String?,
                controlPlaneIdentity: SPIFFEID) {
        precondition(!controlPlanes.isEmpty, "bootstrap needs a control-plane address")
        self.controlPlanes = controlPlanes
        self.tokenFile = tokenFile
        self.trustAnchor = trustAnchor
        self.trustAnchorSHA256 = trustAnchorSHA256
        self.controlPlaneIdentity = controlPlaneIdentity
    }
}

/// Policy from the control plane: where the last slice applied is kept, so a restart without the control
/// plane still enforces it.
public struct PolicySettings: Sendable, Equatable {
    public var lastKnownGood: String
    public init(lastKnownGood: String) { self.lastKnownGood = lastKnownGood }
}
