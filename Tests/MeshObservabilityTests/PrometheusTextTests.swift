import MeshObservability
import Testing

/// The Prometheus rendering of a snapshot, byte for byte.
@Suite struct PrometheusTextTests {
    @Test func rendersCountersGaugesAndHistogramsInOrder() {
        let h = Histogram(bounds: [0.0005, 1, 10])
        h.observe(seconds: 0.25)
        h.observe(seconds: 20)
        var s = StatsSnapshot()
        s.add("mesh_x_total", .counter, help: "Xs, by direction.",
              [MetricSample(["direction": "inbound"], .int(3)), MetricSample(["direction": "outbound"], .int(0))])
        s.add("mesh_expiry_timestamp_seconds", .gauge, help: "When.", [MetricSample(.number(1_796_166_662))])
        s.add("mesh_ratio", .gauge, help: "A fraction.", [MetricSample(.number(0.25))])
        s.add("mesh_empty_total", .counter, help: "Nothing yet.", [])
        s.add("mesh_d_seconds", .histogram, help: "Durations.", [MetricSample(["direction": "inbound"], .histogram(h.snapshot()))])
        #expect(PrometheusText.render(s) == """
            # HELP mesh_x_total Xs, by direction.
            # TYPE mesh_x_total counter
            mesh_x_total{direction="inbound"} 3
            mesh_x_total{direction="outbound"} 0
            # HELP mesh_expiry_timestamp_seconds When.
            # TYPE mesh_expiry_timestamp_seconds gauge
            mesh_expiry_timestamp_seconds 1796166662
            # HELP mesh_ratio A fraction.
            # TYPE mesh_ratio gauge
            mesh_ratio 0.25
            # HELP mesh_empty_total Nothing yet.
            # TYPE mesh_empty_total counter
            # HELP mesh_d_seconds Durations.
            # TYPE mesh_d_seconds histogram
            mesh_d_seconds_bucket{direction="inbound",le="0.0005"} 0
            mesh_d_seconds_bucket{direction="inbound",le="1"} 1
            mesh_d_seconds_bucket{direction="inbound",le="10"} 1
            mesh_d_seconds_bucket{direction="inbound",le="+Inf"} 2
            mesh_d_seconds_sum{direction="inbound"} 20.25
            mesh_d_seconds_count{direction="inbound"} 2

            """)
    }

    @Test(arguments: [("plain", "plain"), ("a\"b", "a\\\"b"), ("back\\slash", "back\\\\slash"), ("two\nlines", "two\\nlines")])
    func escapesLabelValues(_ raw: String, _ escaped: String) {
        var s = StatsSnapshot()
        s.add("m", .gauge, help: "h", [MetricSample(["rule": raw], .int(1))])
        #expect(PrometheusText.render(s) == "# HELP m h\n# TYPE m gauge\nm{rule=\"\(escaped)\"} 1\n")
    }
}
