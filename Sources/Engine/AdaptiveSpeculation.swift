/// Chooses how many draft tokens a request should propose next, from its own running acceptance
/// and the engine's measured costs of verification and drafting.
///
/// With per-position conditional acceptance rates `a_i`, proposing `k` tokens emits on average
/// `E(k) = 1 + a_1 + a_1·a_2 + … + a_1⋯a_k` tokens per step, at a cost of one verifier pass over
/// `1 + k` rows plus `k` draft passes. The controller picks the `k` (0 = plain decoding) with the
/// most tokens per second. At `k = 0` it still probes with one draft token now and then, so a
/// request whose text turns predictable can climb back.
public struct AdaptiveSpeculation: Sendable {
    public let maxTokens: Int
    /// A pinned k (request or server setting): no adaptation.
    public let pinned: Int?
    /// Exponentially weighted conditional acceptance per draft position.
    private(set) var acceptance: [Double]
    private var observations: [Double]
    private var stepsAtZero = 0
    /// Steps between probes while at k = 0.
    static let probeInterval = 16
    /// Weight of the newest observation.
    static let smoothing = 0.1

    public init(maxTokens: Int, pinned: Int?, prior: Double = 0.6) {
        self.maxTokens = max(0, maxTokens)
        self.pinned = pinned.map { max(0, min($0, max(0, maxTokens))) }
        acceptance = Array(repeating: prior, count: max(maxTokens, 1))
        observations = Array(repeating: 0, count: max(maxTokens, 1))
    }

    /// Records a verification: `proposed` drafts, of which the first `accepted` matched.
    public mutating func record(proposed: Int, accepted: Int) {
        for position in 0..<min(proposed, acceptance.count) {
            // Position i only tells something if all earlier drafts were accepted.
            guard position <= accepted else { break }
            let hit: Double = position < accepted ? 1 : 0
            observations[position] += 1
            let weight = max(AdaptiveSpeculation.smoothing, 1 / observations[position])
            acceptance[position] += weight * (hit - acceptance[position])
        }
    }

    /// Expected tokens emitted per step when proposing `k` drafts.
    public func expectedTokens(k: Int) -> Double {
        var total = 1.0, chain = 1.0
        for position in 0..<min(k, acceptance.count) {
            chain *= acceptance[position]
            total += chain
        }
        return total
    }

    /// The k to propose next, given the cost model (seconds).
    public mutating func choose(cost: SpeculationCosts) -> Int {
        if let pinned { return pinned }
        guard maxTokens > 0 else { return 0 }
        // Plain decoding first: its cost is the yardstick every k is measured against.
        guard cost.isCalibrated else { return 0 }
        var best = 0
        var bestRate = 1 / cost.step(k: 0)
        for k in 1...maxTokens {
            let rate = expectedTokens(k: k) / cost.step(k: k)
            if rate > bestRate * 1.02 { best = k; bestRate = rate }
        }
        if best == 0 {
            stepsAtZero += 1
            if stepsAtZero >= AdaptiveSpeculation.probeInterval {
                stepsAtZero = 0
                return 1
            }
        } else {
            stepsAtZero = 0
        }
        return best
    }
}

/// Measured costs of one engine step for a single sequence, as a function of draft length.
public struct SpeculationCosts: Sendable {
    /// Verifier pass time by number of rows per sequence (index = rows, 1...).
    public var verify: [Double]
    /// One draft pass (context or chain step) per sequence.
    public var draftPass: Double
    public var isCalibrated: Bool

    public init(maxDraft: Int) {
        verify = Array(repeating: 0, count: maxDraft + 2)
        draftPass = 0
        isCalibrated = false
    }

    /// Seconds for one step proposing `k` drafts: verify 1+k rows, k draft passes (the context
    /// pass is needed only when drafting).
    public func step(k: Int) -> Double {
        let rows = min(k + 1, verify.count - 1)
        let verifyTime = verify[rows] > 0 ? verify[rows] : verify[1] * (1 + 0.1 * Double(k))
        return max(verifyTime + Double(k) * draftPass, 1e-6)
    }

    /// Folds in a measured verifier pass of `rows` rows per sequence.
    public mutating func observeVerify(rowsPerSequence rows: Int, seconds: Double) {
        guard rows >= 1, rows < verify.count else { return }
        verify[rows] = verify[rows] == 0 ? seconds : verify[rows] * 0.9 + seconds * 0.1
        isCalibrated = verify[1] > 0
    }

    public mutating func observeDraft(seconds: Double) {
        draftPass = draftPass == 0 ? seconds : draftPass * 0.9 + seconds * 0.1
    }
}
