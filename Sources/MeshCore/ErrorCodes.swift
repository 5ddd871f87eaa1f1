/// Every error code the mesh reports, declared once with its kind. The text of a code is a published
/// contract (logs, API answers, tests): add codes, never reword one.
extension ErrorCode {
    // admin
    public static let adminBadQuery = ErrorCode("admin.bad-query", .badRequest)
    public static let adminNotLoopback = ErrorCode("admin.not-loopback", .forbidden)
    public static let adminReloadFailed = ErrorCode("admin.reload-failed", .invalid)
    // audit
    public static let auditBrokenChain = ErrorCode("audit.broken-chain", .storage)
    public static let auditCorrupt = ErrorCode("audit.corrupt", .storage)
    // auth
    public static let authRequired = ErrorCode("auth.required", .unauthenticated)
    public static let authSidecarRequired = ErrorCode("auth.sidecar-required", .unauthenticated)
    // bench
    public static let benchToken = ErrorCode("bench.token", .unavailable)
    // bootstrap
    public static let bootstrapAnchorMismatch = ErrorCode("bootstrap.anchor-mismatch", .forbidden)
    // ca
    public static let caCorrupt = ErrorCode("ca.corrupt", .storage)
    public static let caExists = ErrorCode("ca.exists", .storage)
    public static let caRotationInProgress = ErrorCode("ca.rotation-in-progress", .conflict)
    // check
    public static let checkBadQuery = ErrorCode("check.bad-query", .badRequest)
    // config
    public static let configBadAddress = ErrorCode("config.bad-address", .invalid)
    public static let configBadName = ErrorCode("config.bad-name", .invalid)
    public static let configBadPath = ErrorCode("config.bad-path", .invalid)
    public static let configBadPort = ErrorCode("config.bad-port", .invalid)
    public static let configBadValue = ErrorCode("config.bad-value", .invalid)
    public static let configDuplicateAllow = ErrorCode("config.duplicate-allow", .invalid)
    public static let configDuplicateName = ErrorCode("config.duplicate-name", .invalid)
    public static let configForeignTrustDomain = ErrorCode("config.foreign-trust-domain", .invalid)
    public static let configInvalid = ErrorCode("config.invalid", .invalid)
    public static let configListenConflict = ErrorCode("config.listen-conflict", .invalid)
    public static let configMissingField = ErrorCode("config.missing-field", .invalid)
    public static let configNoListeners = ErrorCode("config.no-listeners", .invalid)
    public static let configOutOfRange = ErrorCode("config.out-of-range", .invalid)
    public static let configUnknownField = ErrorCode("config.unknown-field", .invalid)
    public static let configWrongType = ErrorCode("config.wrong-type", .invalid)
    // file
    public static let fileTooLarge = ErrorCode("file.too-large", .unreadable)
    public static let fileUnreadable = ErrorCode("file.unreadable", .unreadable)
    public static let fileUnwritable = ErrorCode("file.unwritable", .storage)
    // http
    public static let httpBadChunkFraming = ErrorCode("http.bad-chunk-framing", .badRequest)
    public static let httpBadChunkSize = ErrorCode("http.bad-chunk-size", .badRequest)
    public static let httpBadContentLength = ErrorCode("http.bad-content-length", .badRequest)
    public static let httpBadHeaderName = ErrorCode("http.bad-header-name", .badRequest)
    public static let httpBadHost = ErrorCode("http.bad-host", .badRequest)
    public static let httpBadMethod = ErrorCode("http.bad-method", .badRequest)
    public static let httpBadRequestLine = ErrorCode("http.bad-request-line", .badRequest)
    public static let httpBadStatusLine = ErrorCode("http.bad-status-line", .badRequest)
    public static let httpBadTarget = ErrorCode("http.bad-target", .badRequest)
    public static let httpBadVersion = ErrorCode("http.bad-version", .badRequest)
    public static let httpBareCr = ErrorCode("http.bare-cr", .badRequest)
    public static let httpBareLf = ErrorCode("http.bare-lf", .badRequest)
    public static let httpBodyTooLarge = ErrorCode("http.body-too-large", .badRequest)
    public static let httpChunkLineTooLong = ErrorCode("http.chunk-line-too-long", .badRequest)
    public static let httpChunkSizeOverflow = ErrorCode("http.chunk-size-overflow", .badRequest)
    public static let httpClAndTe = ErrorCode("http.cl-and-te", .badRequest)
    public static let httpClosed = ErrorCode("http.closed", .unavailable)
    public static let httpConnect = ErrorCode("http.connect", .unavailable)
    public static let httpContentLengthOverflow = ErrorCode("http.content-length-overflow", .badRequest)
    public static let httpControlChar = ErrorCode("http.control-char", .badRequest)
    public static let httpDuplicateContentLength = ErrorCode("http.duplicate-content-length", .badRequest)
    public static let httpDuplicateHost = ErrorCode("http.duplicate-host", .badRequest)
    public static let httpDuplicateTransferEncoding = ErrorCode("http.duplicate-transfer-encoding", .badRequest)
    public static let httpHeaderTooLarge = ErrorCode("http.header-too-large", .badRequest)
    public static let httpMethodNotAllowed = ErrorCode("http.method-not-allowed", .badRequest)
    public static let httpMissingColon = ErrorCode("http.missing-colon", .badRequest)
    public static let httpMissingHost = ErrorCode("http.missing-host", .badRequest)
    public static let httpNotFound = ErrorCode("http.not-found", .notFound)
    public static let httpNul = ErrorCode("http.nul", .badRequest)
    public static let httpObsFold = ErrorCode("http.obs-fold", .badRequest)
    public static let httpRequestTimeout = ErrorCode("http.request-timeout", .badRequest)
    public static let httpSpaceBeforeColon = ErrorCode("http.space-before-colon", .badRequest)
    public static let httpSwitchingProtocols = ErrorCode("http.switching-protocols", .badRequest)
    public static let httpTeInHttp10 = ErrorCode("http.te-in-http10", .badRequest)
    public static let httpTimeout = ErrorCode("http.timeout", .unavailable)
    public static let httpTls = ErrorCode("http.tls", .unavailable)
    public static let httpTooManyHeaders = ErrorCode("http.too-many-headers", .badRequest)
    public static let httpTooManyTrailers = ErrorCode("http.too-many-trailers", .badRequest)
    public static let httpTrailersTooLarge = ErrorCode("http.trailers-too-large", .badRequest)
    public static let httpTruncated = ErrorCode("http.truncated", .unavailable)
    public static let httpUnsupportedTransferEncoding = ErrorCode("http.unsupported-transfer-encoding", .badRequest)
    public static let httpVersionNotSupported = ErrorCode("http.version-not-supported", .badRequest)
    public static let httpWrite = ErrorCode("http.write", .unavailable)
    // identity
    public static let identityCertificate = ErrorCode("identity.certificate", .unreadable)
    public static let identityKey = ErrorCode("identity.key", .unreadable)
    public static let identityRefused = ErrorCode("identity.refused", .unavailable)
    // init
    public static let initRandom = ErrorCode("init.random", .internal)
    // internal
    public static let internalFailure = ErrorCode("internal", .internal)
    // issue
    public static let issueBadRequest = ErrorCode("issue.bad-request", .badRequest)
    public static let issueCertificateExpired = ErrorCode("issue.certificate-expired", .unauthenticated)
    public static let issueCertificateNotYetValid = ErrorCode("issue.certificate-not-yet-valid", .badRequest)
    public static let issueRateLimited = ErrorCode("issue.rate-limited", .rateLimited)
    public static let issueUnauthenticated = ErrorCode("issue.unauthenticated", .unauthenticated)
    // json
    public static let jsonBadEscape = ErrorCode("json.bad-escape", .badRequest)
    public static let jsonBadNumber = ErrorCode("json.bad-number", .badRequest)
    public static let jsonControlChar = ErrorCode("json.control-char", .badRequest)
    public static let jsonDuplicateKey = ErrorCode("json.duplicate-key", .badRequest)
    public static let jsonInvalidUtf8 = ErrorCode("json.invalid-utf8", .badRequest)
    public static let jsonLoneSurrogate = ErrorCode("json.lone-surrogate", .badRequest)
    public static let jsonSyntax = ErrorCode("json.syntax", .badRequest)
    public static let jsonTooDeep = ErrorCode("json.too-deep", .badRequest)
    public static let jsonTooLarge = ErrorCode("json.too-large", .badRequest)
    public static let jsonTrailingData = ErrorCode("json.trailing-data", .badRequest)
    // net
    public static let netBadAddress = ErrorCode("net.bad-address", .invalid)
    // policy
    public static let policyAmbiguousService = ErrorCode("policy.ambiguous-service", .invalid)
    public static let policyBadIfMatch = ErrorCode("policy.bad-if-match", .badRequest)
    public static let policyBadLabel = ErrorCode("policy.bad-label", .invalid)
    public static let policyBadName = ErrorCode("policy.bad-name", .invalid)
    public static let policyBadPattern = ErrorCode("policy.bad-pattern", .invalid)
    public static let policyBadRequest = ErrorCode("policy.bad-request", .badRequest)
    public static let policyBadSegment = ErrorCode("policy.bad-segment", .invalid)
    public static let policyBadServiceKey = ErrorCode("policy.bad-service-key", .invalid)
    public static let policyBadSlice = ErrorCode("policy.bad-slice", .invalid)
    public static let policyBadTime = ErrorCode("policy.bad-time", .invalid)
    public static let policyConflict = ErrorCode("policy.conflict", .conflict)
    public static let policyCorrupt = ErrorCode("policy.corrupt", .invalid)
    public static let policyDuplicateEntry = ErrorCode("policy.duplicate-entry", .invalid)
    public static let policyDuplicateFile = ErrorCode("policy.duplicate-file", .invalid)
    public static let policyDuplicateName = ErrorCode("policy.duplicate-name", .invalid)
    public static let policyDuplicateTrustDomain = ErrorCode("policy.duplicate-trust-domain", .invalid)
    public static let policyEmptyFrom = ErrorCode("policy.empty-from", .invalid)
    public static let policyEmptyTo = ErrorCode("policy.empty-to", .invalid)
    public static let policyForeignTrustDomain = ErrorCode("policy.foreign-trust-domain", .invalid)
    public static let policyIfMatchRequired = ErrorCode("policy.if-match-required", .preconditionRequired)
    public static let policyInvalid = ErrorCode("policy.invalid", .invalid)
    public static let policyMissingTrustDomain = ErrorCode("policy.missing-trust-domain", .invalid)
    public static let policyNoFiles = ErrorCode("policy.no-files", .invalid)
    public static let policyNoPorts = ErrorCode("policy.no-ports", .invalid)
    public static let policyNone = ErrorCode("policy.none", .notFound)
    public static let policyPortNotOnDestination = ErrorCode("policy.port-not-on-destination", .invalid)
    public static let policyReservedName = ErrorCode("policy.reserved-name", .invalid)
    public static let policyTooLong = ErrorCode("policy.too-long", .invalid)
    public static let policyTooManyEntries = ErrorCode("policy.too-many-entries", .invalid)
    public static let policyTooManyFiles = ErrorCode("policy.too-many-files", .invalid)
    public static let policyTooManyGrants = ErrorCode("policy.too-many-grants", .invalid)
    public static let policyTooManyRules = ErrorCode("policy.too-many-rules", .invalid)
    public static let policyTooManySegments = ErrorCode("policy.too-many-segments", .invalid)
    public static let policyTooManyServices = ErrorCode("policy.too-many-services", .invalid)
    public static let policyUnknownSegment = ErrorCode("policy.unknown-segment", .invalid)
    public static let policyUnknownService = ErrorCode("policy.unknown-service", .invalid)
    // reload
    public static let reloadFailed = ErrorCode("reload.failed", .invalid)
    public static let reloadListenersChanged = ErrorCode("reload.listeners-changed", .invalid)
    // spiffe
    public static let spiffeBadPathChar = ErrorCode("spiffe.bad-path-char", .invalid)
    public static let spiffeBadScheme = ErrorCode("spiffe.bad-scheme", .invalid)
    public static let spiffeBadTrustDomainChar = ErrorCode("spiffe.bad-trust-domain-char", .invalid)
    public static let spiffeDotSegment = ErrorCode("spiffe.dot-segment", .invalid)
    public static let spiffeEmpty = ErrorCode("spiffe.empty", .invalid)
    public static let spiffeEmptySegment = ErrorCode("spiffe.empty-segment", .invalid)
    public static let spiffeEmptyTrustDomain = ErrorCode("spiffe.empty-trust-domain", .invalid)
    public static let spiffeNoPath = ErrorCode("spiffe.no-path", .invalid)
    public static let spiffeTooLong = ErrorCode("spiffe.too-long", .invalid)
    public static let spiffeTrailingSlash = ErrorCode("spiffe.trailing-slash", .invalid)
    public static let spiffeTrustDomainTooLong = ErrorCode("spiffe.trust-domain-too-long", .invalid)
    // store
    public static let storeIo = ErrorCode("store.io", .storage)
    public static let storeMissing = ErrorCode("store.missing", .storage)
    public static let storeTooLarge = ErrorCode("store.too-large", .storage)
    // tls
    public static let tlsBadCertificate = ErrorCode("tls.bad-certificate", .badRequest)
    public static let tlsBadCsr = ErrorCode("tls.bad-csr", .badRequest)
    public static let tlsBadKey = ErrorCode("tls.bad-key", .badRequest)
    public static let tlsBadOwnCertificate = ErrorCode("tls.bad-own-certificate", .badRequest)
    public static let tlsBadPassphrase = ErrorCode("tls.bad-passphrase", .badRequest)
    public static let tlsBio = ErrorCode("tls.bio", .internal)
    public static let tlsCa = ErrorCode("tls.ca", .internal)
    public static let tlsChainTooLarge = ErrorCode("tls.chain-too-large", .badRequest)
    public static let tlsChainTooLong = ErrorCode("tls.chain-too-long", .badRequest)
    public static let tlsContext = ErrorCode("tls.context", .internal)
    public static let tlsCsr = ErrorCode("tls.csr", .internal)
    public static let tlsEmptyBundle = ErrorCode("tls.empty-bundle", .badRequest)
    public static let tlsKeyEncrypt = ErrorCode("tls.key-encrypt", .internal)
    public static let tlsKeyMismatch = ErrorCode("tls.key-mismatch", .badRequest)
    public static let tlsKeygen = ErrorCode("tls.keygen", .internal)
    public static let tlsNoCertificate = ErrorCode("tls.no-certificate", .badRequest)
    public static let tlsSslNew = ErrorCode("tls.ssl-new", .internal)
    // token
    public static let tokenBadRequest = ErrorCode("token.bad-request", .badRequest)
    public static let tokenBadService = ErrorCode("token.bad-service", .badRequest)
    public static let tokenBadTtl = ErrorCode("token.bad-ttl", .badRequest)
    public static let tokenExpired = ErrorCode("token.expired", .forbidden)
    public static let tokenForeignTrustDomain = ErrorCode("token.foreign-trust-domain", .badRequest)
    public static let tokenUnknown = ErrorCode("token.unknown", .forbidden)
    public static let tokenUsed = ErrorCode("token.used", .forbidden)
    // tokens
    public static let tokensCorrupt = ErrorCode("tokens.corrupt", .storage)
    public static let tokensRandom = ErrorCode("tokens.random", .internal)
    // usage
    public static let usage = ErrorCode("usage", .badRequest)

