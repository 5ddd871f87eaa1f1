import MeshCore
import MeshHTTP1
import MeshNet

/// `Upgrade` (WebSocket): the request goes out with its `Connection: upgrade` and `Upgrade` fields, and from then
/// on the hop is this app connection's own tunnel: bytes pass both ways unparsed (whatever the answer, 101 or
/// not) until both sides have ended, and the hop is never pooled again. Each side's end of stream is passed on
/// (a half-close, as on an L4 connection): the other direction keeps flowing until it ends too. The receiving
/// sidecar decides whether the request that asked for the upgrade is allowed; this side only carries it. Bytes
/// the app sent after the upgrade request's head, before the answer, are refused (`400`): a client waits for `101`.
extension OutboundHTTPConnection {
    /// Asks to switch protocols: an `Upgrade` field named in `Connection`.
    static func isUpgrade(_ h: HTTPRequestHead) -> Bool {
        h.headers.contains(.upgrade) && HopHeads.connectionTokens(h.headers).contains("upgrade")
    }

    /// The hop-by-hop fields the tunnel must keep, after the rewritten head.
    static func upgradeFields(_ h: HTTPRequestHead) -> String {
        "Upgrade: \(h.headers.values("Upgrade").joined(separator: ", "))\r\n"
    }

    /// The upgrade request was read whole: nothing may follow it until the answer.
    func enterTunnel() {
        guard pending.isEmpty, parser.isIdle else {
            return refuse(HTTPParseError(status: 400, code: ErrorCode.poolUpgradePipelined.id,
                                         reason: "bytes after an Upgrade request, before its answer"))
        }
        tunnel = true
    }

    /// Tunnel mode: app bytes as they come.
    func tunnelFromApp(_ bytes: UnsafeRawBufferPointer) { toHop.append(bytes) }

    /// Tunnel mode: an end of stream goes on once the bytes before it are written (TLS close_notify toward the
    /// hop, a FIN toward the app); when both directions have ended, the app connection closes and the hop with it.
    func passEndsOfStream() {
        guard let h = hop else { return }
        if appEOF && toHop.isEmpty && !h.end.writeClosed { _ = h.end.sendEOF() }  // else retried when writable
        if h.end.readClosed && toApp.isEmpty && !app.writeClosed { _ = app.sendEOF() }
        if appEOF && h.end.writeClosed && h.end.readClosed && app.writeClosed { closing = true }
    }

    /// Tunnel mode: hop bytes as they come.
    func tunnelFromHop(_ bytes: UnsafeRawBufferPointer) {
        ex?.responseStarted = true
        toApp.append(bytes)
    }
}
