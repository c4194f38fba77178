import Foundation
import Models
import Tensors
import Testing
import Training

/// bfloat16 matrix products (`--matmul-precision bf16`) change the training pass only by operand
/// rounding: its loss and gradients stay close to the float32 pass's on the same weights and data.
@Suite("Trainer with bfloat16 matrix products")
struct TrainerPrecisionTests {
    @Test("A bf16 pass gives the f32 pass's loss within 1% and gradients pointing the same way",
          .enabled(if: BFloat16Product.isSupported, "needs AVX-512 BF16"))
    func bf16PassTracksFloat32() throws {
        let verifier = try TrainerFixtures.verifier()
        let config = TrainerFixtures.draftConfig(verifier: verifier, layers: 2, normBeforeFC: true, normOutput: true)
        let draft = try TrainableDraft.fresh(config: config, verifier: verifier, draftToTarget: TrainerFixtures.mapping(96),
                                             initialization: .fanIn, seed: 5)
        let samples = try TrainerFixtures.samples(verifier: verifier, lengths: [11, 8, 13], seed: 9)
        let batch = try TrainingBatch(samples: samples, featureWidth: 192, hiddenSize: 64)
        func run(_ precision: MatmulPrecision) throws -> (TrainingMetrics, DraftTrainables) {
            let pass = try DraftTrainingPass(draft: draft, options: TTTOptions(steps: 3, precision: precision),
                                             pool: TrainerFixtures.pool)
            let gradients = draft.weights.zeros()
            return (try pass.run(batch, gradients: gradients), gradients)
        }
        let (single, singleGradients) = try run(.float32)
        let (half, halfGradients) = try run(.bfloat16)
        #expect(abs(half.loss - single.loss) <= 0.01 * single.loss, "loss bf16 \(half.loss), f32 \(single.loss)")
        #expect(half.loss != single.loss, "the bf16 pass should round its operands")
        for ((name, s), (_, h)) in zip(singleGradients.named, halfGradients.named) {
            let x = s.array, y = h.array
            var dot = 0.0, xx = 0.0, yy = 0.0
            for i in x.indices {
                dot += Double(x[i]) * Double(y[i])
                xx += Double(x[i]) * Double(x[i])
                yy += Double(y[i]) * Double(y[i])
            }
            let cosine = dot / max((xx * yy).squareRoot(), 1e-30)
            #expect(cosine > 0.995, "\(name): cosine \(cosine) between the bf16 and f32 gradients")
            let normRatio = yy.squareRoot() / max(xx.squareRoot(), 1e-30)
            #expect(abs(normRatio - 1) < 0.03, "\(name): gradient norms differ by \(normRatio)")
        }
    }
}
