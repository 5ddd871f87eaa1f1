import MeshAlerts
import MeshCore

/// The mesh policy (microsegmentation, ARCHITECTURE.md "Policy"): services, segments and rules, validated all or
/// nothing by `MeshPolicy.load(files:limits:)`, evaluated without I/O (time is a parameter), and compiled into
/// per-service slices (`compile(version:)`). Schema and error codes: `PolicyParsing.swift`.

/// A service: its identity is `spiffe://<trust domain>/ns/<namespace>/sa/<name>`.
public struct PolicyService: Sendable, Equatable {
    public let key: ServiceKey
    public let identity: SPIFFEID
    public let labels: [String: String]
    /// Ascending, unique, each 1...65535; at least one.
    public let ports: [Int]
    /// The service's sidecar inbound (mTLS) address, when known.
    public let address: HostPort?
    /// Port → protocol for the ports declared `http` (absent: `tcp`).
    public internal(set) var protocols: [Int: PortProtocol] = [:]

    /// What `port` speaks.
    public func `protocol`(port: Int) -> PortProtocol { protocols[port] ?? .tcp }
}

/// A named set of services, either by label selector (every label must match) or by listing.
public struct PolicySegment: Sendable, Equatable {
    public let name: String
    /// Set when the segment selects by labels.
    public let selector: [String: String]?
    /// Set when the segment lists its services.
    public let services: [ServiceKey]?
    /// The services in the segment, ascending (resolved when the policy is loaded).
    public internal(set) var members: [ServiceKey]
}

public enum PolicyAction: String, Sendable, CaseIterable {
    case allow, deny
}

public enum PolicyMode: String, Sendable, CaseIterable {
    /// The rule decides.
    case enforce
    /// The rule only contributes to the shadow verdict.
    case audit
}

/// A `from.identities` entry: an exact workload ID, or every workload ID under a path prefix
/// (`spiffe://mesh.local/ns/batch/sa/*`; `spiffe://mesh.local/*` is every workload in the trust domain).
public enum IdentityPattern: Hashable, Sendable, CustomStringConvertible {
    case exact(SPIFFEID)
    /// `path` is the prefix up to and including its last `/` (`/ns/batch/sa/`, or `/`).
    case prefix(trustDomain: TrustDomain, path: String)

    public var trustDomain: TrustDomain {
        switch self {
        case .exact(let id): id.trustDomain
        case .prefix(let domain, _): domain
        }
    }

    public var description: String {
        switch self {
        case .exact(let id): id.description
        case .prefix(let domain, let path): "spiffe://\(domain.name)\(path)*"
        }
    }

    /// True when `id` is the exact ID, or a workload ID of the trust domain whose path starts with the prefix.
    public func matches(_ id: SPIFFEID) -> Bool {
        switch self {
        case .exact(let exact): return exact == id
        case .prefix(let domain, let path):
            // Both paths are ASCII (SPIFFE rules), so `hasPrefix` (canonical equivalence) is byte comparison.
            return id.isWorkload && id.path.hasPrefix(path) && id.trustDomain == domain
        }
    }

    /// Parses an exact SPIFFE ID, or one ending in `/*` whose prefix is itself a strict SPIFFE ID. A `*` anywhere
    /// else is `policy.bad-pattern`; the prefix's faults carry the `spiffe.*` codes.
    public init(parsing text: String) throws(MeshError) {
        let bytes = Array(text.utf8)
        let star = UInt8(ascii: "*")
        if bytes.count > SPIFFEID.maxLength {
            throw MeshError(.spiffeTooLong, "SPIFFE ID is \(bytes.count) bytes; the limit is \(SPIFFEID.maxLength)")
        }
        let isWildcard = bytes.count >= 2 && bytes[bytes.count - 1] == star && bytes[bytes.count - 2] == UInt8(ascii: "/")
        let stem = isWildcard ? Array(bytes.dropLast(2)) : bytes
        if stem.contains(star) {
            throw MeshError(.policyBadPattern,
                            "\(text.debugDescription): '*' may only stand alone as the last path segment (…/sa/*)")
        }
        let id: SPIFFEID
        do {
            id = try SPIFFEID(parsing: String(decoding: stem, as: UTF8.self))
        } catch let error as MeshError {
            throw error
        } catch {
            throw MeshError(.policyBadPattern, "\(text.debugDescription): \(error)")
        }
        if isWildcard {
            self = .prefix(trustDomain: id.trustDomain, path: id.path + "/")
        } else {
            guard id.isWorkload else {
                throw MeshError(.spiffeNoPath, "a trust-domain ID cannot identify a workload: \(text.debugDescription)")
            }
            self = .exact(id)
        }
    }
}

/// Who a rule applies to as caller: services by segment or by name, and identity patterns.
public struct RuleSources: Sendable, Equatable {
    public let segments: [String]
    public let services: [ServiceKey]
    public let identities: [IdentityPattern]
}

/// Which services a rule protects.
public struct RuleTargets: Sendable, Equatable {
    public let segments: [String]
    public let services: [ServiceKey]
}

public struct PolicyRule: Sendable, Equatable {
    public let name: String
    public let action: PolicyAction
    public let from: RuleSources
    public let to: RuleTargets
    /// nil: every port of each destination. Otherwise ascending and unique; a destination is reached only on
    /// the listed ports it has.
    public let ports: [Int]?
    public let mode: PolicyMode
    /// The rule stops applying when `now >= expires`.
    public let expires: PolicyTimestamp?
    public let description: String?
    /// Allow rules only: new connections per second per caller identity at the receiving sidecar (token bucket).
    public var rateLimit: RateLimit? = nil
    /// Which requests the rule is about (only on `http` ports); nil: every request.
    public var http: HTTPMatch? = nil
    /// Allow rules only: the end-user token a request must carry.
    public var jwt: JWTRequirement? = nil
}

