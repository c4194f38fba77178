import Foundation
import Models
import Tensors
import Testing
import Training

/// The training forward against the inference model (`Eagle3DraftModel`) on the same weights.
@Suite("Trainer forward agrees with the inference draft")
struct TrainerForwardTests {
    func setup(normOutput: Bool) throws -> (TrainableDraft, TrainingBatch) {
        let verifier = try TrainerFixtures.verifier()
        let config = TrainerFixtures.draftConfig(verifier: verifier, layers: 2, normBeforeFC: true, normOutput: normOutput)
        let draft = try TrainableDraft.fresh(config: config, verifier: verifier, draftToTarget: TrainerFixtures.mapping(96),
                                             initialization: .fanIn, seed: 5)
        let samples = try TrainerFixtures.samples(verifier: verifier, lengths: [11, 8], seed: 9)
        return (draft, try TrainingBatch(samples: samples, featureWidth: 192, hiddenSize: 64))
    }

    @Test("TTT step 0 gives Eagle3DraftModel.forward's prefill logits for each packed document", arguments: [false, true])
    func stepZero(normOutput: Bool) throws {
        let (draft, batch) = try setup(normOutput: normOutput)
        let pass = try DraftTrainingPass(draft: draft, options: TTTOptions(steps: 1), pool: TrainerFixtures.pool)
        pass.recordLogits = true
        _ = try pass.run(batch)
        let vd = 96
        let model = draft.inferenceModel()
        for document in batch.documents {
            let cache = try model.makeCache(capacity: 64)
            let features = Array(UnsafeBufferPointer(start: batch.features.base + document.lowerBound * 192, count: document.count * 192))
            let output = try features.withUnsafeBufferPointer { buffer in
                try model.forward([.init(cache: cache, tokens: Array(batch.tokens[document]), logits: .all)],
                                  hidden: .verifierFeatures(try #require(buffer.baseAddress)), pool: TrainerFixtures.pool)
            }
            let expected = Array(UnsafeBufferPointer(start: output.logits, count: document.count * vd))
            let actual = Array(pass.recordedLogits[0][(document.lowerBound * vd)..<(document.upperBound * vd)])
            expectClose(actual, expected, absolute: 2e-5, relative: 2e-5, "document \(document) step 0")
        }
    }

    @Test("TTT step k at anchor row t equals the k-th KV-cached chain step fed the true next tokens", arguments: [false, true])
    func chainSteps(normOutput: Bool) throws {
        let (draft, batch) = try setup(normOutput: normOutput)
        let pass = try DraftTrainingPass(draft: draft, options: TTTOptions(steps: 3), pool: TrainerFixtures.pool)
        pass.recordLogits = true
        _ = try pass.run(batch)
        let vd = 96, h = 64
        let model = draft.inferenceModel()
        let document = batch.documents[1]
        for anchor in [2, 4] {  // anchor + 2 stays inside the 7-row document
            let cache = try model.makeCache(capacity: 64)
            let rows = anchor + 1
            let start = document.lowerBound
            let features = Array(UnsafeBufferPointer(start: batch.features.base + start * 192, count: rows * 192))
            var output = try features.withUnsafeBufferPointer { buffer in
                try model.forward([.init(cache: cache, tokens: Array(batch.tokens[start..<(start + rows)]), logits: .last)],
                                  hidden: .verifierFeatures(try #require(buffer.baseAddress)), pool: TrainerFixtures.pool)
            }
            for k in 0..<3 {
                if k > 0 {
                    let hidden = Array(UnsafeBufferPointer(start: output.nextHidden, count: h))
                    output = try hidden.withUnsafeBufferPointer { buffer in
                        try model.forward([.init(cache: cache, tokens: [batch.tokens[start + anchor + k]], logits: .last)],
                                          hidden: .draftHidden(try #require(buffer.baseAddress)), pool: TrainerFixtures.pool)
                    }
                }
                let expected = Array(UnsafeBufferPointer(start: output.logits, count: vd))
                let row = start + anchor
                let actual = Array(pass.recordedLogits[k][(row * vd)..<((row + 1) * vd)])
                expectClose(actual, expected, absolute: 2e-5, relative: 2e-5, "anchor \(anchor) step \(k)")
            }
        }
    }
}
