import Foundation
import Tensors

/// How a request picks its tokens. Temperature 0 means greedy (argmax).
public struct SamplingParameters: Sendable, Equatable {
    public var temperature: Float
    /// Nucleus sampling: keep the smallest set of most likely tokens whose mass reaches `topP`.
    public var topP: Float
    /// Keep only the `topK` most likely tokens (0 or -1: all).
    public var topK: Int
    /// Drop tokens less likely than `minP` times the most likely one.
    public var minP: Float
    /// Makes sampled requests reproducible (a fresh random seed when nil).
    public var seed: UInt64?
    /// Divides positive logits and multiplies negative ones of every token in the prompt or the
    /// output so far (1: off). The logit adjustments are applied as `LogitProcessor` says.
    public var repetitionPenalty: Float
    /// Subtracted once from the logit of every token the output holds (0: off; OpenAI's [-2, 2]).
    public var presencePenalty: Float
    /// Subtracted from a token's logit once per time the output holds it (0: off; [-2, 2]).
    public var frequencyPenalty: Float
    /// Added to the logits of these token ids.
    public var logitBias: [Int: Float]
    /// Only these token ids can be chosen (nil: all).
    public var allowedTokenIds: [Int]?

    public init(temperature: Float = 0, topP: Float = 1, topK: Int = 0, minP: Float = 0, seed: UInt64? = nil,
                repetitionPenalty: Float = 1, presencePenalty: Float = 0, frequencyPenalty: Float = 0,
                logitBias: [Int: Float] = [:], allowedTokenIds: [Int]? = nil) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
        self.seed = seed
        self.repetitionPenalty = repetitionPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.logitBias = logitBias
        self.allowedTokenIds = allowedTokenIds
    }

    public static let greedy = SamplingParameters()

    public var isGreedy: Bool { temperature <= 0 }

    /// Whether any penalty, bias or token restriction changes the verifier's logits.
    public var adjustsLogits: Bool {
        repetitionPenalty != 1 || presencePenalty != 0 || frequencyPenalty != 0 || !logitBias.isEmpty || allowedTokenIds != nil
    }
}

/// A small, fast, seedable generator (xoshiro256**), one per request so that a seeded request
/// draws the same numbers whatever else is in the batch.
public struct RandomSource: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var mix = seed
        func next() -> UInt64 {
            mix &+= 0x9E37_79B9_7F4A_7C15
            var z = mix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (next(), next(), next(), next())
    }

    public init() {
        var system = SystemRandomNumberGenerator()
        self.init(seed: system.next())
    }

    public mutating func next() -> UInt64 {
        let result = ((state.1 &* 5) << 7 | (state.1 &* 5) >> 57) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = state.3 << 45 | state.3 >> 19
        return result
    }

    /// A uniform double in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }
}

/// Turns verifier logits into the distribution a request samples from, and samples it.
///
/// The same processed distribution `p` and the same one uniform number per token serve plain
/// sampling and the verification of drafts (a draft stands when it is the token drawn), which is
/// what makes speculative sampling give exactly the tokens of plain sampling for a seed.
public struct Sampler: Sendable {
    public let vocabularySize: Int
    private var probabilities: [Float]
    private var candidates: [Int32]

    public init(vocabularySize: Int) {
        self.vocabularySize = vocabularySize
        probabilities = Array(repeating: 0, count: vocabularySize)
        candidates = []
        candidates.reserveCapacity(vocabularySize)
    }

    /// Greedy choice: the first largest logit.
    public static func argmax(_ logits: UnsafePointer<Float>, count: Int) -> Int {
        Kernels.argmax(logits, count: count)
    }

    /// Computes the processed distribution of `logits` for `parameters` (temperature, top-k,
    /// top-p, min-p) into the sampler's buffer and returns it. Requires temperature > 0.
    public mutating func distribution(_ logits: UnsafePointer<Float>, _ parameters: SamplingParameters) -> UnsafeBufferPointer<Float> {
        let count = vocabularySize
        let inverseTemperature = 1 / max(parameters.temperature, 1e-6)
        probabilities.withUnsafeMutableBufferPointer { p in
            guard let base = p.baseAddress else { return }
            for i in 0..<count { base[i] = logits[i] * inverseTemperature }
            Kernels.softmax(base, count: count)
        }
        let needsTruncation = (parameters.topK > 0 && parameters.topK < count) || parameters.topP < 1 || parameters.minP > 0
        if needsTruncation { truncate(parameters) }
        return probabilities.withUnsafeBufferPointer { UnsafeBufferPointer(start: $0.baseAddress, count: count) }
    }

    /// Applies top-k, top-p and min-p to the probabilities in place and renormalises.
    private mutating func truncate(_ parameters: SamplingParameters) {
        let count = vocabularySize
        var maxProbability: Float = 0
        for p in probabilities where p > maxProbability { maxProbability = p }
        // Candidates above a threshold suffice as long as they hold the whole nucleus and at
        // least k tokens; lower the threshold until they do (down to a full sort of the vocabulary).
        let floor = parameters.minP > 0 ? parameters.minP * maxProbability : 0
        let keepCount = parameters.topK > 0 && parameters.topK < count ? parameters.topK : Int.max
        // With min-p alone the candidates are exactly the tokens at or above the min-p floor.
        var threshold = parameters.topP < 1 || keepCount != Int.max ? max(maxProbability * 1e-4, floor) : floor
        while true {
            candidates.removeAll(keepingCapacity: true)
            var mass: Float = 0
            for i in 0..<count where probabilities[i] >= threshold {
                candidates.append(Int32(i))
                mass += probabilities[i]
            }
            let holdsNucleus = parameters.topP >= 1 || mass >= parameters.topP
            let holdsTopK = keepCount == Int.max || candidates.count >= keepCount
            if (holdsNucleus && holdsTopK) || threshold <= floor { break }
            threshold = threshold > 1e-30 ? max(threshold * 1e-4, floor) : floor
        }
        let probs = probabilities
        candidates.sort { probs[Int($0)] > probs[Int($1)] || (probs[Int($0)] == probs[Int($1)] && $0 < $1) }
        var kept = min(candidates.count, keepCount)
        if parameters.topP < 1 {
            var cumulative: Float = 0
            for (index, candidate) in candidates.prefix(kept).enumerated() {
                cumulative += probs[Int(candidate)]
                if cumulative >= parameters.topP { kept = index + 1; break }
            }
        }
        kept = max(kept, 1)
        var total: Float = 0
        for candidate in candidates.prefix(kept) { total += probs[Int(candidate)] }
        for i in 0..<count { probabilities[i] = 0 }
        for candidate in candidates.prefix(kept) { probabilities[Int(candidate)] = probs[Int(candidate)] / total }
    }

    /// Draws a token from a distribution (inverse CDF over one uniform number).
    public static func sample(_ distribution: UnsafeBufferPointer<Float>, using random: inout RandomSource) -> Int {
        let u = Float(random.uniform())
        var cumulative: Float = 0
        var last = 0
        for (index, p) in distribution.enumerated() where p > 0 {
            cumulative += p
            last = index
            if u < cumulative { return index }
        }
        return last
    }
}
