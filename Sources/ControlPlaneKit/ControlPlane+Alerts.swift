import MeshAlerts
import MeshCore

/// Wiring the alert engine to the control plane: counted telemetry reports, clone-suspected security events,
/// the applied mesh (rules, trust domain, declared services), and the facts a tick needs.
extension ControlPlane {
    /// Until quarantine is wired in (`ControlPlane.quarantine`), an alert's action records that it asked and
    /// was refused; the alert itself shows it (`action: "quarantine refused: …"`).
    static let quarantineNotWired: QuarantineAction = { id, _, _, rule in
        .failure(MeshError(.internalFailure, "quarantine is not wired into this control plane; rule \(rule) asked for \(id)"))
    }

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
