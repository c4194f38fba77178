import Foundation
import Tensors
import Testing
import Training

/// Muon against `torch.optim.Muon` + `torch.optim.AdamW` (`Fixtures/muon-golden.json`, made by
/// `scripts/goldens/make_muon_golden.py`): three steps on a tiny stacked draft layout.
@Suite("Muon optimizer")
struct TrainerMuonTests {
    struct Golden: Decodable {
        struct Entry: Decodable {
            let name: String
            let shape: [Int]
            let row_split: [Int]?
        }
        let base_lr: Double
        let muon_lr_scale: Double
        let lr_multipliers: [Double]
        let tensors: [Entry]
        let f32: [String: [Float]]
        let bf16: [String: [Float]]
    }

    static func golden() throws -> Golden {
        let url = TrainerFixtures.root.appendingPathComponent("muon-golden.json")
        return try JSONDecoder().decode(Golden.self, from: try Data(contentsOf: url))
    }

    /// The golden's formulas, in the stacked layout of `DraftTrainables.named`.
    static func initial(_ t: Int, _ n: Int, vector: Bool) -> [Float] {
        (0..<n).map { i -> Float in
            let phase: Double = 0.7 * Double(i) + 1.9 * Double(t)
            return Float((vector ? 1.0 : 0.0) + 0.1 * sin(phase))
        }
    }

    static func gradient(_ t: Int, _ n: Int, step: Int) -> [Float] {
        (0..<n).map { i -> Float in
            let phase: Double = 0.31 * Double(i) * Double(step + 1) + 0.5 * Double(t) + Double(step)
            let scale: Double = 0.01 * (1 + 0.2 * Double(t))
            return Float(scale * cos(phase))
        }
    }

    /// fc [4, 12]; layer 0: norms [4], qkv [8, 8] (4 + 2 + 2 rows), o [4, 4], gate/up [10, 4], down [4, 5]; norm [4].
    static func trainables(_ values: (Int, [Int]) -> [Float]) -> DraftTrainables {
        func t(_ index: Int, _ shape: [Int]) -> Tensor { Tensor(shape: shape, values: values(index, shape)) }
        let layer = DraftLayerTensors(inputNorm: t(1, [4]), hiddenNorm: t(2, [4]), qkv: t(3, [8, 8]), output: t(4, [4, 4]),
                                      postAttentionNorm: t(5, [4]), gateUp: t(6, [10, 4]), down: t(7, [4, 5]))
        return DraftTrainables(fc: t(0, [4, 12]), inputNorm: nil, fcNorms: [], layers: [layer], norm: t(8, [4]))
    }

    static func run(_ golden: Golden, pool: ThreadPool) throws -> DraftTrainables {
        let parameters = trainables { t, shape in initial(t, shape.reduce(1, *), vector: shape.count == 1) }
        let splits = Dictionary(uniqueKeysWithValues: golden.tensors.compactMap { e in e.row_split.map { (e.name, $0) } })
        let muon = try MuonOptimizer(parameters: parameters, rowSplits: splits, adamWeightDecay: 0.01)
        muon.learningRateScale = golden.muon_lr_scale
        for (step, multiplier) in golden.lr_multipliers.enumerated() {
            let gradients = trainables { t, shape in gradient(t, shape.reduce(1, *), step: step) }
            muon.step(parameters: parameters, gradients: gradients, learningRate: golden.base_lr * multiplier, pool: pool)
        }
        return parameters
    }

    @Test("Three steps equal torch's Muon with float32 iterations and AdamW on the norms, on one thread and two")
    func matchesTorch() throws {
        let golden = try Self.golden()
        #expect(golden.tensors.map(\.name) == Self.trainables { _, s in [Float](repeating: 0, count: s.reduce(1, *)) }.named.map(\.name))
        for threads in [1, 2] {
            let result = try Self.run(golden, pool: ThreadPool(threadCount: threads))
            for (name, tensor) in result.named {
                let expected = try #require(golden.f32[name])
                let actual = Array(UnsafeBufferPointer(start: tensor.base, count: tensor.count))
                // Newton–Schulz multiplies small singular values by a = 3.4445 per iteration, so float32
                // summation-order differences grow to about 1e-6 of the weights here; the bfloat16
                // iterations differ by 1e-2.
                expectClose(actual, expected, absolute: 1e-5, relative: 1e-4, "\(name) (\(threads) threads)")
            }
        }
    }

