// The Prometheus text exposition format (version 0.0.4) as prometheus_client writes it:
// `# HELP` / `# TYPE` lines, samples with labels sorted by name, counters as `<name>_total`,
// histograms as cumulative `_bucket{le="..."}` plus `_count` and `_sum`, and the `_created`
// series gathered into a gauge block after each family.

struct PrometheusTextWriter {
    let emitsCreatedSeries: Bool
    private(set) var text = ""

    init(emitsCreatedSeries: Bool) {
        self.emitsCreatedSeries = emitsCreatedSeries
        text.reserveCapacity(16_384)
    }

    mutating func write(_ family: MetricFamily<Counter>) {
        let sampleName = family.name + "_total"
        header(sampleName, help: family.help, type: "counter")
        let series = family.allSeries
        for s in series { sample(sampleName, family.labelNames, s.labelValues, s.series.value) }
        if emitsCreatedSeries {
            createdBlock(family.name, help: family.help, labelNames: family.labelNames,
                         series: series.map { ($0.labelValues, $0.series.created) })
        }
    }

    mutating func write(_ family: MetricFamily<Gauge>) {
        header(family.name, help: family.help, type: "gauge")
        for s in family.allSeries { sample(family.name, family.labelNames, s.labelValues, s.series.value) }
    }

    mutating func write(_ family: MetricFamily<Histogram>) {
        header(family.name, help: family.help, type: "histogram")
        let series = family.allSeries
        let names = family.labelNames + ["le"]
        for s in series {
            let h = s.series
            let snap = h.snapshot
            for (bound, cumulative) in zip(h.upperBounds, snap.cumulativeCounts) {
                sample(family.name + "_bucket", names, s.labelValues + [Self.formatValue(bound)], cumulative)
            }
            sample(family.name + "_count", family.labelNames, s.labelValues, snap.count)
            sample(family.name + "_sum", family.labelNames, s.labelValues, snap.sum)
        }
        if emitsCreatedSeries {
            createdBlock(family.name, help: family.help, labelNames: family.labelNames,
                         series: series.map { ($0.labelValues, $0.series.created) })
        }
    }

    private mutating func header(_ name: String, help: String, type: String) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type)\n"
    }

    private mutating func createdBlock(_ name: String, help: String, labelNames: [String],
                                       series: [([String], Double)]) {
        guard !series.isEmpty else { return }
        header(name + "_created", help: help, type: "gauge")
        for (values, created) in series { sample(name + "_created", labelNames, values, created) }
    }

    private mutating func sample(_ name: String, _ labelNames: [String], _ labelValues: [String], _ value: Double) {
        text += name
        if !labelNames.isEmpty {
            let pairs = zip(labelNames, labelValues).sorted { $0.0 < $1.0 }
            text += "{"
            for (i, pair) in pairs.enumerated() {
                if i > 0 { text += "," }
                text += pair.0 + "=\"" + Self.escapeLabelValue(pair.1) + "\""
            }
            text += "}"
        }
        text += " " + Self.formatValue(value) + "\n"
    }

    /// HELP text: backslash and newline escaped.
    static func escapeHelp(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0 == "\\" || $0 == "\n" }) else { return s }
        return s.replacingAll("\\", with: "\\\\").replacingAll("\n", with: "\\n")
    }

    /// Label values: backslash, newline and double quote escaped.
    static func escapeLabelValue(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0 == "\\" || $0 == "\n" || $0 == "\"" }) else { return s }
        return s.replacingAll("\\", with: "\\\\").replacingAll("\n", with: "\\n").replacingAll("\"", with: "\\\"")
    }

    /// prometheus_client's `floatToGoString`: Python's repr, `+Inf`/`-Inf`/`NaN`, and Go's earlier
    /// switch to exponents for positive values with more than six integer digits
    /// (1733000000.0 → `1.733e+09`).
    static func formatValue(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d == .infinity { return "+Inf" }
        if d == -.infinity { return "-Inf" }
        let s = PythonRepr.float(d)
        guard d > 0, let dot = s.firstIndex(of: "."), s.distance(from: s.startIndex, to: dot) > 6 else { return s }
        let digitsBeforeDot = s.distance(from: s.startIndex, to: dot)
        var mantissa = String(s[s.startIndex]) + "." + s[s.index(after: s.startIndex)..<dot] + s[s.index(after: dot)...]
        while let last = mantissa.last, last == "0" || last == "." { mantissa.removeLast() }
        let exponent = digitsBeforeDot - 1
        return mantissa + "e+" + (exponent < 10 ? "0" : "") + String(exponent)
    }
}

extension String {
    /// Literal replacement of every occurrence of one Unicode scalar (so a "\n" inside "\r\n" is
    /// found, as Python finds it).
    func replacingAll(_ target: Unicode.Scalar, with replacement: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            if scalar == target { out.append(contentsOf: replacement.unicodeScalars) } else { out.append(scalar) }
        }
        return String(out)
    }
}
