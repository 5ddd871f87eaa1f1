/// Settings of `mesh-control serve`, with their defaults.
public struct ControlSettings: Sendable {
    /// Lifetime of issued workload certificates (default 24 h; at least 10 s).
    public var certTTL: Double = 86_400
    /// How long a new root is distributed before it issues, and an old one is kept after it stops (default:
    /// `certTTL`, the longest leaf lifetime, so every sidecar renews once in between).
    public var rotationOverlap: Double?
    /// Issuances per identity per minute (default 30); beyond it 429.
    public var issuesPerMinute = 30
    /// How long after its certificate expired a sidecar may still renew with it (default: `certTTL`); later it
    /// needs a new join token. It proves possession of the key the CA certified, so this only bridges an
    /// outage of the control plane.
    public var renewalGrace: Double?
    /// A sidecar is "in sync" when it applied the current version and was heard from within this many seconds
    /// (default 90: three long polls of 30 s, so one lost poll does not make it look stale).
    public var inSyncWindow: Double = 90
    /// How far in the future a renewing certificate's notBefore may lie (clock skew between hosts, default 60 s).
    public var clockSkew: Double = 60
    /// How long a join token lives when the operator does not say (default 1 h).
    public var defaultTokenTTL: Double = 3600
    /// Longest a join token may live (default 30 days).
    public var maxTokenTTL: Double = 30 * 86_400
    /// Open API connections (default 16,384: 10,000 sidecars polling, with room for bootstraps, renewals and
    /// operators); beyond it new ones are closed at once. `serve` raises the fd limit to fit when it may.
    public var maxConnections = 16_384
    /// Parked policy long polls, counted apart (default 12,288): beyond it a poll is answered 503
    /// `control.long-polls-full` at once, so polls can never take the slots bootstraps and renewals need.
    public var maxLongPolls = 12_288
    /// A connection must have sent a complete request within this many ms of being accepted (TLS handshake
    /// included: that has its own 10 s deadline too), and each later request within as long of its first
    /// byte; silent ones are reaped (default 10 s, separate from the 30 s long-poll wait).
    public var requestTimeoutMs: Int64 = 10_000
    /// A keep-alive API connection with no request for this long is closed (default 60 s; a sidecar's shared
    /// channel replaces its connection after 45 s idle, before this).
    public var idleTimeoutMs: Int64 = 60_000

    /// Serving at scale (DESIGN.md, "One control plane for 10,000 sidecars").
    /// TLS handshakes in progress per event loop (default 256); beyond it that loop stops accepting until one
    /// finishes, and new connections wait in the listen queue.
    public var maxHandshakesPerLoop = 256
    /// `listen(2)` backlog per loop's socket (default 4,096, capped by the kernel's `net.core.somaxconn`).
    public var listenBacklog: Int32 = 4_096
    var listenBacklogInt: Int {
        get { Int(listenBacklog) }
        set { listenBacklog = Int32(newValue) }
    }
    /// How long a TLS session ticket of the serving context may be resumed (default 1,200 s: twice a sidecar
    /// channel's 600 s connection age, so an aged-out reconnect resumes; never past the client certificate's
    /// expiry, nor past the serving certificate's renewal: the tickets' keys die with its context).
    public var tlsSessionLifetimeSeconds = 1_200

    /// Automatic quarantines (from alert rules) mesh-wide per `automaticQuarantineWindow` (default 3 per 60 s);
    /// beyond it refused (`quarantine.rate-limited`) and raised as a security event. Operators are not limited.
    public var maxAutomaticQuarantines = 3
    public var automaticQuarantineWindow: Double = 60

    /// Bounds of the telemetry store: 100,000 edge keys, 2,000,000 bucket entries, 50,000 instances.
    public var telemetry = TelemetryStore.Limits()

    /// Bounds of endpoint registration: 1,000 per service, 50,000 in all, dropped after 90 s unheard.
    public var endpoints = EndpointRegistry.Limits()

    public init() {}

    public var grace: Double { renewalGrace ?? certTTL }
    public var overlap: Double { rotationOverlap ?? certTTL }
}
