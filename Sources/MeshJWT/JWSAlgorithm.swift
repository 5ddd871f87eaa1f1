import MeshTLS

/// The signature algorithms a token may use. There is deliberately no `none` and no HMAC: with public keys
/// in the configuration, `HS256` would let anyone holding the public key mint tokens.
public enum JWSAlgorithm: String, Sendable, Hashable, CaseIterable {
    case es256 = "ES256"
    case rs256 = "RS256"
    case edDSA = "EdDSA"

    /// True when a key of `kind` can check this algorithm (ES256 on P-256, RS256 on RSA, EdDSA on Ed25519).
    public func fits(_ kind: JOSEPublicKey.Kind) -> Bool {
        switch (self, kind) {
        case (.es256, .p256), (.rs256, .rsa), (.edDSA, .ed25519): true
        default: false
        }
    }
}
