import Foundation

// vLLM prints one line of speculative-decoding statistics per logging interval (when drafts
// happened) and then starts a new interval. This accumulates one interval.

/// Interval totals of draft verification, rendered as vLLM's "SpecDecoding metrics:" line.
public struct SpecDecodingLogAggregator: Sendable, Equatable {
    public private(set) var drafts = 0
    public private(set) var draftTokens = 0
    public private(set) var acceptedTokens = 0
    /// Index i counts drafts that had at least i+1 tokens accepted.
    public private(set) var acceptedPerPosition: [Int]

    /// `numSpeculativeTokens` is the largest draft length (positions tracked).
    public init(numSpeculativeTokens: Int) {
        acceptedPerPosition = Array(repeating: 0, count: max(0, numSpeculativeTokens))
    }

    /// One (request, step) verification of `draftTokens` drafts of which `acceptedTokens` were
    /// accepted. Steps without drafts are not drafts and are ignored.
    public mutating func observe(draftTokens: Int, acceptedTokens: Int) {
        guard draftTokens > 0 else { return }
        let accepted = min(max(0, acceptedTokens), draftTokens)
        drafts += 1
        self.draftTokens += draftTokens
        self.acceptedTokens += accepted
        for i in 0..<min(accepted, acceptedPerPosition.count) { acceptedPerPosition[i] += 1 }
    }

    /// The interval's line, or nil when no drafts were verified; resets the interval either way.
    /// `elapsedSeconds` is the interval length, for the throughputs.
    public mutating func logLine(elapsedSeconds: Double) -> String? {
        defer { self = SpecDecodingLogAggregator(numSpeculativeTokens: acceptedPerPosition.count) }
        guard drafts > 0 else { return nil }
        let seconds = elapsedSeconds > 0 ? elapsedSeconds : 1
        let meanLength = 1 + Double(acceptedTokens) / Double(drafts)
        let rates = acceptedPerPosition.map { fixed(Double($0) / Double(drafts), 3) }.joined(separator: ", ")
        let acceptanceRate = draftTokens > 0 ? 100 * Double(acceptedTokens) / Double(draftTokens) : 0
        return "SpecDecoding metrics: Mean acceptance length: \(fixed(meanLength, 2)), "
            + "Accepted throughput: \(fixed(Double(acceptedTokens) / seconds, 1)) tokens/s, "
            + "Drafted throughput: \(fixed(Double(draftTokens) / seconds, 1)) tokens/s, "
            + "Accepted: \(acceptedTokens) tokens, Drafted: \(draftTokens) tokens, "
            + "Per-position acceptance rate: \(rates), Avg Draft acceptance rate: \(fixed(acceptanceRate, 1))%"
    }

    private func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
}
