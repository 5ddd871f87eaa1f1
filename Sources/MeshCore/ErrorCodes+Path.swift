/// Declared error codes: request-target path normalisation (`MeshHTTP1.PathNormalizer`, issue 13), one per
/// way a path can be ambiguous. The text of a code is a published contract: add codes, never reword one.
extension ErrorCode {
    public static let httpPathBadChar = ErrorCode("http.path-bad-char", .badRequest)
    public static let httpPathBadEscape = ErrorCode("http.path-bad-escape", .badRequest)
    public static let httpPathBadUtf8 = ErrorCode("http.path-bad-utf8", .badRequest)
    public static let httpPathEncodedBackslash = ErrorCode("http.path-encoded-backslash", .badRequest)
    public static let httpPathEncodedSlash = ErrorCode("http.path-encoded-slash", .badRequest)
    public static let httpPathEscapesRoot = ErrorCode("http.path-escapes-root", .badRequest)
    public static let httpPathFragment = ErrorCode("http.path-fragment", .badRequest)
    public static let httpPathNotOriginForm = ErrorCode("http.path-not-origin-form", .badRequest)
    public static let httpPathNul = ErrorCode("http.path-nul", .badRequest)
    public static let httpPathTooLong = ErrorCode("http.path-too-long", .badRequest)
}
