import Synchronization
import MeshAlerts
import MeshCore

/// Wiring the alert engine to the control plane: counted telemetry reports, clone-suspected security events,
/// the applied mesh (rules, trust domain, declared services), and the facts a tick needs.
extension ControlPlane {

    func wireAlerts() -> [Subscription] {
        let alerts = self.alerts
        alerts.configure(policy)
        return [
            telemetry.counted.subscribe { alerts.enqueue($0) },
            security.observers.subscribe { e in
                guard e.name == "clone-suspected", let id = e.fields.first(where: { $0.0 == "identity" })?.1 else { return }
                alerts.cloneSuspected(identity: id, detail: e.fields.filter { $0.0 != "identity" }.map { "\($0.0)=\($0.1)" }.joined(separator: " "))
            },
            policyChanges.subscribe { alerts.configure($0) },
        ]
    }

    /// Once a second (the server's tick): time-based kinds, pending and resolving alerts. Never blocks the caller.
    public func alertTick() {
        alerts.tick { [weak self] certificates in
            guard let self else { return AlertFacts() }
            var notAfter: [String: Int] = [:]
            if certificates {
                for (id, latest) in identityRecords.latest { notAfter[id.description] = Int(latest.notAfter) }
            }
            return AlertFacts(appliedPolicyVersion: policy.version, certificateNotAfter: notAfter)
        }
    }
}

/// An alert rule's `action: quarantine` is this control plane's own automatic quarantine (rate limited, never
/// `mesh-system`, audited with actor `alert:<rule>`); `action: throttle` its throttle (same actor). The engine is built before the control plane is whole,
/// so it reaches it through this relay (weak: the control plane owns the engine). Runs on the alert queue; the
/// quarantine's own notifications reach the engine only asynchronously, so nothing waits on the engine's lock.
final class QuarantineRelay: Sendable {
    private struct Target { weak var cp: ControlPlane? }
    private let target = Mutex(Target())

    func attach(_ cp: ControlPlane) { target.withLock { $0.cp = cp } }

    func action(now: @escaping @Sendable () -> Double) -> QuarantineAction {
        { [self] id, reason, forSeconds, rule in
            perform(id, rule) { cp in
                _ = try cp.quarantine(identity: id, reason: reason, until: forSeconds.map { now() + $0 }, actor: "alert:\(rule)",
                                      automatic: true)
            }
        }
    }

    func throttle(now: @escaping @Sendable () -> Double) -> ThrottleAction {
        { [self] id, perSecond, forSeconds, rule in
            perform(id, rule) { cp in
                try cp.throttle(identity: id, perSecond: perSecond, until: forSeconds.map { now() + $0 }, actor: "alert:\(rule)")
            }
        }
    }

    /// Runs `body` on the attached control plane; its error (or the control plane being gone) is the result.
    private func perform(_ id: SPIFFEID, _ rule: String, _ body: (ControlPlane) throws -> Void) -> Result<Void, MeshError> {
        guard let cp = target.withLock({ $0.cp }) else {
            return .failure(MeshError(.internalFailure, "the control plane is gone; rule \(rule) asked for \(id)"))
        }
        do {
            try body(cp)
            return .success(())
        } catch let e as MeshError {
            return .failure(e)
        } catch {
            return .failure(MeshError(.internalFailure, "\(error)"))
        }
    }
}