    /// All declared codes, by their text (documentation, and the check that no two share a text).
    public static let declared: [String: ErrorCode] = Dictionary(uniqueKeysWithValues: [
        adminBadQuery,
        adminNotLoopback,
        adminReloadFailed,
        auditBrokenChain,
        auditCorrupt,
        authRequired,
        authSidecarRequired,
        benchToken,
        bootstrapAnchorMismatch,
        caCorrupt,
        caExists,
        caRotationInProgress,
        checkBadQuery,
        configBadAddress,
        configBadName,
        configBadPath,
        configBadPort,
        configBadValue,
        configDuplicateAllow,
        configDuplicateName,
        configForeignTrustDomain,
        configInvalid,
        configListenConflict,
        configMissingField,
        configNoListeners,
        configOutOfRange,
        configUnknownField,
        configWrongType,
        fileTooLarge,
        fileUnreadable,
        fileUnwritable,
        httpBadChunkFraming,
        httpBadChunkSize,
        httpBadContentLength,
        httpBadHeaderName,
        httpBadHost,
        httpBadMethod,
        httpBadRequestLine,
        httpBadStatusLine,
        httpBadTarget,
        httpBadVersion,
        httpBareCr,
        httpBareLf,
        httpBodyTooLarge,
        httpChunkLineTooLong,
        httpChunkSizeOverflow,
        httpClAndTe,
        httpClosed,
        httpConnect,
        httpContentLengthOverflow,
        httpControlChar,
        httpDuplicateContentLength,
        httpDuplicateHost,
        httpDuplicateTransferEncoding,
        httpHeaderTooLarge,
        httpMethodNotAllowed,
        httpMissingColon,
        httpMissingHost,
        httpNotFound,
        httpNul,
        httpObsFold,
        httpRequestTimeout,
        httpSpaceBeforeColon,
        httpSwitchingProtocols,
        httpTeInHttp10,
        httpTimeout,
        httpTls,
        httpTooManyHeaders,
        httpTooManyTrailers,
        httpTrailersTooLarge,
        httpTruncated,
        httpUnsupportedTransferEncoding,
        httpVersionNotSupported,
        httpWrite,
        identityCertificate,
        identityKey,
        identityRefused,
        initRandom,
        internalFailure,
        issueBadRequest,
        issueCertificateExpired,
        issueCertificateNotYetValid,
        issueRateLimited,
        issueUnauthenticated,
        jsonBadEscape,
        jsonBadNumber,
        jsonControlChar,
        jsonDuplicateKey,
        jsonInvalidUtf8,
        jsonLoneSurrogate,
        jsonSyntax,
        jsonTooDeep,
        jsonTooLarge,
        jsonTrailingData,
        netBadAddress,
        policyAmbiguousService,
        policyBadIfMatch,
        policyBadLabel,
        policyBadName,
        policyBadPattern,
        policyBadRequest,
        policyBadSegment,
        policyBadServiceKey,
        policyBadSlice,
        policyBadTime,
        policyConflict,
        policyCorrupt,
        policyDuplicateEntry,
        policyDuplicateFile,
        policyDuplicateName,
        policyDuplicateTrustDomain,
        policyEmptyFrom,
        policyEmptyTo,
        policyForeignTrustDomain,
        policyIfMatchRequired,
        policyInvalid,
        policyMissingTrustDomain,
        policyNoFiles,
        policyNoPorts,
        policyNone,
        policyPortNotOnDestination,
        policyReservedName,
        policyTooLong,
        policyTooManyEntries,
        policyTooManyFiles,
        policyTooManyGrants,
        policyTooManyRules,
        policyTooManySegments,
        policyTooManyServices,
        policyUnknownSegment,
        policyUnknownService,
        reloadFailed,
        reloadListenersChanged,
        spiffeBadPathChar,
        spiffeBadScheme,
        spiffeBadTrustDomainChar,
        spiffeDotSegment,
        spiffeEmpty,
        spiffeEmptySegment,
        spiffeEmptyTrustDomain,
        spiffeNoPath,
        spiffeTooLong,
        spiffeTrailingSlash,
        spiffeTrustDomainTooLong,
        storeIo,
        storeMissing,
        storeTooLarge,
        tlsBadCertificate,
        tlsBadCsr,
        tlsBadKey,
        tlsBadOwnCertificate,
        tlsBadPassphrase,
        tlsBio,
        tlsCa,
        tlsChainTooLarge,
        tlsChainTooLong,
        tlsContext,
        tlsCsr,
        tlsEmptyBundle,
        tlsKeyEncrypt,
        tlsKeyMismatch,
        tlsKeygen,
        tlsNoCertificate,
        tlsSslNew,
        tokenBadRequest,
        tokenBadService,
        tokenBadTtl,
        tokenExpired,
        tokenForeignTrustDomain,
        tokenUnknown,
        tokenUsed,
        tokensCorrupt,
        tokensRandom,
        usage,
    ].map { ($0.id, $0) })
}
