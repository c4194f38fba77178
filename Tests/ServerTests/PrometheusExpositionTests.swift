import Foundation
import Testing
import Server

@Suite("Prometheus text exposition, checked against the Python prometheus_client")
struct PrometheusExpositionTests {
    /// Replays Fixtures/prometheus-scenario.json on a registry whose clock is pinned like the
    /// golden generator's.
    static func replayScenario() throws -> MetricsRegistry {
        let scenario = try Fixtures.object("prometheus-scenario.json")
        let created = try #require(scenario["created"] as? Double)
        let registry = MetricsRegistry(clock: { created })
        var counters: [String: MetricFamily<Counter>] = [:]
        var gauges: [String: MetricFamily<Gauge>] = [:]
        var histograms: [String: MetricFamily<Histogram>] = [:]
        for case let m as [String: Any] in try #require(scenario["metrics"] as? [Any]) {
            let name = try #require(m["name"] as? String)
            let help = try #require(m["help"] as? String)
            let labels = try #require(m["labels"] as? [String])
            switch m["kind"] as? String {
            case "counter": counters[name] = try registry.counter(name, help: help, labelNames: labels)
            case "gauge": gauges[name] = try registry.gauge(name, help: help, labelNames: labels)
            default:
                let buckets = try #require(m["buckets"] as? [Double])
                histograms[name] = try registry.histogram(name, help: help, labelNames: labels, buckets: buckets)
            }
        }
        for case let op as [String: Any] in try #require(scenario["operations"] as? [Any]) {
            let name = try #require(op["metric"] as? String)
            let labels = try #require(op["labels"] as? [String])
            let value: Double = (op["value"] as? String).flatMap { $0 == "-inf" ? -.infinity : nil }
                ?? (op["value"] as? Double) ?? 0
            switch op["op"] as? String {
            case "inc":
                if let c = counters[name] { try c.labels(labels).increment(by: value) }
                if let g = gauges[name] { try g.labels(labels).increment(by: value) }
            case "set": try #require(gauges[name]).labels(labels).set(value)
            default: try #require(histograms[name]).labels(labels).observe(value)
            }
        }
        return registry
    }

    @Test("The scenario renders byte-for-byte as prometheus_client renders it")
    func goldenExposition() throws {
        let registry = try Self.replayScenario()
        let golden = try Fixtures.text("prometheus-golden.txt")
        let ours = registry.exposition()
        #expect(ours == golden)
        if ours != golden {
            let a = ours.split(separator: "\n", omittingEmptySubsequences: false)
            let b = golden.split(separator: "\n", omittingEmptySubsequences: false)
            if let i = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                Issue.record("first difference at line \(i + 1):\n ours:   \(a[i])\n golden: \(b[i])")
            }
        }
    }

    @Test("Counters expose _total and a _created gauge; no _created when switched off")
    func counterSamples() throws {
        let registry = MetricsRegistry(emitsCreatedSeries: false, clock: { 1 })
        let c = try registry.counter("jobs_total", help: "Jobs.", labelNames: ["kind"])
        try c.labels("a").increment(by: 2)
        try c.labels("a").increment(by: -5)  // ignored: counters never go down
        #expect(registry.exposition() == "# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total{kind=\"a\"} 2.0\n")
    }

    @Test("Histogram buckets are cumulative, le sits among the sorted labels, +Inf equals the count")
    func histogramSamples() throws {
        let registry = MetricsRegistry(emitsCreatedSeries: false)
        let h = try registry.histogram("lat", help: "L.", labelNames: ["zone", "app"], buckets: [1, 2])
        let s = try h.labels("z", "a")
        for v in [0.5, 1, 1.5, 3, 7] { s.observe(v) }
        s.observe(.nan)  // ignored
        #expect(registry.exposition() == """
            # HELP lat L.
            # TYPE lat histogram
            lat_bucket{app="a",le="1.0",zone="z"} 2.0
            lat_bucket{app="a",le="2.0",zone="z"} 3.0
            lat_bucket{app="a",le="+Inf",zone="z"} 5.0
            lat_count{app="a",zone="z"} 5.0
            lat_sum{app="a",zone="z"} 13.0

            """)
        let snapshot = s.snapshot
        #expect(snapshot.cumulativeCounts == [2, 3, 5] && snapshot.count == 5 && snapshot.sum == 13)
    }

    @Test("Label values and help text are escaped; UTF-8 passes through")
    func escaping() throws {
        let registry = MetricsRegistry()
        let g = try registry.gauge("g", help: "back\\slash\nnewline \"quotes\" stay", labelNames: ["v"])
        try g.labels("a\\b\"c\nd\r\ne 模型").set(1)
        #expect(registry.exposition() == """
            # HELP g back\\\\slash\\nnewline "quotes" stay
            # TYPE g gauge
            g{v="a\\\\b\\"c\\nd\r\\ne 模型"} 1.0

            """)
    }

    @Test("Invalid names, reserved labels, bad buckets, duplicates and wrong label counts are errors")
    func registrationErrors() throws {
        let registry = MetricsRegistry()
        #expect(throws: MetricsError.invalidMetricName("9lives")) { try registry.counter("9lives", help: "") }
        #expect(throws: MetricsError.invalidMetricName("a-b")) { try registry.gauge("a-b", help: "") }
        #expect(throws: MetricsError.invalidLabelName(metric: "h", label: "le")) {
            try registry.histogram("h", help: "", labelNames: ["le"], buckets: [1])
        }
        #expect(throws: MetricsError.invalidLabelName(metric: "x", label: "__r")) {
            try registry.gauge("x", help: "", labelNames: ["__r"])
        }
        #expect(throws: MetricsError.self) { try registry.histogram("h2", help: "", buckets: [2, 1]) }
        #expect(throws: MetricsError.self) { try registry.histogram("h3", help: "", buckets: []) }
        #expect(throws: MetricsError.self) { try registry.histogram("h4", help: "", buckets: [.nan]) }
        _ = try registry.counter("dup", help: "")
        #expect(throws: MetricsError.duplicateMetric("dup_total")) { try registry.counter("dup_total", help: "") }
        #expect(throws: MetricsError.duplicateMetric("dup_created")) { try registry.gauge("dup_created", help: "") }
        let f = try registry.gauge("two", help: "", labelNames: ["a", "b"])
        #expect(throws: MetricsError.labelCountMismatch(metric: "two", expected: ["a", "b"], got: 1)) {
            try f.labels("x")
        }
        #expect(f.unlabelled == nil)
    }

    @Test("Concurrent updates from many threads lose nothing")
    func concurrency() async throws {
        let registry = MetricsRegistry()
        let counter = try #require(try registry.counter("c", help: "").unlabelled)
        let histogram = try #require(try registry.histogram("h", help: "", buckets: [0.5]).unlabelled)
        let family = try registry.gauge("g", help: "", labelNames: ["i"])
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<8 {
                group.addTask {
                    for j in 0..<1000 {
                        counter.increment()
                        histogram.observe(Double(j % 2))
                        if j % 100 == 0 { _ = try? family.labels(String(i)).increment() }
                        if j % 250 == 0 { _ = registry.exposition() }
                    }
                }
            }
        }
        #expect(counter.value == 8000)
        #expect(histogram.snapshot.count == 8000 && histogram.snapshot.cumulativeCounts[0] == 4000)
        #expect(family.allSeries.count == 8 && family.allSeries.allSatisfy { $0.series.value == 10 })
    }
}

@Suite("The process collector's families in /metrics")
struct ProcessMetricsTests {
    @Test("They are read from /proc as prometheus_client reads them and written in its text")
    func parsedAndWritten() throws {
        // A command name with a space and a parenthesis, as /proc allows.
        let stat = "4242 (spec (ulators) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 3 0 12345 1234567890 1000 "
            + "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
        let boot = "cpu  1 2 3 4\nintr 5\nctxt 6\nbtime 1700000000\nprocesses 7\n"
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n"
            + "Max open files            1024                 1048576              files\n"
        // The expected text is what prometheus_client 0.26's ProcessCollector(proc=DIR) rendered
        // (generate_latest) from these three files in a DIR whose self/fd held 12 entries, with
        // 100 clock ticks a second and 4096-byte pages.
        let metrics = try #require(ProcessMetrics.parse(stat: stat, bootStat: boot, limits: limits, openFileDescriptors: 12,
                                                        ticksPerSecond: 100, pageSize: 4096))
        #expect(metrics.exposition == """
            # HELP process_virtual_memory_bytes Virtual memory size in bytes.
            # TYPE process_virtual_memory_bytes gauge
            process_virtual_memory_bytes 1.23456789e+09
            # HELP process_resident_memory_bytes Resident memory size in bytes.
            # TYPE process_resident_memory_bytes gauge
            process_resident_memory_bytes 4.096e+06
            # HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
            # TYPE process_start_time_seconds gauge
            process_start_time_seconds 1.70000012345e+09
            # HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
            # TYPE process_cpu_seconds_total counter
            process_cpu_seconds_total 2.0
            # HELP process_open_fds Number of open file descriptors.
            # TYPE process_open_fds gauge
            process_open_fds 12.0
            # HELP process_max_fds Maximum number of open file descriptors.
            # TYPE process_max_fds gauge
            process_max_fds 1024.0

            """)
        #expect(ProcessMetrics.parse(stat: "4242 (truncated", bootStat: boot, limits: nil, openFileDescriptors: 0,
                                     ticksPerSecond: 100, pageSize: 4096) == nil)
        #expect(ProcessMetrics.parse(stat: stat, bootStat: "cpu 1\n", limits: nil, openFileDescriptors: 0,
                                     ticksPerSecond: 100, pageSize: 4096) == nil)
    }

    @Test("This process's values are plausible: resident memory, CPU time, a start time in the past")
    func currentProcess() throws {
        let metrics = try #require(ProcessMetrics.current())
        let now = Date().timeIntervalSince1970
        #expect(metrics.residentMemoryBytes > 1_000_000 && metrics.virtualMemoryBytes >= metrics.residentMemoryBytes)
        #expect(metrics.cpuSeconds >= 0 && metrics.openFileDescriptors >= 3)
        #expect(metrics.startTimeSeconds <= now + 1 && metrics.startTimeSeconds > now - 86_400)
        #expect((metrics.maxFileDescriptors ?? 0) >= metrics.openFileDescriptors)
    }
}