    @Test("torch's bfloat16 iterations differ from ours by bfloat16 rounding only")
    func closeToBFloat16Iterations() throws {
        let golden = try Self.golden()
        let result = try Self.run(golden, pool: ThreadPool(threadCount: 2))
        for (name, tensor) in result.named {
            let expected = try #require(golden.bf16[name])
            let actual = Array(UnsafeBufferPointer(start: tensor.base, count: tensor.count))
            // Three updates of RMS ≈ 0.07 each; bfloat16 keeps 8 bits, so within a few hundredths.
            expectClose(actual, expected, absolute: 0.03, relative: 0, "\(name)")
        }
    }

    @Test("A Muon run resumed from its epoch checkpoint ends with the uninterrupted run's weights; AdamW cannot resume it")
    func resume() throws {
        let verifier = try TrainerFixtures.verifier()
        let samples = try TrainerFixtures.samples(verifier: verifier, lengths: Array(repeating: 14, count: 8), prompt: 3)
        let data = TrainerLoopTests.temporaryFolder("muon-data")
        let straight = TrainerLoopTests.temporaryFolder("muon-straight"), split = TrainerLoopTests.temporaryFolder("muon-split")
        defer { for folder in [data, straight, split] { try? FileManager.default.removeItem(at: folder) } }
        try TrainerLoopTests.writeDataset(to: data, samples: samples)
        let dataset = try TrainingDataset(folder: data)
        var config = TrainerFixtures.draftConfig(verifier: verifier, normBeforeFC: true, normOutput: true)
        config.draftVocabSize = 384
        func train(epochs: Int, optimizer: OptimizerKind = .muon, into output: URL) throws -> DraftTrainables {
            let draft = try TrainableDraft.fresh(config: config, verifier: verifier, draftToTarget: Array(0..<384), seed: 5)
            var options = TrainerOptions(checkpoint: DraftCheckpointOptions(dataType: .f32, includeEmbedding: false,
                                                                            verifierNameOrPath: "tiny-llama"))
            options.epochs = epochs
            options.optimizer = optimizer
            options.learningRate = 1e-3
            options.schedule = .none  // the same rate whatever the run's length
            options.maxRowsPerBatch = 40
            options.validationFraction = 0
            _ = try Eagle3Trainer(draft: draft, dataset: dataset, options: options, pool: TrainerFixtures.pool) { _ in }
                .train(output: output)
            return draft.weights
        }
        let expected = try train(epochs: 2, into: straight)
        _ = try train(epochs: 1, into: split)
        let resumed = try train(epochs: 2, into: split)
        for (a, b) in zip(resumed.named, expected.named) {
            #expect(Array(UnsafeBufferPointer(start: a.tensor.base, count: a.tensor.count))
                    == Array(UnsafeBufferPointer(start: b.tensor.base, count: b.tensor.count)), "\(a.name)")
        }
        #expect {
            _ = try train(epochs: 3, optimizer: .adamw, into: split)
        } throws: { error in
            "\(error)".contains("muon") && "\(error)".contains("adamw")
        }
    }

    @Test("A row split that does not add up to the tensor's rows is refused with the tensor's name")
    func badSplit() throws {
        let parameters = Self.trainables { _, s in [Float](repeating: 0.5, count: s.reduce(1, *)) }
        #expect {
            _ = try MuonOptimizer(parameters: parameters, rowSplits: ["layers.0.self_attn.qkv_proj.weight": [4, 2, 3]],
                                  adamWeightDecay: 0.01)
        } throws: { error in
            "\(error)".contains("layers.0.self_attn.qkv_proj.weight") && "\(error)".contains("[4, 2, 3]")
        }
    }

    @Test("Muon keeps momentum for the matrices only and its AdamW keeps moments for the vectors only")
    func stateIsAllocatedOnlyWhereUsed() throws {
        let parameters = Self.trainables { _, s in [Float](repeating: 0.5, count: s.reduce(1, *)) }
        let muon = try MuonOptimizer(parameters: parameters, rowSplits: [:], adamWeightDecay: 0.01)
        for (index, entry) in parameters.named.enumerated() {
            let isMatrix = entry.tensor.shape.count == 2
            #expect(muon.buffers.named[index].name == entry.name)
            #expect(muon.buffers.named[index].tensor.count == (isMatrix ? entry.tensor.count : 0), "\(entry.name)")
            #expect(muon.adamW.firstMoment.named[index].tensor.count == (isMatrix ? 0 : entry.tensor.count), "\(entry.name)")
            #expect(muon.adamW.secondMoment.named[index].tensor.count == (isMatrix ? 0 : entry.tensor.count), "\(entry.name)")
        }
        let saved = muon.state.map(\.name)
        #expect(saved.filter { $0.hasPrefix("momentum_buffer.") }.count == 5)
        #expect(saved.filter { $0.hasPrefix("exp_avg.") }.count == 4)
    }
}
