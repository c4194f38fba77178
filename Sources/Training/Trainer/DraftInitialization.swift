import Foundation
import Models
import Tensors

/// A small deterministic generator (SplitMix64) with Gaussian samples, so initial weights,
/// shuffles and noise depend only on `--seed`.
public struct TrainingRandom: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Double {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// A uniformly shuffled copy.
    public mutating func shuffled<T>(_ values: [T]) -> [T] {
        var result = values
        if result.count < 2 { return result }
        for i in stride(from: result.count - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            result.swapAt(i, j)
        }
        return result
    }
}

/// How fresh draft weights are drawn.
public enum DraftInitialization: Sendable, Equatable {
    /// Linear weights ~ N(0, std²) (transformers' `initializer_range`, 0.02), norms = 1: what the
    /// library's freshly built draft gets.
    case normal(std: Double)
    /// Linear weights ~ N(0, 1/fan_in), norms = 1 + 0.2·N(0,1): O(1) activations, used by the
    /// gradient tests so that every parameter matters.
    case fanIn
}

extension TrainableDraft {
    /// A fresh draft for `verifier`: the frozen tensors come from the verifier (embedding, final
    /// norm, head rows of the draft vocabulary), the trainable ones are drawn from `seed`.
    public static func fresh(config: Eagle3DraftConfig, verifier: TransformerModel, draftToTarget: [Int],
                             initialization: DraftInitialization = .normal(std: 0.02), seed: UInt64) throws -> TrainableDraft {
        let layer = config.layer
        let h = layer.hiddenSize
        guard verifier.config.hiddenSize == config.targetHiddenSize, verifier.config.vocabSize == layer.vocabSize else {
            throw TrainingError.invalidDraft("the verifier (hidden \(verifier.config.hiddenSize), vocab \(verifier.config.vocabSize)) does not match the draft config (hidden \(config.targetHiddenSize), vocab \(layer.vocabSize))")
        }
        guard draftToTarget.count == config.draftVocabSize,
              draftToTarget.allSatisfy({ $0 >= 0 && $0 < layer.vocabSize }) else {
            throw TrainingError.invalidDraft("the vocabulary mapping must list \(config.draftVocabSize) verifier ids in 0..<\(layer.vocabSize)")
        }
        var random = TrainingRandom(seed: seed)
        func linear(_ out: Int, _ inWidth: Int) -> Tensor {
            let std: Double
            switch initialization {
            case let .normal(value): std = value
            case .fanIn: std = 1 / Double(inWidth).squareRoot()
            }
            let t = Tensor(zeros: [out, inWidth])
            for i in 0..<t.count { t.base[i] = Float(random.normal() * std) }
            return t
        }
        func norm(_ width: Int) -> Tensor {
            let t = Tensor(zeros: [width])
            for i in 0..<width {
                switch initialization {
                case .normal: t.base[i] = 1
                case .fanIn: t.base[i] = Float(1 + 0.2 * random.normal())
                }
            }
            return t
        }
        let qkvRows = layer.qWidth + 2 * layer.kvWidth
        let layers = (0..<layer.layerCount).map { index in
            DraftLayerTensors(inputNorm: norm(h), hiddenNorm: index == 0 ? norm(h) : nil,
                              qkv: linear(qkvRows, index == 0 ? 2 * h : h), output: linear(h, layer.qWidth),
                              postAttentionNorm: norm(h), gateUp: linear(2 * layer.intermediateSize, h),
                              down: linear(h, layer.intermediateSize))
        }
        let weights = DraftTrainables(
            fc: linear(h, config.featureWidth), inputNorm: config.normBeforeFC ? norm(config.featureWidth) : nil,
            fcNorms: config.fcNorm ? config.auxiliaryLayerIds.map { _ in norm(config.targetHiddenSize) } : [],
            layers: layers, norm: norm(h))
        let head = verifier.head.rows(draftToTarget)
        let frozen = FrozenDraftTensors(embedding: verifier.embedding, lmHead: head,
                                        verifierNorm: verifier.finalNorm, verifierHead: head)
        let draft = TrainableDraft(config: config, weights: weights, frozen: frozen, draftToTarget: draftToTarget)
        try draft.validate()
        return draft
    }

    /// Continues from an existing draft (fine-tuning, resume): trainable tensors are copied, the
    /// draft keeps its own `lm_head`; the verifier provides the target norm and head rows.
    public static func from(_ model: Eagle3DraftModel, verifier: TransformerModel) throws -> TrainableDraft {
        func copy(_ t: Tensor) -> Tensor {
            let c = Tensor(zeros: t.shape)
            c.base.update(from: t.base, count: t.count)
            return c
        }
        let layers = try model.layers.enumerated().map { index, l in
            DraftLayerTensors(inputNorm: copy(l.inputNorm), hiddenNorm: index == 0 ? copy(model.hiddenNorm) : nil,
                              qkv: copy(try l.qkv.requireFloat32(for: "training")),
                              output: copy(try l.output.requireFloat32(for: "training")),
                              postAttentionNorm: copy(l.postAttentionNorm),
                              gateUp: copy(try l.gateUp.requireFloat32(for: "training")),
                              down: copy(try l.down.requireFloat32(for: "training")))
        }
        let weights = DraftTrainables(fc: copy(try model.fc.requireFloat32(for: "training")), inputNorm: model.inputNorm.map(copy),
                                      fcNorms: model.fcNorms.map(copy), layers: layers, norm: copy(model.finalNorm))
        let frozen = FrozenDraftTensors(embedding: model.embedding, lmHead: try model.head.requireFloat32(for: "training"),
                                        verifierNorm: verifier.finalNorm,
                                        verifierHead: verifier.head.rows(model.draftToTarget))
        let draft = TrainableDraft(config: model.config, weights: weights, frozen: frozen, draftToTarget: model.draftToTarget)
        try draft.validate()
        return draft
    }

    /// The same draft over another draft vocabulary: its head becomes the verifier head's rows
    /// for `draftToTarget`. Training keeps the head frozen at exactly those rows, so the layers'
    /// output already lives in the verifier's hidden space; fitting thousands of head rows over a
    /// state of a few hundred dimensions pins it down, so the logits of ids the draft never
    /// trained on are the verifier's own reading of that state. Lets a trained draft propose a
    /// wider vocabulary.
    public func remapped(to draftToTarget: [Int], verifier: TransformerModel) throws -> TrainableDraft {
        guard !draftToTarget.isEmpty, draftToTarget.allSatisfy({ $0 >= 0 && $0 < verifier.config.vocabSize }) else {
            throw TrainingError.invalidDraft("the vocabulary mapping must list verifier ids in 0..<\(verifier.config.vocabSize)")
        }
        var config = self.config
        config.draftVocabSize = draftToTarget.count
        let head = verifier.head.rows(draftToTarget)
        let frozen = FrozenDraftTensors(embedding: self.frozen.embedding, lmHead: head, verifierNorm: verifier.finalNorm,
                                        verifierHead: head)
        let draft = TrainableDraft(config: config, weights: weights, frozen: frozen, draftToTarget: draftToTarget)
        try draft.validate()
        return draft
    }

}