/// Bounds on a policy bundle (SECURITY.md §6: policy documents up to 4 MiB and 10,000 rules). Exceeding one is
/// an error naming the file and path where the bound was crossed.
public struct PolicyLimits: Sendable, Equatable {
    /// Bytes per file (`json.too-large`). Default 4 MiB.
    public var maxDocumentBytes: Int
    /// Files in one bundle (`policy.too-many-files`). Default 256.
    public var maxFiles: Int
    /// Rules in the merged policy (`policy.too-many-rules`). Default 10,000.
    public var maxRules: Int
    /// Services (`policy.too-many-services`). Default 10,000.
    public var maxServices: Int
    /// Segments (`policy.too-many-segments`). Default 1,000.
    public var maxSegments: Int
    /// Entries in one list: `from`/`to` segments, services or identities, `ports`, labels, a segment's
    /// services (`policy.too-many-entries`). Default 1,000.
    public var maxEntriesPerList: Int
    /// (identity or service, destination, port, rule) entries the compiled slices would hold together,
    /// so that a few broad segment-to-segment rules cannot exhaust memory (`policy.too-many-grants`).
    /// Default 1,000,000.
    public var maxGrants: Int

    public init(maxDocumentBytes: Int = 4 * 1024 * 1024, maxFiles: Int = 256, maxRules: Int = 10_000,
                maxServices: Int = 10_000, maxSegments: Int = 1_000, maxEntriesPerList: Int = 1_000,
                maxGrants: Int = 1_000_000) {
        self.maxDocumentBytes = maxDocumentBytes
        self.maxFiles = maxFiles
        self.maxRules = maxRules
        self.maxServices = maxServices
        self.maxSegments = maxSegments
        self.maxEntriesPerList = maxEntriesPerList
        self.maxGrants = maxGrants
    }
}

/// A validated mesh policy. Rules keep their order (files sorted by name, then document order); when several
/// rules of the same kind match, the first one names the verdict.
public struct MeshPolicy: Sendable, Equatable {
    public let trustDomain: TrustDomain
    public let services: [PolicyService]
    public let segments: [PolicySegment]
    public let rules: [PolicyRule]
    /// Alert rules (`alerts` in the mesh files): evaluated by the control plane, not compiled into slices.
    public internal(set) var alerts: [AlertRule] = []
    /// Token issuers (`issuers` in the mesh files), in file order.
    public internal(set) var issuers: [SliceIssuer] = []
    let serviceIndex: [ServiceKey: Int]
    let resolved: [ResolvedRule]

    public func service(_ key: ServiceKey) -> PolicyService? { serviceIndex[key].map { services[$0] } }
    public func segment(named name: String) -> PolicySegment? { segments.first { $0.name == name } }
    public func rule(named name: String) -> PolicyRule? { rules.first { $0.name == name } }

    /// `namespace/name`, or a bare `name` that exactly one service has (for `meshctl check --from frontend`).
    /// Codes `policy.unknown-service`, `policy.ambiguous-service`.
    public func resolveService(_ text: String) throws(MeshError) -> ServiceKey {
        if text.contains("/") {
            let key = try ServiceKey(parsing: text)
            guard serviceIndex[key] != nil else { throw MeshError(.policyUnknownService, "unknown service \(text.debugDescription)") }
            return key
        }
        let found = services.filter { $0.key.name == text }.map(\.key)
        guard let first = found.first else { throw MeshError(.policyUnknownService, "unknown service \(text.debugDescription)") }
        guard found.count == 1 else {
            throw MeshError(.policyAmbiguousService,
                            "\(text.debugDescription) names \(found.map(\.description).joined(separator: ", ")); write namespace/name")
        }
        return first
    }
}

/// A rule with its references resolved, for evaluation and compilation.
struct ResolvedRule: Sendable, Equatable {
    /// Identities of `from` services and segments, plus exact `from.identities`.
    var fromIdentities: Set<SPIFFEID>
    /// Wildcard `from.identities`.
    var fromPrefixes: [IdentityPattern]
    /// Services whose identity `from` matches (for egress), ascending.
    var fromServices: [ServiceKey]
    /// Destinations, ascending.
    var toServices: [ServiceKey]
    var toSet: Set<ServiceKey>

    func fromMatches(_ id: SPIFFEID) -> Bool {
        fromIdentities.contains(id) || fromPrefixes.contains { $0.matches(id) }
    }
}

/// Name rules shared by services, segments and rules.
enum PolicyNames {
    /// `[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?`
    static func isLabel(_ text: some StringProtocol) -> Bool { ServiceKey.isLabel(text) }

    /// Label keys: 1-253 bytes of `[A-Za-z0-9._/-]`; values: 0-63 bytes of `[A-Za-z0-9._-]`.
    static func isLabelKey(_ text: String) -> Bool {
        (1...253).contains(text.utf8.count) && text.utf8.allSatisfy { isLabelByte($0) || $0 == UInt8(ascii: "/") }
    }

    static func isLabelValue(_ text: String) -> Bool {
        text.utf8.count <= 63 && text.utf8.allSatisfy(isLabelByte)
    }

    private static func isLabelByte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x2E || b == 0x2D || b == 0x5F
    }
}
