import Foundation

// The set of metrics a server exposes at GET /metrics, rendered in the Prometheus text format
// exactly as Python's prometheus_client renders it (which is what vLLM serves).

/// Registers metric families and renders them.
public final class MetricsRegistry: @unchecked Sendable {
    /// `Content-Type` of the exposition.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    enum Entry {
        case counter(MetricFamily<Counter>)
        case gauge(MetricFamily<Gauge>)
        case histogram(MetricFamily<Histogram>)
    }

    private let lock = NSLock()
    private var entries: [Entry] = []
    private var names: Set<String> = []
    private let clock: @Sendable () -> Double
    /// Whether counters and histograms also expose `<name>_created` (prometheus_client's default).
    public let emitsCreatedSeries: Bool

    /// `clock` gives the Unix time stamped into `_created` series (injectable for tests).
    public init(emitsCreatedSeries: Bool = true,
                clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.emitsCreatedSeries = emitsCreatedSeries
        self.clock = clock
    }

    /// A counter; a trailing `_total` in `name` is dropped (it is added back on exposition).
    public func counter(_ name: String, help: String, labelNames: [String] = []) throws(MetricsError)
        -> MetricFamily<Counter> {
        let base = name.hasSuffix("_total") ? String(name.dropLast(6)) : name
        try validate(base, labelNames: labelNames, reserved: [])
        let clock = self.clock
        let family = MetricFamily(name: base, help: help, labelNames: labelNames, kind: .counter) {
            Counter(created: clock())
        }
        try register(.counter(family), names: [base + "_total", base + "_created", base])
        return family
    }

    public func gauge(_ name: String, help: String, labelNames: [String] = []) throws(MetricsError)
        -> MetricFamily<Gauge> {
        try validate(name, labelNames: labelNames, reserved: [])
        let family = MetricFamily(name: name, help: help, labelNames: labelNames, kind: .gauge) { Gauge() }
        try register(.gauge(family), names: [name])
        return family
    }

    /// A histogram with the given finite, strictly ascending bucket bounds (+Inf is added).
    public func histogram(_ name: String, help: String, labelNames: [String] = [], buckets: [Double])
        throws(MetricsError) -> MetricFamily<Histogram> {
        try validate(name, labelNames: labelNames, reserved: ["le"])
        var bounds = buckets
        if bounds.last == .infinity { bounds.removeLast() }
        guard !bounds.isEmpty else { throw .invalidBuckets(metric: name, reason: "must hold at least one finite bound") }
        guard bounds.allSatisfy(\.isFinite) else { throw .invalidBuckets(metric: name, reason: "must be finite") }
        guard zip(bounds, bounds.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw .invalidBuckets(metric: name, reason: "must be in strictly ascending order")
        }
        bounds.append(.infinity)
        let clock = self.clock
        let upper = bounds
        let family = MetricFamily(name: name, help: help, labelNames: labelNames, kind: .histogram) {
            Histogram(upperBounds: upper, created: clock())
        }
        try register(.histogram(family),
                     names: [name, name + "_bucket", name + "_count", name + "_sum", name + "_created"])
        return family
    }

    private func validate(_ name: String, labelNames: [String], reserved: Set<String>) throws(MetricsError) {
        guard MetricNames.isValidMetricName(name) else { throw .invalidMetricName(name) }
        for label in labelNames where !MetricNames.isValidLabelName(label) || reserved.contains(label) {
            throw .invalidLabelName(metric: name, label: label)
        }
        if Set(labelNames).count != labelNames.count {
            throw .invalidLabelName(metric: name, label: labelNames.first { l in labelNames.filter { $0 == l }.count > 1 } ?? "")
        }
    }

    private func register(_ entry: Entry, names newNames: [String]) throws(MetricsError) {
        lock.lock(); defer { lock.unlock() }
        if let clash = newNames.first(where: names.contains) { throw .duplicateMetric(clash) }
        names.formUnion(newNames)
        entries.append(entry)
    }

    /// The text exposition of every registered metric, in registration order.
    public func exposition() -> String {
        lock.lock()
        let snapshot = entries
        lock.unlock()
        var out = PrometheusTextWriter(emitsCreatedSeries: emitsCreatedSeries)
        for entry in snapshot {
            switch entry {
            case .counter(let f): out.write(f)
            case .gauge(let f): out.write(f)
            case .histogram(let f): out.write(f)
            }
        }
        return out.text
    }
}
