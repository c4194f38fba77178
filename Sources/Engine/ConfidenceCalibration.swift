import Foundation

/// How often the verifier accepts a draft token, by how sure the draft was of it (its softmax
/// maximum), and how sure the draft has lately been of its first proposals: what the engine's
/// confidence gate decides from.
///
/// Once the verifier is bound by arithmetic (a few SmolLM2 requests on two cores), each verified
/// draft costs a good share of a plain token (half to two thirds), so drafts accepted about half
/// the time, as on average they are, do not pay, and the planner alone keeps such a batch at
/// plain decoding. But acceptance is far from uniform: a draft sure of its token is accepted much
/// more often than one that is guessing (SmolLM2's draft: 0.95-1.00 sure, 100%; 0.10-0.15 sure,
/// 18%). Gated, every such request drafts one token and only the sure ones are verified
/// (`SpeculationPlanner.gate`, `SpeculativeEngine.gateDrafts`), when the planner predicts that
/// this pays for the draft pass; at eight requests it seldom does (a verified row costs 0.68 of
/// a token there, and the draft pass about what the sure drafts win).
///
/// Acceptance is learnt per confidence bin from every verified draft, starting from "a draft
/// of confidence p is accepted with probability p" worth `priorWeight` observations; the share
/// of first proposals in each bin is an exponentially weighted histogram, starting uniform.
public struct ConfidenceCalibration: Sendable {
    public static let binCount = 20
    /// How many observations the prior of a bin is worth.
    static let priorWeight = 8.0
    /// Weight of the newest observation of a bin once it has many (a window of ~500 drafts).
    static let smoothing = 0.002
    /// Weight of the newest first proposal in the histogram of confidences (~100 proposals).
    static let shareSmoothing = 0.01

    /// Estimated acceptance by bin.
    public private(set) var acceptance: [Double]
    private var observations: [Double]
    /// Share of recent first proposals by bin (sums to 1).
    public private(set) var share: [Double]
    /// First proposals noted so far.
    public private(set) var proposals = 0

    public init() {
        acceptance = (0..<Self.binCount).map { (Double($0) + 0.5) / Double(Self.binCount) }
        observations = Array(repeating: 0, count: Self.binCount)
        share = Array(repeating: 1 / Double(Self.binCount), count: Self.binCount)
    }

    static func bin(_ confidence: Float) -> Int {
        guard confidence.isFinite else { return 0 }
        return min(binCount - 1, max(0, Int(Double(confidence) * Double(binCount))))
    }

    /// The estimated probability that a draft of this confidence is accepted.
    public func acceptance(confidence: Float) -> Double { acceptance[Self.bin(confidence)] }

    /// Records whether a verified draft of this confidence was accepted (given all before it were).
    public mutating func record(confidence: Float, accepted: Bool) {
        let bin = Self.bin(confidence)
        observations[bin] += 1
        let weight = max(Self.smoothing, 1 / (observations[bin] + Self.priorWeight))
        acceptance[bin] += weight * ((accepted ? 1 : 0) - acceptance[bin])
    }

    /// Notes the confidence of a request's first proposal of a step (verified or not).
    public mutating func noteFirstProposal(confidence: Float) {
        let bin = Self.bin(confidence)
        for index in share.indices { share[index] *= 1 - Self.shareSmoothing }
        share[bin] += Self.shareSmoothing
        proposals += 1
    }

    /// Per request drafting one token whose draft is verified only when its estimated acceptance
    /// is at least `threshold`: expected verifier rows added and tokens won.
    public func gated(threshold: Double) -> (rows: Double, tokens: Double) {
        var rows = 0.0, tokens = 0.0
        for bin in share.indices where acceptance[bin] >= threshold {
            rows += share[bin]
            tokens += share[bin] * acceptance[bin]
        }
        return (rows, tokens)
    }

    /// The calibrated acceptance of a recent first proposal, whatever its confidence.
    public var meanAcceptance: Double { zip(share, acceptance).reduce(0) { $0 + $1.0 * $1.1 } }

    /// The thresholds that give different gates: every bin's estimate, highest first.
    public var thresholds: [Double] {
        var result: [Double] = []
        forEachThreshold { result.append($0) }
        return result
    }

    /// Calls `body` with each of `thresholds` in turn, without building the list (the planner
    /// tries them every step).
    public func forEachThreshold(_ body: (Double) -> Void) {
        var previous = Double.infinity
        while true {
            var next = -Double.infinity, found = false
            for value in acceptance where value < previous && value > next {
                next = value
                found = true
            }
            guard found else { return }
            body(next)
            previous = next
        }
    }

    /// Acceptance and share by bin, for logs and benchmark output ("0.90-0.95: 0.93 (12%)").
    public var summary: String {
        share.indices.filter { share[$0] >= 0.005 }.map { bin in
            let low = Double(bin) / Double(Self.binCount), high = Double(bin + 1) / Double(Self.binCount)
            return String(format: "%.2f-%.2f: %.2f (%.0f%%)", low, high, acceptance[bin], share[bin] * 100)
        }.joined(separator: ", ")
    }
}
