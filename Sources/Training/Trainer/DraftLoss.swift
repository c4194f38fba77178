import Foundation
import Tensors

/// A per-position loss between the verifier's distribution `p` and the draft's `q` over the draft
/// vocabulary (`training.md` §8), with its analytic gradient with respect to the draft logits.
public enum DraftLossKind: String, Sendable, CaseIterable {
    /// `Σ p (log p − log q)`, the library default for EAGLE-3.
    case klDivergence = "kl_div"
    /// `−log q[argmax p]` (first index on ties).
    case crossEntropy = "ce"
}

/// A weighted sum of loss terms, as `--loss-fn` describes it (`kl_div`, or `{"kl_div": 0.5, "ce": 0.5}`).
public struct DraftLossSpec: Sendable, Equatable {
    public var terms: [(kind: DraftLossKind, weight: Double)]

    public init(terms: [(kind: DraftLossKind, weight: Double)]) { self.terms = terms }
    public static let klDivergence = DraftLossSpec(terms: [(.klDivergence, 1)])

    public static func == (lhs: DraftLossSpec, rhs: DraftLossSpec) -> Bool {
        lhs.terms.count == rhs.terms.count && zip(lhs.terms, rhs.terms).allSatisfy { $0.kind == $1.kind && $0.weight == $1.weight }
    }

    /// Parses a loss name or a JSON object of `name: weight` pairs.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let kind = DraftLossKind(rawValue: trimmed) {
            terms = [(kind, 1)]
            return
        }
        guard trimmed.hasPrefix("{"), let data = trimmed.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], !object.isEmpty else {
            let known = DraftLossKind.allCases.map(\.rawValue).joined(separator: ", ")
            throw TrainingError.invalidOption("--loss-fn '\(text)' is neither a loss name (\(known)) nor a non-empty JSON object of name: weight")
        }
        var parsed: [(DraftLossKind, Double)] = []
        for name in object.keys.sorted() {
            guard let kind = DraftLossKind(rawValue: name) else {
                throw TrainingError.invalidOption("--loss-fn: unknown loss '\(name)' (supported: kl_div, ce)")
            }
            guard let weight = (object[name] as? NSNumber)?.doubleValue, weight.isFinite else {
                throw TrainingError.invalidOption("--loss-fn: the weight of '\(name)' must be a number")
            }
            // A negative weight would climb that loss; a zero one is the term left out.
            guard weight > 0 else {
                throw TrainingError.invalidOption("--loss-fn: the weight of '\(name)' must be positive, got \(weight) (leave the term out instead)")
            }
            parsed.append((kind, weight))
        }
        terms = parsed
    }
}

/// The verifier's distribution over the draft vocabulary for every packed row that some step
/// needs: `log_softmax(verifier_head_rows(verifier_norm(last_hidden)))` and its argmax.
final class TargetDistributions: @unchecked Sendable {
    /// Slot of each packed row in `logProbabilities`, or -1 when no step needs it.
    var slotOfRow: [Int] = []
    var argmax: [Int] = []
    let storage = Scratch()
    private let normed = Scratch()
    var vocabulary = 0

    func logProbabilities(slot: Int) -> UnsafeMutablePointer<Float> { storage.pointer(0) + slot * vocabulary }

    func compute(lastHidden: UnsafePointer<Float>, hidden: Int, needed: [Bool], draft: TrainableDraft,
                 precision: MatmulPrecision = .float32, pool: ThreadPool) {
        let vd = draft.config.draftVocabSize
        vocabulary = vd
        var rows: [Int] = []
        slotOfRow = [Int](repeating: -1, count: needed.count)
        for (r, flag) in needed.enumerated() where flag {
            slotOfRow[r] = rows.count
            rows.append(r)
        }
        let count = rows.count
        argmax = [Int](repeating: 0, count: count)
        guard count > 0 else { return }
        let gathered = normed.pointer(count * hidden)
        let eps = draft.config.layer.rmsNormEps
        let w = UnsafePointer(draft.frozen.verifierNorm.base)
        pool.parallelRanges(count) { range in
            for slot in range {
                Kernels.rmsNorm(lastHidden + rows[slot] * hidden, weight: w, eps: eps, rows: 1, dim: hidden,
                                into: gathered + slot * hidden)
            }
        }
        let logits = storage.pointer(count * vd)
        TrainingKernels.linear(gathered, rows: count, ldx: hidden, weight: draft.frozen.verifierHead, into: logits, ldy: vd,
                               precision: precision, pool: pool)
        argmax.withUnsafeMutableBufferPointer { best in
            guard let bestBase = best.baseAddress else { return }
            pool.parallelRanges(count) { range in
                for slot in range {
                    let row = logits + slot * vd
                    bestBase[slot] = Kernels.argmax(row, count: vd)
                    LossMath.logSoftmax(row, count: vd)
                }
            }
        }
    }
}

