import Foundation
import Models
import Tensors
import Testing
import Training

/// The held-out acceptance length the trainer prints: serving's greedy walk through the data.
@Suite("The trainer's acceptance length walks the responses as greedy serving does")
struct TrainerServingWalkTests {
    @Test("A step accepts its drafts up to the end of the response and the next step starts after them")
    func handWorkedWalk() {
        var metrics = TrainingMetrics(steps: 3)
        // Document 0: rows 1-5 supervised. Anchor 1 accepts 2 (rows 2 and 3 are response), anchor 4
        // none, anchor 5 would accept 3 but the document ends. Document 1: anchor 6 would accept 3
        // but row 9 is past the response, so 2; row 9 starts no step.
        metrics.addServingWalk(acceptedRun: [9, 2, 0, 3, 0, 3, 3, 0, 1, 0],
                               lossMask: [false, true, true, true, true, true, true, true, true, false],
                               documents: [0..<6, 6..<10])
        #expect(metrics.simulatedSteps == 4)
        #expect(metrics.simulatedTokens == 8)
        #expect(metrics.simulatedAcceptanceLength == 2)
    }

    @Test("The walk's accepted drafts are the chain steps whose draft, mapped to a verifier id, is the next token")
    func walkAgreesWithRecordedLogits() throws {
        let verifier = try TrainerFixtures.verifier()
        let config = TrainerFixtures.draftConfig(verifier: verifier)
        let mapping = TrainerFixtures.mapping(96)
        let draft = try TrainableDraft.fresh(config: config, verifier: verifier, draftToTarget: mapping,
                                             initialization: .fanIn, seed: 3)
        let samples = try TrainerFixtures.samples(verifier: verifier, lengths: [14, 11], seed: 4)
        var batch = try TrainingBatch(samples: samples, featureWidth: 192, hiddenSize: 64)
        let vd = 96, steps = 3
        // Make every first draft right: the token after each row becomes that row's step-0 proposal
        // (row t's step 0 sees tokens up to t only, so one row at a time, left to right).
        let first = try DraftTrainingPass(draft: draft, options: TTTOptions(steps: 1), pool: TrainerFixtures.pool)
        first.recordLogits = true
        for document in batch.documents {
            for t in document.dropLast() {
                _ = try first.run(batch)
                let row = Array(first.recordedLogits[0][(t * vd)..<((t + 1) * vd)])
                batch.tokens[t + 1] = mapping[argmax(row)]
            }
        }
        let pass = try DraftTrainingPass(draft: draft, options: TTTOptions(steps: steps), pool: TrainerFixtures.pool)
        pass.recordLogits = true
        let metrics = try pass.run(batch)

        var expected = TrainingMetrics(steps: steps)
        var runs = [Int](repeating: 0, count: batch.rows)
        for document in batch.documents {
            for t in document {
                for k in 0..<steps {
                    let next = t + k + 1
                    let row = Array(pass.recordedLogits[k][(t * vd)..<((t + 1) * vd)])
                    guard next < document.upperBound, mapping[argmax(row)] == batch.tokens[next] else { break }
                    runs[t] = k + 1
                }
            }
        }
        expected.addServingWalk(acceptedRun: runs, lossMask: batch.lossMask, documents: batch.documents)
        #expect(metrics.simulatedSteps == expected.simulatedSteps)
        #expect(metrics.simulatedTokens == expected.simulatedTokens)
        // Every first draft is right, so every step emits at least two tokens but a response's last.
        #expect(metrics.simulatedTokens >= 2 * metrics.simulatedSteps - Double(batch.documents.count))
    }

    private func argmax(_ values: [Float]) -> Int {
        values.indices.max { values[$0] < values[$1] } ?? 0
    }
}
