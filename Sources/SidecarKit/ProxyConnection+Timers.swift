import MeshNet

/// The connection's one timer (a phase deadline, then the idle timer), its handshake slot, and epoll interest
/// changes (skipped when nothing changes, so a keep-alive request costs no `epoll_ctl`).
extension ProxyConnection {
    func armDeadline(ms: Int, reason: CloseReason) {
        cancelTimer()
        timer = loop.schedule(afterMs: Int64(ms)) { [self] in
            self.timer = nil
            self.finish(reason: reason, detail: "deadline of \(ms) ms passed", refused: self.phase.refusesOnDeadline)
        }
    }

    /// Timers capture the connection strongly: a weak capture would give every connection a side table (slower
    /// reference counting on every use for its whole life); `finish` cancels `timer`, which drops the closure.
    func armIdleTimer(afterMs ms: Int64) {
        timer = loop.schedule(afterMs: ms) { [self] in
            self.timer = nil
            let idle = Int64(self.runtime.config.limits.idleTimeoutMs)
            let quiet = self.loop.now - self.lastActivity
            if quiet >= idle {
                self.finish(reason: .idleTimeout, detail: nil, refused: false)
            } else {
                self.armIdleTimer(afterMs: idle - quiet)
            }
        }
    }

    func cancelTimer() {
        if let t = timer { loop.cancel(t) }
        timer = nil
    }

    func releaseHandshakeSlot() {
        if holdsHandshakeSlot {
            holdsHandshakeSlot = false
            context.handshakeEnded()
        }
    }

    func setInterest(_ end: ProxyEnd, _ interest: Interest) {
        if end.interest.rawValue != interest.rawValue {
            end.interest = interest
            loop.setInterest(end.fd, interest)
        }
    }
}
