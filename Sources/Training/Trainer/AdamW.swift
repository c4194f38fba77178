import Foundation
import Tensors

/// An optimizer over a draft's trainable tensors whose state a checkpoint can save and restore.
public protocol DraftOptimizer: AnyObject {
    /// The name written into `trainer_state.safetensors` (resume refuses a different optimizer).
    var name: String { get }
    /// Optimizer steps taken so far.
    var stepCount: Int { get set }
    /// Every state tensor under a stable name (saved and restored by `TrainerState`).
    var state: [(name: String, tensor: Tensor)] { get }
    /// One update with base learning rate `learningRate` (already scheduled).
    func step(parameters: DraftTrainables, gradients: DraftTrainables, learningRate: Double, pool: ThreadPool)
}

/// AdamW exactly as `torch.optim.AdamW` (decoupled weight decay, bias-corrected moments),
/// over every trainable tensor of a draft, or over all but the named ones (Muon's matrices).
/// Moments are float32 like the master weights.
public final class AdamWOptimizer: DraftOptimizer, @unchecked Sendable {
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double
    /// First and second moments, shaped like the parameters (empty for the excluded ones).
    public let firstMoment: DraftTrainables
    public let secondMoment: DraftTrainables
    /// Optimizer steps taken so far.
    public var stepCount: Int
    /// Tensors this optimizer leaves alone (another optimizer updates them).
    public let excluded: Set<String>
    public var name: String { "adamw" }

    public init(parameters: DraftTrainables, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
                weightDecay: Double = 0.01, excluding excluded: Set<String> = []) {
        self.excluded = excluded
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        firstMoment = parameters.zeros(skipping: excluded)
        secondMoment = parameters.zeros(skipping: excluded)
        stepCount = 0
    }

    public var state: [(name: String, tensor: Tensor)] {
        zip(firstMoment.named, secondMoment.named).filter { !excluded.contains($0.0.name) }.flatMap { first, second in
            [("exp_avg." + first.name, first.tensor), ("exp_avg_sq." + second.name, second.tensor)]
        }
    }

    /// One update with learning rate `lr`: `θ ← θ(1 − lr·wd) − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)`.
    public func step(parameters: DraftTrainables, gradients: DraftTrainables, learningRate lr: Double, pool: ThreadPool) {
        stepCount += 1
        let t = Double(stepCount)
        let correction1 = 1 - Foundation.pow(beta1, t)
        let correction2Root = (1 - Foundation.pow(beta2, t)).squareRoot()
        let stepSize = Float(lr / correction1)
        let decay = Float(1 - lr * weightDecay)
        let b1 = Float(beta1), b2 = Float(beta2), eps = Float(epsilon), c2 = Float(correction2Root)
        let groups = Array(zip(zip(parameters.named, gradients.named), zip(firstMoment.named, secondMoment.named)))
        for ((parameter, gradient), (first, second)) in groups where !excluded.contains(parameter.name) {
            let p = parameter.tensor.base, g = gradient.tensor.base, m = first.tensor.base, v = second.tensor.base
            pool.parallelRanges(parameter.tensor.count, alignment: 64) { range in
                for i in range {
                    p[i] *= decay
                    m[i] = b1 * m[i] + (1 - b1) * g[i]
                    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                    p[i] -= stepSize * m[i] / (v[i].squareRoot() / c2 + eps)
                }
            }
        }
    }
}

extension DraftTrainables {
    /// The global L2 norm of all tensors (accumulated in Double).
    public func globalNorm() -> Double {
        var total = 0.0
        for entry in named {
            let base = entry.tensor.base
            var sum = 0.0
            for i in 0..<entry.tensor.count { sum += Double(base[i]) * Double(base[i]) }
            total += sum
        }
        return total.squareRoot()
    }

    /// `torch.nn.utils.clip_grad_norm_`: scales everything by `min(1, maxNorm/(norm + 1e-6))`.
    /// Returns the norm before clipping.
    @discardableResult
    public func clipGlobalNorm(_ maxNorm: Double) -> Double {
        let norm = globalNorm()
        let coefficient = Float(min(1, maxNorm / (norm + 1e-6)))
        if coefficient < 1 {
            for entry in named {
                let base = entry.tensor.base
                for i in 0..<entry.tensor.count { base[i] *= coefficient }
            }
        }
        return norm
    }
}

/// Learning-rate multiplier per optimizer step (`training.md` §10): linear warm-up, then linear
/// or cosine decay to zero at `totalSteps`, or constant.
public struct LearningRateSchedule: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case linear, cosine, none }
    public var kind: Kind
    public var warmupSteps: Int
    public var totalSteps: Int
    /// Cosine cycles (`--scheduler-num-cosine-cycles`, 0.5 = one half-wave down to zero).
    public var cosineCycles: Double

    public init(kind: Kind, warmupSteps: Int, totalSteps: Int, cosineCycles: Double = 0.5) {
        self.kind = kind
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.cosineCycles = cosineCycles
    }

    /// The multiplier of the base learning rate at step `step` (0-based, before the update).
    public func multiplier(step: Int) -> Double {
        if kind == .none { return 1 }
        if step < warmupSteps { return Double(step) / Double(max(1, warmupSteps)) }
        let remaining = Double(max(1, totalSteps - warmupSteps))
        switch kind {
        case .linear:
            return max(0, Double(totalSteps - step) / remaining)
        case .cosine:
            let progress = Double(step - warmupSteps) / remaining
            return max(0, 0.5 * (1 + Foundation.cos(Double.pi * 2 * cosineCycles * progress)))
        case .none:
            return 1
        }
    }
}
