import MeshCore

/// `GET /v1/ca` and `POST /v1/ca/rotate` (operator): the trust domain, which root issues, the certificate
/// lifetime and rotation overlap, and every root with its phase.
public struct CAStatus: WireMessage {
    /// One root of the CA. `phase` is the rotation phase's text (`staged`, `issuing`, `retiring`, `retired`);
    /// the phases themselves belong to the control plane.
    public struct Root: Sendable, Equatable {
        public var id: Int
        public var phase: String
        public var sha256: String
        public var subject: String
        public var notAfter: Int
        /// When the phase changes next; nil once retired. Written as `null`, never left out.
        public var nextChangeAt: Int?

        public init(id: Int, phase: String, sha256: String, subject: String, notAfter: Int, nextChangeAt: Int?) {
            self.id = id
            self.phase = phase
            self.sha256 = sha256
            self.subject = subject
            self.notAfter = notAfter
            self.nextChangeAt = nextChangeAt
        }

        init(_ node: JSONNode) throws(MeshError) {
            let r = try Wire.read { () throws(MeshError) in
                try node.object(fields: ["id", "phase", "sha256", "subject", "notAfter", "nextChangeAt"])
            }
            id = try r.int("id")
            phase = try r.string("phase")
            sha256 = try r.string("sha256")
            subject = try r.string("subject")
            notAfter = try r.int("notAfter")
            nextChangeAt = try Wire.nullable(r, "nextChangeAt").map { n throws(MeshError) in
                try Wire.read { () throws(MeshError) in try n.int(in: Int.min...Int.max) }
            }
        }

        var json: JSONValue {
            .object([("id", .int(id)), ("phase", .string(phase)), ("sha256", .string(sha256)), ("subject", .string(subject)),
                     ("notAfter", .int(notAfter)), ("nextChangeAt", nextChangeAt.map { .int($0) } ?? .null)])
        }
    }

    public var trustDomain: String
    public var issuing: Int
    public var certTTLSeconds: Int
    public var rotationOverlapSeconds: Int
    public var roots: [Root]

    public init(trustDomain: String, issuing: Int, certTTLSeconds: Int, rotationOverlapSeconds: Int, roots: [Root]) {
        self.trustDomain = trustDomain
        self.issuing = issuing
        self.certTTLSeconds = certTTLSeconds
        self.rotationOverlapSeconds = rotationOverlapSeconds
        self.roots = roots
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["trustDomain", "issuing", "certTTLSeconds", "rotationOverlapSeconds", "roots"])
        trustDomain = try r.string("trustDomain")
        issuing = try r.int("issuing")
        certTTLSeconds = try r.int("certTTLSeconds")
        rotationOverlapSeconds = try r.int("rotationOverlapSeconds")
        var roots: [Root] = []
        for node in try Wire.read({ () throws(MeshError) in try r.required("roots").elements() }) {
            roots.append(try Root(node))
        }
        self.roots = roots
    }

    public var json: JSONValue {
        .object([("trustDomain", .string(trustDomain)), ("issuing", .int(issuing)), ("certTTLSeconds", .int(certTTLSeconds)),
                 ("rotationOverlapSeconds", .int(rotationOverlapSeconds)), ("roots", .array(roots.map(\.json)))])
    }
}
