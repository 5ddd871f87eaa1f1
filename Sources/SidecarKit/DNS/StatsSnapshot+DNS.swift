import MeshObservability

/// The DNS responder's counters (`/metrics`): what became of each query the app sent.
extension StatsSnapshot {
    mutating func addDNS(_ c: DNSResponder.Counters) {
        add("mesh_dns_queries_total", .counter,
            help: "DNS queries from the app, by result (answered, nxdomain, forwarded, malformed, overflow, timed-out).",
            [("answered", c.answered.load(ordering: .relaxed)), ("nxdomain", c.nxdomain.load(ordering: .relaxed)),
             ("forwarded", c.forwarded.load(ordering: .relaxed)), ("malformed", c.malformed.load(ordering: .relaxed)),
             ("overflow", c.overflow.load(ordering: .relaxed)), ("timed-out", c.timedOut.load(ordering: .relaxed))]
                .map { MetricSample(["result": $0.0], .int($0.1)) })
    }
}
