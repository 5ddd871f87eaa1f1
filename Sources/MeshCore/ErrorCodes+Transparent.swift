/// Declared error codes of transparent interception and the DNS responder (issue 14). Add codes, never reword one.
extension ErrorCode {
    /// A DNS message that is truncated, loops through compression pointers, or breaks a size limit.
    public static let dnsMalformed = ErrorCode("dns.malformed", .badRequest)
    /// An `iptables` command of init-iptables or cleanup-iptables failed (or could not be started).
    public static let iptablesFailed = ErrorCode("iptables.failed", .internal)
}
