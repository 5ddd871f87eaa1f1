import MeshCore

/// `POST /v1/identity`: a CSR (PEM) and, the first time, the join token. Without a token the caller's mTLS
/// certificate is the credential (renewal).
public struct IdentityRequest: WireMessage {
    public var csrPEM: String
    public var token: String?

    public init(csrPEM: String, token: String?) {
        self.csrPEM = csrPEM
        self.token = token
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["csr", "token"])
        csrPEM = try r.string("csr")
        token = try r.optionalString("token")
    }

    /// `token` is left out, not `null`, on renewal.
    public var json: JSONValue {
        var members: [(String, JSONValue)] = [("csr", .string(csrPEM))]
        if let token { members.append(("token", .string(token))) }
        return .object(members)
    }
}

/// The answer to `POST /v1/identity`: the new certificate chain (leaf first) and the trust bundle, both PEM,
/// with the leaf's identity, serial (hex) and expiry (seconds since the epoch) for logs.
public struct IdentityAnswer: WireMessage {
    public var spiffeID: SPIFFEID
    public var certificateChainPEM: String
    public var trustBundlePEM: String
    public var serial: String
    public var notAfter: Int

    public init(spiffeID: SPIFFEID, certificateChainPEM: String, trustBundlePEM: String, serial: String, notAfter: Int) {
        self.spiffeID = spiffeID
        self.certificateChainPEM = certificateChainPEM
        self.trustBundlePEM = trustBundlePEM
        self.serial = serial
        self.notAfter = notAfter
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["spiffeID", "certificateChain", "trustBundle", "serial", "notAfter"])
        spiffeID = try Wire.spiffeID(r.node("spiffeID"))
        certificateChainPEM = try r.string("certificateChain")
        trustBundlePEM = try r.string("trustBundle")
        serial = try r.string("serial")
        notAfter = try r.int("notAfter")
    }

    public var json: JSONValue {
        .object([("spiffeID", .string(spiffeID.description)), ("certificateChain", .string(certificateChainPEM)),
                 ("trustBundle", .string(trustBundlePEM)), ("serial", .string(serial)), ("notAfter", .int(notAfter))])
    }
}

/// `GET /v1/bundle` (public): the trust domain, its bundle (PEM) and the control plane's own identity. A
/// bootstrapping sidecar trusts it only if a root matches its configured fingerprint.
public struct BundleAnswer: WireMessage {
    public var trustDomain: TrustDomain
    public var bundlePEM: String
    public var controlPlane: SPIFFEID

    public init(trustDomain: TrustDomain, bundlePEM: String, controlPlane: SPIFFEID) {
        self.trustDomain = trustDomain
        self.bundlePEM = bundlePEM
        self.controlPlane = controlPlane
    }

    public init(json: JSONValue) throws(MeshError) {
        let r = try Wire.object(json, ["trustDomain", "bundle", "controlPlane"])
        let tdNode = try r.node("trustDomain")
        let td = try r.string("trustDomain")
        do { trustDomain = try TrustDomain(td) } catch let e as MeshError { throw tdNode.error(e.errorCode, e.reason) } catch {
            throw MeshError(.apiBadValue, "\(tdNode.path): \(error)")
        }
        bundlePEM = try r.string("bundle")
        controlPlane = try Wire.spiffeID(r.node("controlPlane"))
    }

    public var json: JSONValue {
        .object([("trustDomain", .string(trustDomain.name)), ("bundle", .string(bundlePEM)),
                 ("controlPlane", .string(controlPlane.description))])
    }
}
