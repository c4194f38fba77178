/// Measured seconds of a forward pass as a function of how many rows it carries.
///
/// A pass over a few rows costs what streaming the weights costs; beyond the point where the
/// arithmetic outweighs the memory traffic (about 8 rows for SmolLM2 on two cores), every row
/// adds its share. The planner needs the whole curve, not one number: a probe that adds one row
/// to a batch of eight says nothing about what adding eight rows costs. Each row count keeps an
/// running mean that becomes exponentially weighted (the n-th observation weighs 1/n until that
/// falls to `smoothing`), so a count measured once, at calibration on a machine that was busy
/// for a moment, is corrected by its first few live passes; counts never measured are
/// interpolated between the nearest measured ones (linearly in rows beyond the largest, which
/// is how a compute-bound pass grows).
public struct CostCurve: Sendable {
    /// Seconds by row count (index 0 unused); 0 means not measured.
    private var seconds: [Double]
    /// Observations folded in, by row count.
    private var counts: [Int]
    /// Weight of the newest observation once a count has many.
    static let smoothing = 0.1

    public init(maxRows: Int) {
        seconds = Array(repeating: 0, count: max(2, maxRows + 1))
        counts = Array(repeating: 0, count: seconds.count)
    }

    public var maxRows: Int { seconds.count - 1 }
    public var isEmpty: Bool { !seconds.contains { $0 > 0 } }

    /// Folds in one pass of `rows` rows (counts beyond `maxRows` are ignored).
    public mutating func observe(rows: Int, seconds value: Double) {
        guard rows >= 1, rows <= maxRows, value > 0, value.isFinite else { return }
        counts[rows] += 1
        let weight = max(CostCurve.smoothing, 1 / Double(counts[rows]))
        seconds[rows] += weight * (value - seconds[rows])
    }

    /// Estimated seconds for `rows` rows (0 for none; nil while nothing has been measured).
    public func estimate(rows: Int) -> Double? {
        guard rows > 0 else { return 0 }
        let r = min(rows, maxRows)
        if seconds[r] > 0 { return scaled(seconds[r], from: r, to: rows) }
        let below = (1..<r).last { seconds[$0] > 0 }
        let above = r < maxRows ? ((r + 1)...maxRows).first { seconds[$0] > 0 } : nil
        switch (below, above) {
        case let (lo?, hi?):
            let t = Double(r - lo) / Double(hi - lo)
            return scaled(seconds[lo] + t * (seconds[hi] - seconds[lo]), from: r, to: rows)
        case let (lo?, nil):
            return scaled(seconds[lo], from: lo, to: rows)
        case let (nil, hi?):
            // Fewer rows never cost more; without a smaller measurement assume the same.
            return scaled(seconds[hi], from: r, to: rows)
        case (nil, nil):
            return nil
        }
    }

    /// Estimated seconds for a fractional number of rows (an expected count): linear between
    /// the whole counts on either side.
    public func estimate(expectedRows rows: Double) -> Double? {
        let below = Int(rows.rounded(.down))
        guard let low = estimate(rows: below) else { return nil }
        let fraction = rows - Double(below)
        guard fraction > 0, let high = estimate(rows: below + 1) else { return low }
        return low + fraction * (high - low)
    }

    /// Beyond the largest measured count a pass grows in proportion to its rows.
    private func scaled(_ value: Double, from measured: Int, to rows: Int) -> Double {
        rows > measured ? value * Double(rows) / Double(measured) : value
    }
}

/// What the engine has measured of its passes: the verifier over decode and verification rows,
/// the draft's context pass (verifier features in) and its chain steps (its own hidden state in).
public struct SpeculationCosts: Sendable {
    public var verify: CostCurve
    public var draftContext: CostCurve
    public var draftChain: CostCurve

    public init(maxRows: Int) {
        verify = CostCurve(maxRows: maxRows)
        draftContext = CostCurve(maxRows: maxRows)
        draftChain = CostCurve(maxRows: maxRows)
    }

    /// True once plain decoding has a measured cost: the yardstick every choice is held against.
    public var isCalibrated: Bool { !verify.isEmpty }
    /// True when the curves were measured over the whole range of batch sizes
    /// (`SpeculativeEngine.calibrateCosts`), not only extrapolated from the passes run so far.
    public var coversBatches = false

    /// The curves at 1, 2, 4, ... rows in milliseconds, for logs and benchmark output.
    public func summary(upTo rows: Int = 64) -> String {
        let sizes = Array(sequence(first: 1) { $0 * 2 }.prefix { $0 <= rows })
        func line(_ name: String, _ curve: CostCurve) -> String {
            name + " " + sizes.map { size in
                curve.estimate(rows: size).map { "\(size):" + String(format: "%.2f", $0 * 1000) } ?? "\(size):-"
            }.joined(separator: " ")
        }
        return [line("verify", verify), line("draft context", draftContext), line("draft chain", draftChain)]
            .joined(separator: "; ") + " (rows:ms)"
    }
}
