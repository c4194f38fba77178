import Foundation

// A named metric with a fixed list of label names; one series per distinct label-value list,
// kept in creation order (the order the exposition lists them).

/// What a family exposes as: counter, gauge or histogram.
public enum MetricKind: String, Sendable {
    case counter, gauge, histogram
}

/// A metric family: `labels(...)` returns (creating on first use) the series for those label
/// values. Keep the returned series to update it without any lookup on hot paths.
public final class MetricFamily<Series: AnyObject & Sendable>: @unchecked Sendable {
    /// The name as declared (counters without `_total`).
    public let name: String
    public let help: String
    public let labelNames: [String]
    public let kind: MetricKind
    private let makeSeries: @Sendable () -> Series
    private let lock = NSLock()
    private var ordered: [(labelValues: [String], series: Series)] = []
    private var index: [[String]: Int] = [:]

    init(name: String, help: String, labelNames: [String], kind: MetricKind,
         makeSeries: @escaping @Sendable () -> Series) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
        self.kind = kind
        self.makeSeries = makeSeries
        // A family without labels has exactly one series, present from registration on.
        if labelNames.isEmpty { _ = series(for: []) }
    }

    /// The series for `values` (one per label name, in declaration order).
    public func labels(_ values: [String]) throws(MetricsError) -> Series {
        guard values.count == labelNames.count else {
            throw .labelCountMismatch(metric: name, expected: labelNames, got: values.count)
        }
        return series(for: values)
    }

    public func labels(_ values: String...) throws(MetricsError) -> Series { try labels(values) }

    /// The series of a family without labels.
    public var unlabelled: Series? { labelNames.isEmpty ? series(for: []) : nil }

    /// All series with their label values, in creation order.
    public var allSeries: [(labelValues: [String], series: Series)] {
        lock.lock(); defer { lock.unlock() }
        return ordered
    }

    private func series(for values: [String]) -> Series {
        lock.lock(); defer { lock.unlock() }
        if let i = index[values] { return ordered[i].series }
        let s = makeSeries()
        index[values] = ordered.count
        ordered.append((values, s))
        return s
    }
}
