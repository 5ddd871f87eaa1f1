/// Every error code the mesh reports is declared once, with its kind, in `ErrorCodes+<domain>.swift`: one
/// registry, so a code received from another process (an API error body) maps back to its kind, and no two
/// codes can share a text (the dictionary below traps at start-up in tests if they did).
extension ErrorCode {
    /// All declared codes, by their text.
    public static let declared: [String: ErrorCode] = Dictionary(uniqueKeysWithValues: [
        adminBadHost, adminBadQuery, adminNotLoopback, adminReloadFailed, alertBadAction, alertBadDuration,
        alertBadWebhook, alertMissingParameter, alertParameterNotForKind, alertTooManyRules, alertWebhookFailed,
        apiBadValue, apiMissingField, apiOutOfRange, apiUnexpectedAnswer, apiUnknownField, apiWrongType,
        auditBrokenChain, auditCorrupt, authCertificateExpired, authCertificateNotYetValid, authRequired,
        authSidecarRequired, benchToken, bootstrapAnchorMismatch, bootstrapUnproven, caConflict, caCorrupt, caExists,
        caRotationInProgress, checkBadQuery, configBadAddress, configBadName, configBadPath, configBadPort,
        configBadValue, configDuplicateAllow, configDuplicateName, configExpectIdentityMismatch,
        configForeignTrustDomain, configInvalid, configListenConflict, configMissingField, configNoListeners,
        configOutOfRange, configOutboundNotLoopback, configUnknownField, configWrongType, controlLongPollsFull,
        dnsMalformed, endpointAddressMismatch, endpointBadRequest, endpointLimit, fileTooLarge, fileUnreadable,
        fileUnwritable, httpBadChunkFraming, httpBadChunkSize, httpBadContentLength, httpBadHeaderName, httpBadHost,
        httpBadMethod, httpBadRequestLine, httpBadStatusLine, httpBadTarget, httpBadVersion, httpBareCr, httpBareLf,
        httpBodyTooLarge, httpChunkLineTooLong, httpChunkSizeOverflow, httpClAndTe, httpClosed, httpConnect,
        httpContentLengthOverflow, httpControlChar, httpDuplicateContentLength, httpDuplicateHost,
        httpDuplicateTransferEncoding, httpHeaderTooLarge, httpMethodNotAllowed, httpMissingColon, httpMissingHost,
        httpNotFound, httpNul, httpObsFold, httpPathBadChar, httpPathBadEscape, httpPathBadUtf8,
        httpPathEncodedBackslash, httpPathEncodedSlash, httpPathEscapesRoot, httpPathFragment, httpPathNotOriginForm,
        httpPathNul, httpPathTooLong, httpRequestTimeout, httpSpaceBeforeColon, httpSwitchingProtocols,
        httpTeInHttp10, httpTimeout, httpTls, httpTooManyHeaders, httpTooManyTrailers, httpTrailersTooLarge,
        httpTruncated, httpUnsupportedTransferEncoding, httpVersionNotSupported, httpWrite, identitiesConflict,
        identitiesCorrupt, identityCertificate, identityKey, identityQuarantined, identityRefused, identityRevoked,
        initRandom, internalFailure, iptablesFailed, issueBadRequest, issueCertificateExpired,
        issueCertificateNotYetValid, issueCloneSuspected, issueRateLimited, issueUnauthenticated, jsonBadEscape,
        jsonBadNumber, jsonControlChar, jsonDuplicateKey, jsonInvalidUtf8, jsonLoneSurrogate, jsonSyntax, jsonTooDeep,
        jsonTooLarge, jsonTrailingData, jwtAlgNotAllowed, jwtBadClaim, jwtBadIssuer, jwtBadKey, jwtBadSignature,
        jwtExpired, jwtMalformed, jwtNotYetValid, jwtTooLarge, jwtUnknownKid, jwtUnsupportedHeader, jwtWrongAudience,
        jwtWrongIssuer, netBadAddress, policyAmbiguousService, policyBadEpoch, policyBadHttpMatch, policyBadIfMatch,
        policyBadIssuer, policyBadJwtRequirement, policyBadLabel, policyBadName, policyBadPathPattern,
        policyBadPattern, policyBadRateLimit, policyBadRequest, policyBadSegment, policyBadServiceKey, policyBadSlice,
        policyBadTime, policyBadWait, policyConflict, policyCorrupt, policyDuplicateEntry, policyDuplicateFile,
        policyDuplicateName, policyDuplicateTrustDomain, policyEmptyFrom, policyEmptyTo, policyForeignTrustDomain,
        policyHttpOnTcpPort, policyIfMatchRequired, policyInvalid, policyMissingTrustDomain, policyNoFiles,
        policyNoPorts, policyNoSigner, policyNone, policyNothingApplied, policyPortNotOnDestination,
        policyReservedName, policyServiceNotInMesh, policyTooLong, policyTooManyEntries, policyTooManyFiles,
        policyTooManyGrants, policyTooManyRules, policyTooManySegments, policyTooManyServices, policyUnknownIssuer,
        policyUnknownSegment, policyUnknownService, policyUnsignedSlice, poolBadResponse, poolNoEndpoint,
        poolUpgradePipelined, poolUpstreamClosed, poolUpstreamUnreachable, quarantineBadRequest, quarantineListFull,
        quarantineNotFound, quarantineRateLimited, quarantineSystemIdentity, reloadFailed, reloadListenersChanged,
        requestAppUnreachable, requestBadAppResponse, requestForbidden, requestTokenMissing, revokeBadRequest, revokeListFull, simConnection,
        simSetup, spiffeBadPathChar, spiffeBadScheme, spiffeBadTrustDomainChar, spiffeDotSegment, spiffeEmpty,
        spiffeEmptySegment, spiffeEmptyTrustDomain, spiffeNoPath, spiffeTooLong, spiffeTrailingSlash,
        spiffeTrustDomainTooLong, storeIo, storeMissing, storeTooLarge, telemetryBadQuery, telemetryCorrupt,
        telemetryDisabled, telemetryFlushFailed, telemetryJournal, telemetryWrongSource, throttleBadRequest,
        throttleListFull, throttleNotFound, tlsBadCertificate, tlsBadCsr, tlsBadKey, tlsBadOwnCertificate,
        tlsBadPassphrase, tlsBio, tlsCa, tlsChainTooLarge, tlsChainTooLong, tlsContext, tlsCsr, tlsEmptyBundle,
        tlsKeyEncrypt, tlsKeyMismatch, tlsKeygen, tlsNoCertificate, tlsRandom, tlsSign, tlsSslNew, tokenBadRequest,
        tokenBadService, tokenBadTtl, tokenExpired, tokenForeignTrustDomain, tokenReservedIdentity, tokenUnknown,
        tokenUsed, tokensCorrupt, tokensRandom, usage,
    ].map { ($0.id, $0) })

    /// The declared code with this text; nil when nobody declared it.
    public static func known(_ id: String) -> ErrorCode? { declared[id] }
}
