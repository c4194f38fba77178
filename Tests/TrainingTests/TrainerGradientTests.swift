import Foundation
import Models
import Tensors
import Testing
import Training

/// Central finite differences against the hand-written backward pass, for every trainable tensor,
/// through all three TTT steps (so the gradient of the fed-back hidden state is exercised).
@Suite("Trainer gradients match finite differences")
struct TrainerGradientTests {
    struct Variant: Sendable, CustomStringConvertible {
        let name: String
        let layers: Int
        let normBeforeResidual: Bool
        let normBeforeFC: Bool
        let fcNorm: Bool
        let normOutput: Bool
        let window: Int?
        let loss: String
        var description: String { name }
    }

    static let variants = [
        Variant(name: "library defaults of the tiny fixture", layers: 1, normBeforeResidual: true, normBeforeFC: false,
                fcNorm: false, normOutput: false, window: nil, loss: "kl_div"),
        Variant(name: "norm_before_fc + norm_output, two layers", layers: 2, normBeforeResidual: true, normBeforeFC: true,
                fcNorm: false, normOutput: true, window: nil, loss: "kl_div"),
        Variant(name: "fc_norm, raw residual, sliding window 3, kl+ce", layers: 1, normBeforeResidual: false,
                normBeforeFC: false, fcNorm: true, normOutput: false, window: 3, loss: #"{"kl_div": 0.7, "ce": 0.3}"#),
    ]

    @Test("Every parameter tensor's sampled gradient entries agree with central differences", arguments: variants)
    func gradients(variant: Variant) throws {
        let verifier = try TrainerFixtures.verifier()
        let config = TrainerFixtures.draftConfig(verifier: verifier, layers: variant.layers,
                                                 normBeforeResidual: variant.normBeforeResidual,
                                                 normBeforeFC: variant.normBeforeFC, fcNorm: variant.fcNorm,
                                                 normOutput: variant.normOutput, window: variant.window)
        let draft = try TrainableDraft.fresh(config: config, verifier: verifier, draftToTarget: TrainerFixtures.mapping(96),
                                             initialization: .fanIn, seed: 3)
        let samples = try TrainerFixtures.samples(verifier: verifier, lengths: [9, 7])
        let batch = try TrainingBatch(samples: samples, featureWidth: 192, hiddenSize: 64)
        let options = TTTOptions(steps: 3, stepLossDecay: 0.8, loss: try DraftLossSpec(parsing: variant.loss))
        let pass = try DraftTrainingPass(draft: draft, options: options, pool: TrainerFixtures.pool)
        let gradients = draft.weights.zeros()
        let base = try pass.run(batch, gradients: gradients)
        #expect(base.loss > 0.1)
        #expect(base.stepLossSum.allSatisfy { $0 > 0 })

        var random = TrainingRandom(seed: 11)
        let epsilon: Float = 4e-3
        for ((name, tensor), (_, gradient)) in zip(draft.weights.named, gradients.named) {
            let g = gradient.array
            let largest = g.map(abs).max() ?? 0
            #expect(largest > 1e-5, "\(variant.name): \(name) has an all-zero gradient")
            var entries = [g.indices.max { abs(g[$0]) < abs(g[$1]) } ?? 0]
            for _ in 0..<5 { entries.append(Int(random.next() % UInt64(tensor.count))) }
            for index in entries {
                let original = tensor.base[index]
                tensor.base[index] = original + epsilon
                let plus = try pass.run(batch).loss
                tensor.base[index] = original - epsilon
                let minus = try pass.run(batch).loss
                tensor.base[index] = original
                let numeric = (plus - minus) / Double(2 * epsilon)
                let analytic = Double(g[index])
                let tolerance = 2e-3 * Double(max(largest, 1e-2)) + 2e-2 * abs(analytic)
                #expect(abs(numeric - analytic) <= tolerance,
                        "\(variant.name): \(name)[\(index)] analytic \(analytic), numeric \(numeric) (largest |g| \(largest))")
            }
        }
    }
}