/// The loss arithmetic over one row of draft-vocabulary logits, sixteen lanes at a time: each lane
/// accumulates its own float sum and the lanes are added at the end (a fixed order, so results are
/// reproducible). Written with explicit vectors because a float sum in a plain loop is not
/// vectorised (that would reorder it): scalar, these loops took 15% of a bf16 training step.
enum LossMath {
    typealias V = SIMD16<Float>

    /// In place: `x ← x − logsumexp(x)`.
    static func logSoftmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        let maxValue = Kernels.maximum(x, count: count)
        let shift = maxValue + Foundation.log(sumExp(x, count: count, minus: maxValue))
        let raw = UnsafeMutableRawPointer(x)
        var i = 0
        while i + 16 <= count {
            raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: i * 4, as: V.self) - shift, toByteOffset: i * 4, as: V.self)
            i += 16
        }
        while i < count { x[i] -= shift; i += 1 }
    }

    /// `Σ exp(x − m)`.
    @inline(__always) static func sumExp(_ x: UnsafePointer<Float>, count: Int, minus m: Float) -> Float {
        let raw = UnsafeRawPointer(x)
        var lanes = V()
        var i = 0
        while i + 16 <= count {
            lanes += Kernels.exp(raw.loadUnaligned(fromByteOffset: i * 4, as: V.self) - m)
            i += 16
        }
        var sum = lanes.sum()
        while i < count { sum += Kernels.exp(x[i] - m); i += 1 }
        return sum
    }

    /// For one position with draft log-probabilities `logQ` and target log-probabilities `logP`:
    /// returns `Σ p (log p − log q)`.
    @inline(__always) static func klDivergence(logP: UnsafePointer<Float>, logQ: UnsafePointer<Float>, count: Int) -> Double {
        let rawP = UnsafeRawPointer(logP), rawQ = UnsafeRawPointer(logQ)
        var lanes = V()
        var i = 0
        while i + 16 <= count {
            let p = rawP.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            lanes += Kernels.exp(p) * (p - rawQ.loadUnaligned(fromByteOffset: i * 4, as: V.self))
            i += 16
        }
        var sum = lanes.sum()
        while i < count { sum += Kernels.exp(logP[i]) * (logP[i] - logQ[i]); i += 1 }
        return Double(sum)
    }

    /// Overwrites `logQ` with `total·q − klWeight·p` (the gradient of the weighted losses before
    /// the cross-entropy one-hot term).
    @inline(__always) static func gradient(logQ: UnsafeMutablePointer<Float>, logP: UnsafePointer<Float>, count: Int,
                                           total: Float, klWeight: Float) {
        let rawP = UnsafeRawPointer(logP), rawQ = UnsafeMutableRawPointer(logQ)
        var i = 0
        while i + 16 <= count {
            let q = Kernels.exp(rawQ.loadUnaligned(fromByteOffset: i * 4, as: V.self))
            let p = Kernels.exp(rawP.loadUnaligned(fromByteOffset: i * 4, as: V.self))
            rawQ.storeBytes(of: total * q - klWeight * p, toByteOffset: i * 4, as: V.self)
            i += 16
        }
        while i < count { logQ[i] = total * Kernels.exp(logQ[i]) - klWeight * Kernels.exp(logP[i]); i += 1 }
    }
}

