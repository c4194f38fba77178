/// One request's running acceptance, from which the engine's planner chooses how many draft
/// tokens it proposes next (`SpeculationPlanner`).
///
/// With per-position conditional acceptance rates `a_i`, proposing `k` tokens emits on average
/// `E(k) = 1 + a_1 + a_1·a_2 + … + a_1⋯a_k` tokens per step. A request at k = 0 still probes
/// with one draft token now and then, so a request whose text turns predictable can climb back.
public struct AdaptiveSpeculation: Sendable {
    public let maxTokens: Int
    /// A pinned k (request or server setting): no adaptation.
    public let pinned: Int?
    /// Exponentially weighted conditional acceptance per draft position.
    private(set) var acceptance: [Double]
    /// Whether each position has been observed (never-observed ones borrow `estimate`).
    private var observed: [Bool]
    private var stepsAtZero = 0
    /// Steps between probes while at k = 0: starts at `probeInterval` and doubles (up to
    /// `maxProbeInterval`) each time a probe ends with the request back at plain decoding, since a
    /// probe costs a verifier row and a draft pass over every feature queued since the last one.
    private(set) var currentProbeInterval = AdaptiveSpeculation.probeInterval
    public static let probeInterval = 16
    public static let maxProbeInterval = 64
    /// Seconds of steps (this request's share of each) spent at k = 0 since its last probe or draft.
    public private(set) var idleSeconds = 0.0
    /// The most a probe may be predicted to lose, as a share of `idleSeconds`
    /// (`SpeculationPlanner.affordableProbes`).
    public static let probeBudget = 0.02
    /// Weight of each observation, the first ones included: the prior is worth the ten or so
    /// observations the estimate remembers. When the prior counted as four, the first few drafts
    /// weighed up to a fifth each, and one bad opening stretch (one of six accepted) dropped a
    /// lone request to plain decoding for the rest of a response whose drafts were accepted
    /// 0.6 of the time afterwards. Measured with the prior counted as eight (the first draft
    /// weighing 0.111): MT-Bench, quantised verifier, batch 1, against k = 1 in the same run,
    /// adaptive 0.959 -> 0.982, with the confidence gate 0.989 -> 1.008; batch 8 within noise
    /// (0.990-1.012x plain either way); one chat prompt, 256 tokens, 4 of 8 runs stopped drafting
    /// early before (475 tok/s mean), none of 8 after (572). With this weighting, 2 of 48 runs.
    static let smoothing = 0.1

    public init(maxTokens: Int, pinned: Int?, prior: Double = 0.6) {
        self.maxTokens = max(0, maxTokens)
        self.pinned = pinned.map { max(0, min($0, max(0, maxTokens))) }
        acceptance = Array(repeating: prior, count: max(maxTokens, 1))
        observed = Array(repeating: false, count: max(maxTokens, 1))
    }

    /// Records a verification: `proposed` drafts, of which the first `accepted` matched.
    public mutating func record(proposed: Int, accepted: Int) {
        for position in 0..<min(proposed, acceptance.count) {
            // Position i only tells something if all earlier drafts were accepted.
            guard position <= accepted else { break }
            let hit: Double = position < accepted ? 1 : 0
            if !observed[position] { acceptance[position] = estimate(position) }
            observed[position] = true
            // The prior weighs as much as the window: one rejected probe must not read as
            // "never accepted", which kept requests at k = 0 while their probes backed off.
            acceptance[position] += AdaptiveSpeculation.smoothing * (hit - acceptance[position])
        }
    }

    /// Expected tokens emitted per step when proposing `k` drafts.
    public func expectedTokens(k: Int) -> Double {
        var total = 1.0, chain = 1.0
        for position in 0..<min(k, acceptance.count) {
            chain *= estimate(position)
            total += chain
        }
        return total
    }

    /// The conditional acceptance assumed at `position`: its own estimate once it has been
    /// observed, before that the estimate of the position before it (the prior only for the
    /// first). A deep position is observed only when every earlier draft was accepted, so with
    /// a fixed prior of 0.6 there, positions 4 and 5 stayed optimistic for hundreds of steps and
    /// a request alone kept proposing five drafts where three paid (adaptive fell below fixed
    /// k = 3 on MT-Bench); deeper drafts are seldom accepted more often than shallower ones.
    func estimate(_ position: Int) -> Double {
        var value = acceptance[0]
        for p in 0...min(position, acceptance.count - 1) where observed[p] || p == 0 { value = acceptance[p] }
        return value
    }

    /// The fewest drafts this request must propose next: its pinned k, or one when it has sat
    /// at k = 0 for `probeInterval` steps (a probe), else none.
    public var minimumNext: Int {
        if let pinned { return pinned }
        return maxTokens > 0 && stepsAtZero >= currentProbeInterval - 1 ? 1 : 0
    }

    /// The most drafts this request may propose next.
    public var maximumNext: Int { pinned ?? maxTokens }

    /// True when a probe is due (not pinned, at k = 0 for `currentProbeInterval` steps).
    public var probeDue: Bool { pinned == nil && minimumNext == 1 }

    /// Notes the k the planner chose, for the probe schedule; `share` is this request's share of
    /// the step's predicted seconds.
    public mutating func planned(_ k: Int, share: Double = 0) {
        guard pinned == nil else { return }
        if k == 0 {
            stepsAtZero += 1
            idleSeconds += share
            return
        }
        idleSeconds = 0
        if k == minimumNext {
            // A probe: if the next plan goes back to 0, wait twice as long for the next one.
            stepsAtZero = 0
            currentProbeInterval = min(currentProbeInterval * 2, AdaptiveSpeculation.maxProbeInterval)
        } else {
            stepsAtZero = 0
            currentProbeInterval = AdaptiveSpeculation.probeInterval
        }
    }
}
