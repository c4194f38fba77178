import Foundation

// Counter, gauge and histogram series. Each series guards its own numbers with a lock, so the
// engine thread and HTTP threads update and read them concurrently; an update is one
// uncontended lock and a few additions, and allocates nothing.

/// A monotonically increasing value (one label set of a counter family).
public final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Double = 0
    /// Unix time the series was created (exposed as `<name>_created`).
    public let created: Double

    init(created: Double) { self.created = created }

    /// Adds `amount`. Negative or non-finite amounts are ignored: a counter never goes down.
    public func increment(by amount: Double = 1) {
        guard amount >= 0, amount.isFinite else { return }
        lock.lock(); current += amount; lock.unlock()
    }

    public func increment(by amount: Int) { increment(by: Double(amount)) }

    public var value: Double { lock.lock(); defer { lock.unlock() }; return current }
}

/// A value that goes up and down (one label set of a gauge family).
public final class Gauge: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Double = 0

    init() {}

    public func set(_ value: Double) { lock.lock(); current = value; lock.unlock() }
    public func set(_ value: Int) { set(Double(value)) }
    public func increment(by amount: Double = 1) { lock.lock(); current += amount; lock.unlock() }
    public func decrement(by amount: Double = 1) { increment(by: -amount) }

    public var value: Double { lock.lock(); defer { lock.unlock() }; return current }
}

/// Observations counted into fixed buckets (one label set of a histogram family).
public final class Histogram: @unchecked Sendable {
    /// Upper bounds, ascending, the last being +Inf.
    public let upperBounds: [Double]
    public let created: Double
    private let lock = NSLock()
    /// Non-cumulative count per bucket.
    private var counts: [Double]
    private var total: Double = 0

    init(upperBounds: [Double], created: Double) {
        self.upperBounds = upperBounds
        self.created = created
        counts = Array(repeating: 0, count: upperBounds.count)
    }

    /// Counts `value` in the first bucket whose bound is ≥ value and adds it to the sum.
    /// NaN is ignored (it belongs in no bucket).
    public func observe(_ value: Double) {
        guard !value.isNaN else { return }
        let bucket = firstBucket(atLeast: value)
        lock.lock()
        counts[bucket] += 1
        total += value
        lock.unlock()
    }

    /// Cumulative counts per bucket (what `_bucket{le=...}` shows), the count and the sum,
    /// read consistently.
    public var snapshot: (cumulativeCounts: [Double], count: Double, sum: Double) {
        lock.lock()
        let raw = counts, sum = total
        lock.unlock()
        var running = 0.0
        let cumulative = raw.map { running += $0; return running }
        return (cumulative, running, sum)
    }

    private func firstBucket(atLeast value: Double) -> Int {
        var low = 0, high = upperBounds.count - 1  // the last bound is +Inf, so it always qualifies
        while low < high {
            let mid = (low + high) / 2
            if upperBounds[mid] >= value { high = mid } else { low = mid + 1 }
        }
        return low
    }
}