/// The accumulated metrics of one or more batches, as `<name>_sum` / `<name>_total` pairs
/// (`training.md` §7): divide to get the value.
public struct TrainingMetrics: Sendable, Equatable {
    public var stepLossSum: [Double]
    public var stepLossTotal: [Double]
    public var termLossSum: [[Double]]
    public var fullCorrect: [Double]
    public var fullTotal: [Double]
    public var conditionalCorrect: [Double]
    public var conditionalTotal: [Double]
    public var lossSum: Double
    public var lossTotal: Double
    /// Draft rows processed (packed rows, TTT steps counted once).
    public var tokens: Int
    /// Speculation steps and tokens emitted when each response is walked the way greedy serving
    /// walks it: a step at row `t` emits its accepted drafts plus the verifier's token and the next
    /// step starts after them (`simulatedAcceptanceLength`).
    public var simulatedSteps: Double
    public var simulatedTokens: Double

    public init(steps: Int, terms: Int = 1) {
        stepLossSum = Array(repeating: 0, count: steps)
        stepLossTotal = stepLossSum
        termLossSum = Array(repeating: Array(repeating: 0, count: terms), count: steps)
        fullCorrect = stepLossSum
        fullTotal = stepLossSum
        conditionalCorrect = stepLossSum
        conditionalTotal = stepLossSum
        lossSum = 0
        lossTotal = 0
        tokens = 0
        simulatedSteps = 0
        simulatedTokens = 0
    }

    public var loss: Double { lossTotal > 0 ? lossSum / lossTotal : 0 }
    public func stepLoss(_ k: Int) -> Double { stepLossTotal[k] > 0 ? stepLossSum[k] / stepLossTotal[k] : 0 }
    /// Fraction of supervised positions whose whole draft chain up to step `k` is the verifier's argmax.
    public func fullAccuracy(_ k: Int) -> Double { fullTotal[k] > 0 ? fullCorrect[k] / fullTotal[k] : 0 }
    /// Same numerator over the anchors still correct before step `k`.
    public func conditionalAccuracy(_ k: Int) -> Double {
        conditionalTotal[k] > 0 ? conditionalCorrect[k] / conditionalTotal[k] : 0
    }

    /// Mean acceptance length of a greedy serving walk through the responses with `k = steps`.
    /// Lower than `1 + Σ full_acc_k`, which weighs every position alike: serving lands on hard
    /// positions more often than on easy ones, because easy stretches are crossed in long strides.
    public var simulatedAcceptanceLength: Double { simulatedSteps > 0 ? simulatedTokens / simulatedSteps : 0 }

    /// Adds the greedy serving walk through each document's supervised rows: a step at anchor row
    /// `t` accepts `acceptedRun[t]` drafts (never past the response) and adds the verifier's own
    /// token; the next step starts at the row of the last token it emitted.
    public mutating func addServingWalk(acceptedRun: [Int], lossMask: [Bool], documents: [Range<Int>]) {
        for document in documents {
            var t = document.lowerBound
            while t < document.upperBound {
                guard lossMask[t] else { t += 1; continue }
                var accepted = 0
                while accepted < acceptedRun[t], t + accepted + 1 < document.upperBound, lossMask[t + accepted + 1] {
                    accepted += 1
                }
                simulatedSteps += 1
                simulatedTokens += Double(1 + accepted)
                t += 1 + accepted
            }
        }
    }

    public mutating func add(_ other: TrainingMetrics) {
        for k in stepLossSum.indices where k < other.stepLossSum.count {
            stepLossSum[k] += other.stepLossSum[k]
            stepLossTotal[k] += other.stepLossTotal[k]
            for t in termLossSum[k].indices where t < other.termLossSum[k].count { termLossSum[k][t] += other.termLossSum[k][t] }
            fullCorrect[k] += other.fullCorrect[k]
            fullTotal[k] += other.fullTotal[k]
            conditionalCorrect[k] += other.conditionalCorrect[k]
            conditionalTotal[k] += other.conditionalTotal[k]
        }
        lossSum += other.lossSum
        lossTotal += other.lossTotal
        tokens += other.tokens
        simulatedSteps += other.simulatedSteps
        simulatedTokens += other.simulatedTokens
    }

    /// The library's metric names and values (`loss`, `loss_k`, `full_acc_k`, `cond_acc_k`).
    public var summary: [(String, Double)] {
        var list: [(String, Double)] = [("loss", loss)]
        for k in stepLossSum.indices {
            list.append(("loss_\(k)", stepLoss(k)))
            list.append(("full_acc_\(k)", fullAccuracy(k)))
            list.append(("cond_acc_\(k)", conditionalAccuracy(k)))
        }
        return list
    }
}
