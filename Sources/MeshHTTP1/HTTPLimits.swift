/// Caps applied while parsing. Defaults follow SECURITY.md §6 (header bytes / count: 32 KiB / 100).
public struct HTTPLimits: Sendable, Equatable {
    /// The whole head, request or status line and every CRLF included; 431 beyond. Trailers get the same budget.
    public var maxHeaderBytes = 32_768
    /// Header lines in a head (and trailer lines in a trailer section); 431 beyond.
    public var maxHeaderCount = 100
    /// Body bytes: a declared Content-Length is checked up front, chunked and read-until-close bodies as they
    /// accumulate; 413 beyond.
    public var maxBodyBytes = 1_048_576
    /// One chunk-size line, extensions and CRLF included; 400 beyond.
    public var maxChunkLineBytes = 4_096

    public init() {}
}
