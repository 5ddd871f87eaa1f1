internal import COpenSSL
import MeshCore

/// Chain verification outside a TLS handshake (a signed document carries its signer's chain): the same rules
/// as the handshake's (OpenSSL builds the chain to `bundle`, purpose set, depth ≤ 4, never partial chains),
/// followed by the X.509-SVID rules on the leaf. The store, the context and the stack are owned here.
extension Certificate {
    /// Verifies `self` (the leaf) with `intermediates` against `bundle` and returns its SPIFFE ID. `at` is the
    /// wall time the validity periods are checked at; nil skips the time check (a document signed while the
    /// certificate was valid, read back later: the caller decides whether that is acceptable).
    public func verifyChain(intermediates: [Certificate], bundle: [Certificate], role: PeerRole,
                            trustDomain: TrustDomain, at time: Double?) -> Result<SPIFFEID, PeerRejection> {
        defer { OpenSSLError.clear() }
        guard !bundle.isEmpty, let store = X509_STORE_new() else { return .failure(.unknownCA) }
        defer { X509_STORE_free(store) }
        for root in bundle { X509_STORE_add_cert(store, root.x509) }
        guard let untrusted = OPENSSL_sk_new_null() else { return .failure(.invalidCertificate) }
        defer { OPENSSL_sk_free(untrusted) }  // the certificates stay owned by their `Certificate`s
        for c in intermediates { OPENSSL_sk_push(untrusted, UnsafeRawPointer(c.x509)) }
        guard let ctx = X509_STORE_CTX_new() else { return .failure(.invalidCertificate) }
        defer { X509_STORE_CTX_free(ctx) }
        guard X509_STORE_CTX_init(ctx, store, x509, untrusted) == 1 else { return .failure(.invalidCertificate) }
        X509_STORE_CTX_set_purpose(ctx, role == .server ? X509_PURPOSE_SSL_SERVER : X509_PURPOSE_SSL_CLIENT)
        X509_VERIFY_PARAM_set_depth(X509_STORE_CTX_get0_param(ctx), 4)
        if let time {
            X509_STORE_CTX_set_time(ctx, 0, time_t(time))
        } else {
            X509_STORE_CTX_set_flags(ctx, UInt(X509_V_FLAG_NO_CHECK_TIME))
        }
        guard X509_verify_cert(ctx) == 1 else {
            return .failure(SVIDValidator.rejection(forVerifyResult: Int(X509_STORE_CTX_get_error(ctx))))
        }
        return SVIDValidator.validate(self, role: role, trustDomain: trustDomain)
    }
}
