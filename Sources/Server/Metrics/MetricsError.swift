// Registration mistakes (bad names, duplicate metrics, wrong label counts) are reported as
// errors rather than traps, so a typo cannot take the server down.

/// A metric that cannot be registered or a label set that does not fit its metric.
public enum MetricsError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidMetricName(String)
    case invalidLabelName(metric: String, label: String)
    case duplicateMetric(String)
    case labelCountMismatch(metric: String, expected: [String], got: Int)
    case invalidBuckets(metric: String, reason: String)

    public var description: String {
        switch self {
        case .invalidMetricName(let name):
            return "metric name '\(name)' must match [a-zA-Z_:][a-zA-Z0-9_:]*"
        case let .invalidLabelName(metric, label):
            return "metric '\(metric)': label name '\(label)' must match [a-zA-Z_][a-zA-Z0-9_]*, not start with "
                + "'__', and not be 'le' on a histogram"
        case .duplicateMetric(let name):
            return "metric '\(name)' is already registered"
        case let .labelCountMismatch(metric, expected, got):
            return "metric '\(metric)' has labels \(expected) but \(got) values were given"
        case let .invalidBuckets(metric, reason):
            return "metric '\(metric)': buckets \(reason)"
        }
    }
}

enum MetricNames {
    static func isValidMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first else { return false }
        func head(_ c: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_" || c == ":"
        }
        func tail(_ c: Unicode.Scalar) -> Bool { head(c) || ("0"..."9").contains(c) }
        return head(first) && name.unicodeScalars.dropFirst().allSatisfy(tail)
    }

    static func isValidLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !name.hasPrefix("__") else { return false }
        func head(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_" }
        func tail(_ c: Unicode.Scalar) -> Bool { head(c) || ("0"..."9").contains(c) }
        return head(first) && name.unicodeScalars.dropFirst().allSatisfy(tail)
    }
}
