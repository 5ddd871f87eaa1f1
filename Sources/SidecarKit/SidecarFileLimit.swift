import MeshCore
import MeshNet
import MeshObservability

/// The sidecar's open-file budget. A proxied connection holds two descriptors (downstream and upstream), so a
/// soft RLIMIT_NOFILE below `maxConnections * 2` turns load into EMFILE refusals long before the configured
/// limit. At start the sidecar raises its soft limit towards what it needs, up to the hard limit (raising that
/// needs privileges it does not ask for), and says in the log what it got.
enum SidecarFileLimit {
    /// Descriptors besides the proxied connections: listeners, the stats endpoint, epoll, eventfds, the log,
    /// certificate and config files being re-read.
    static let reserve = 256

    /// What `maxConnections` needs.
    static func wanted(maxConnections: Int) -> Int { maxConnections * 2 + reserve }

    /// Raises the soft limit and logs one `fd-limit` line; a limit below what is needed adds an `fd-limit-low`
    /// warning line (the sidecar still starts: fewer connections fit than configured). Returns the soft limit.
    @discardableResult
    static func raise(maxConnections: Int, log: EventLog) -> Int {
        let wanted = wanted(maxConnections: maxConnections)
        let before = FileLimit.openFiles()
        let soft = FileLimit.raiseOpenFiles(to: wanted)
        let hard = FileLimit.openFiles()?.hard ?? before?.hard ?? 0
        log.event("fd-limit", fields: [("soft", .int(soft)), ("hard", .int(hard)), ("wanted", .int(wanted)),
                                       ("before", before.map { .int($0.soft) } ?? .none)])
        if soft < wanted {
            log.event("fd-limit-low", fields: [
                ("soft", .int(soft)), ("wanted", .int(wanted)), ("maxConnections", .int(maxConnections)),
                ("fits", .int(max(0, (soft - reserve) / 2))),
                ("warning", .string("the open-file limit is below what maxConnections needs; raise the hard limit (ulimit -Hn, LimitNOFILE=)"))])
        }
        return soft
    }
}
