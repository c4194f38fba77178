import Foundation
import Models
import Tensors
import Testing
import Training

/// One training step against the speculators 0.9.0 library (`train-step-golden.json`, made by
/// scripts/goldens/make_train_step_golden.py): same weights, same packed batch, ttt_steps 3,
/// step decay 0.8, kl_div; then clip to norm 1 and one AdamW step (lr 1e-2, wd 0.01).
@Suite("Trainer step matches the library's reference step")
struct TrainerGoldenStepTests {
    struct Golden {
        let json: [String: Any]
        let batch: TrainingBatch
    }

    static func golden() throws -> Golden {
        let data = try Data(contentsOf: TrainerFixtures.root.appendingPathComponent("train-step-golden.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let ids = (json["input_ids"] as? [Int]) ?? []
        let documents = (json["document_ids"] as? [Int]) ?? []
        var ranges: [Range<Int>] = []
        var start = 0
        for t in 1...documents.count where t == documents.count || documents[t] != documents[t - 1] {
            ranges.append(start..<t)
            start = t
        }
        func buffer(_ key: String) -> FloatBuffer {
            FloatBuffer(((json[key] as? [Any]) ?? []).compactMap { ($0 as? NSNumber)?.floatValue })
        }
        let batch = try TrainingBatch(tokens: ids, features: buffer("hidden_states"), lastHidden: buffer("verifier_last_hidden_states"),
                                      lossMask: ((json["loss_mask"] as? [Int]) ?? []).map { $0 != 0 }, documents: ranges,
                                      positions: (json["position_ids"] as? [Int]) ?? [], featureWidth: 192, hiddenSize: 64)
        return Golden(json: json, batch: batch)
    }

    static func draft() throws -> TrainableDraft {
        let verifier = try TrainerFixtures.verifier()
        let folder = TrainerFixtures.folder("tiny-eagle3")
        let config = try Eagle3DraftConfig(folder: folder, verifierLayerCount: verifier.config.layerCount)
        return try TrainableDraft.from(try Eagle3DraftModel.load(folder: folder, config: config, verifier: verifier), verifier: verifier)
    }

    /// The library tensor `name` inside our (possibly stacked) tensors: the tensor and its first row.
    static func locate(_ name: String, in weights: DraftTrainables) -> (Tensor, Int)? {
        let layer = weights.layers[0]
        switch name {
        case "fc.weight": return (weights.fc, 0)
        case "norm.weight": return (weights.norm, 0)
        case "layers.0.input_layernorm.weight": return (layer.inputNorm, 0)
        case "layers.0.hidden_norm.weight": return layer.hiddenNorm.map { ($0, 0) }
        case "layers.0.post_attention_layernorm.weight": return (layer.postAttentionNorm, 0)
        case "layers.0.self_attn.q_proj.weight": return (layer.qkv, 0)
        case "layers.0.self_attn.k_proj.weight": return (layer.qkv, 64)
        case "layers.0.self_attn.v_proj.weight": return (layer.qkv, 96)
        case "layers.0.self_attn.o_proj.weight": return (layer.output, 0)
        case "layers.0.mlp.gate_proj.weight": return (layer.gateUp, 0)
        case "layers.0.mlp.up_proj.weight": return (layer.gateUp, 160)
        case "layers.0.mlp.down_proj.weight": return (layer.down, 0)
        default: return nil
        }
    }

    /// Compares sampled entries `{shape, indices, values}` of every library tensor with ours.
    static func compare(_ entries: [String: Any], with weights: DraftTrainables, absolute: Float, relative: Float, _ what: String) throws {
        #expect(entries.count == 12, "\(what): the library trains 12 tensors")
        for (name, value) in entries {
            let entry = try #require(value as? [String: Any])
            let (tensor, rowOffset) = try #require(locate(name, in: weights), "\(what): unknown tensor \(name)")
            let shape = (entry["shape"] as? [Int]) ?? []
            let columns = shape.count == 2 ? shape[1] : shape[0]
            let indices = (entry["indices"] as? [Int]) ?? []
            let expected = floats(entry["values"])
            #expect(!indices.isEmpty && indices.count == expected.count)
            let actual = indices.map { index -> Float in
                let row = index / columns, column = index % columns
                return tensor.base[(rowOffset + row) * columns + column]
            }
            expectClose(actual, expected, absolute: absolute, relative: relative, "\(what) \(name)")
        }
    }

    @Test("Loss, per-step metrics, gradient norm, clipped gradients and AdamW-updated weights match")
    func referenceStep() throws {
        let golden = try Self.golden()
        let draft = try Self.draft()
        let json = golden.json
        let options = TTTOptions(steps: 3, stepLossDecay: 0.8, loss: .klDivergence)
        let pass = try DraftTrainingPass(draft: draft, options: options, pool: TrainerFixtures.pool)
        let gradients = draft.weights.zeros()
        let metrics = try pass.run(golden.batch, gradients: gradients)

        let expectedLoss = try #require(json["loss"] as? Double)
        #expect(abs(metrics.loss - expectedLoss) <= 1e-5 + 1e-5 * expectedLoss, "loss \(metrics.loss) vs \(expectedLoss)")
        let reference = try #require(json["metrics"] as? [String: Double])
        for k in 0..<3 {
            #expect(abs(metrics.stepLossSum[k] - (reference["loss_\(k)_sum"] ?? -1)) <= 1e-5, "loss_\(k)")
            #expect(metrics.fullCorrect[k] == reference["full_acc_\(k)_sum"], "full_acc_\(k)_sum")
            #expect(metrics.fullTotal[k] == reference["full_acc_\(k)_total"], "full_acc_\(k)_total")
            #expect(metrics.conditionalCorrect[k] == reference["cond_acc_\(k)_sum"], "cond_acc_\(k)_sum")
            #expect(metrics.conditionalTotal[k] == reference["cond_acc_\(k)_total"], "cond_acc_\(k)_total")
        }

        let norm = gradients.clipGlobalNorm(1.0)
        let expectedNorm = try #require(json["grad_norm_before_clip"] as? Double)
        #expect(abs(norm - expectedNorm) <= 1e-5 * expectedNorm, "gradient norm \(norm) vs \(expectedNorm)")
        try Self.compare(try #require(json["clipped_gradients"] as? [String: Any]), with: gradients,
                         absolute: 2e-6, relative: 1e-3, "gradient")

        let optimizer = AdamWOptimizer(parameters: draft.weights, weightDecay: 0.01)
        optimizer.step(parameters: draft.weights, gradients: gradients, learningRate: 1e-2, pool: TrainerFixtures.pool)
        try Self.compare(try #require(json["updated_weights"] as? [String: Any]), with: draft.weights,
                         absolute: 2e-5, relative: 1e-5, "updated weight")
    }
}
