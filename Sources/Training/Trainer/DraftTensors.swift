import Foundation
import Models
import Tensors

/// The trainable tensors of one draft decoder layer, in float32 master precision.
///
/// q/k/v and gate/up are kept stacked (`[q + 2·kv, in]` and `[2·I, H]`) as the inference model
/// keeps them, so every projection is one GEMM in both directions; the checkpoint writer splits
/// them back into the library's names.
public struct DraftLayerTensors: Sendable {
    public var inputNorm: Tensor
    /// Layer 0 only: the RMSNorm applied to the hidden input.
    public var hiddenNorm: Tensor?
    public var qkv: Tensor
    public var output: Tensor
    public var postAttentionNorm: Tensor
    public var gateUp: Tensor
    public var down: Tensor

    public init(inputNorm: Tensor, hiddenNorm: Tensor?, qkv: Tensor, output: Tensor, postAttentionNorm: Tensor,
                gateUp: Tensor, down: Tensor) {
        self.inputNorm = inputNorm
        self.hiddenNorm = hiddenNorm
        self.qkv = qkv
        self.output = output
        self.postAttentionNorm = postAttentionNorm
        self.gateUp = gateUp
        self.down = down
    }
}

/// Every trainable tensor of an EAGLE-3 draft. The same type holds the gradients (one zeroed copy).
public struct DraftTrainables: Sendable {
    public var fc: Tensor
    public var inputNorm: Tensor?
    public var fcNorms: [Tensor]
    public var layers: [DraftLayerTensors]
    public var norm: Tensor

    public init(fc: Tensor, inputNorm: Tensor?, fcNorms: [Tensor], layers: [DraftLayerTensors], norm: Tensor) {
        self.fc = fc
        self.inputNorm = inputNorm
        self.fcNorms = fcNorms
        self.layers = layers
        self.norm = norm
    }

    /// Every tensor with a stable name, in a fixed order (optimizer state and checkpoints follow it).
    /// Stacked projections are named `qkv_proj` / `gate_up_proj`.
    public var named: [(name: String, tensor: Tensor)] {
        var list: [(String, Tensor)] = [("fc.weight", fc)]
        if let inputNorm { list.append(("input_norm.weight", inputNorm)) }
        for (index, norm) in fcNorms.enumerated() { list.append(("fc_norm.\(index).weight", norm)) }
        for (index, layer) in layers.enumerated() {
            let p = "layers.\(index)."
            list.append((p + "input_layernorm.weight", layer.inputNorm))
            if let hiddenNorm = layer.hiddenNorm { list.append((p + "hidden_norm.weight", hiddenNorm)) }
            list.append((p + "self_attn.qkv_proj.weight", layer.qkv))
            list.append((p + "self_attn.o_proj.weight", layer.output))
            list.append((p + "post_attention_layernorm.weight", layer.postAttentionNorm))
            list.append((p + "mlp.gate_up_proj.weight", layer.gateUp))
            list.append((p + "mlp.down_proj.weight", layer.down))
        }
        list.append(("norm.weight", norm))
        return list
    }

    /// A zero-filled set of the same shapes (gradients, optimizer moments). Tensors named in
    /// `skipping` are left empty (shape `[0]`): state an optimizer never touches (AdamW's moments
    /// of the matrices Muon updates, 40 MB for SmolLM2's draft) need not be allocated.
    public func zeros(skipping skipped: Set<String> = []) -> DraftTrainables {
        // `z` is called in the order of `named` (arguments are evaluated left to right).
        var names = named.map(\.name).makeIterator()
        func z(_ t: Tensor) -> Tensor {
            let name = names.next() ?? ""
            return Tensor(zeros: skipped.contains(name) ? [0] : t.shape)
        }
        return DraftTrainables(
            fc: z(fc), inputNorm: inputNorm.map(z), fcNorms: fcNorms.map(z),
            layers: layers.map {
                DraftLayerTensors(inputNorm: z($0.inputNorm), hiddenNorm: $0.hiddenNorm.map(z), qkv: z($0.qkv),
                                  output: z($0.output), postAttentionNorm: z($0.postAttentionNorm), gateUp: z($0.gateUp),
                                  down: z($0.down))
            },
            norm: z(norm))
    }

    /// A deep copy (new buffers).
    public func copy() -> DraftTrainables {
        let result = zeros()
        for (source, target) in zip(named, result.named) {
            target.tensor.base.update(from: source.tensor.base, count: source.tensor.count)
        }
        return result
    }

    /// Sets every element to zero.
    public func zeroAll() { for entry in named { entry.tensor.buffer.zero() } }

    /// Total number of trainable scalars.
    public var parameterCount: Int { named.reduce(0) { $0 + $1.tensor.count } }
}

/// The tensors training reads but never changes: the verifier's embedding, the draft head (the
/// verifier head restricted to the draft vocabulary, frozen as the library freezes it) and the
/// verifier's own final norm and head rows used to compute the target distributions.
public struct FrozenDraftTensors: Sendable {
    /// `[V, H]`, indexed by verifier token ids.
    public var embedding: Tensor
    /// `[Vd, H]` draft `lm_head`.
    public var lmHead: Tensor
    /// `[H]` the verifier's final RMSNorm weight.
    public var verifierNorm: Tensor
    /// `[Vd, H]` the verifier head rows of the draft vocabulary.
    public var verifierHead: Tensor

    public init(embedding: Tensor, lmHead: Tensor, verifierNorm: Tensor, verifierHead: Tensor) {
        self.embedding = embedding
        self.lmHead = lmHead
        self.verifierNorm = verifierNorm
        self.verifierHead = verifierHead
    }
}

/// An EAGLE-3 draft being trained: its shape, master weights and frozen tensors.
public struct TrainableDraft: Sendable {
    public var config: Eagle3DraftConfig
    public var weights: DraftTrainables
    public var frozen: FrozenDraftTensors
    /// Verifier id of each draft id (`i + d2t[i]`).
    public var draftToTarget: [Int]

    public init(config: Eagle3DraftConfig, weights: DraftTrainables, frozen: FrozenDraftTensors, draftToTarget: [Int]) {
        self.config = config
        self.weights = weights
        self.frozen = frozen
        self.draftToTarget = draftToTarget
    }

    /// Checks that every tensor has the shape the config implies and that the training code supports it.
    public func validate() throws {
        let layer = config.layer
        let h = layer.hiddenSize, vd = config.draftVocabSize
        func check(_ name: String, _ tensor: Tensor, _ shape: [Int]) throws {
            guard tensor.shape == shape else {
                throw TrainingError.invalidDraft("\(name) has shape \(tensor.shape), expected \(shape)")
            }
        }
        guard layer.architecture == .llama else {
            throw TrainingError.invalidDraft("training supports llama draft layers only, not \(layer.architecture.rawValue)")
        }
        guard !layer.qkvBias, !layer.outputBias, !layer.mlpBias else {
            throw TrainingError.invalidDraft("training does not support attention or MLP biases")
        }
        guard !(config.normBeforeFC && config.fcNorm) else {
            throw TrainingError.invalidDraft("norm_before_fc and fc_norm are mutually exclusive")
        }
        guard config.targetHiddenSize == h else {
            throw TrainingError.invalidDraft("target_hidden_size \(config.targetHiddenSize) differs from hidden_size \(h)")
        }
        guard weights.layers.count == layer.layerCount, !weights.layers.isEmpty else {
            throw TrainingError.invalidDraft("\(weights.layers.count) layers given for num_hidden_layers \(layer.layerCount)")
        }
        try check("fc.weight", weights.fc, [h, config.featureWidth])
        if config.normBeforeFC {
            guard let inputNorm = weights.inputNorm else { throw TrainingError.invalidDraft("input_norm.weight is missing") }
            try check("input_norm.weight", inputNorm, [config.featureWidth])
        }
        if config.fcNorm {
            guard weights.fcNorms.count == config.auxiliaryLayerIds.count else {
                throw TrainingError.invalidDraft("expected \(config.auxiliaryLayerIds.count) fc_norm tensors")
            }
            for (i, norm) in weights.fcNorms.enumerated() { try check("fc_norm.\(i).weight", norm, [h]) }
        }
        for (index, l) in weights.layers.enumerated() {
            let inWidth = index == 0 ? 2 * h : h
            let p = "layers.\(index)."
            try check(p + "input_layernorm.weight", l.inputNorm, [h])
            if index == 0 {
                guard let hiddenNorm = l.hiddenNorm else { throw TrainingError.invalidDraft("layers.0.hidden_norm.weight is missing") }
                try check(p + "hidden_norm.weight", hiddenNorm, [h])
            }
            try check(p + "self_attn.qkv", l.qkv, [layer.qWidth + 2 * layer.kvWidth, inWidth])
            try check(p + "self_attn.o_proj.weight", l.output, [h, layer.qWidth])
            try check(p + "post_attention_layernorm.weight", l.postAttentionNorm, [h])
            try check(p + "mlp.gate_up", l.gateUp, [2 * layer.intermediateSize, h])
            try check(p + "mlp.down_proj.weight", l.down, [h, layer.intermediateSize])
        }
        try check("norm.weight", weights.norm, [h])
        try check("embed_tokens.weight", frozen.embedding, [layer.vocabSize, h])
        try check("lm_head.weight", frozen.lmHead, [vd, h])
        try check("verifier_norm.weight", frozen.verifierNorm, [h])
        try check("verifier_lm_head.weight", frozen.verifierHead, [vd, h])
        guard draftToTarget.count == vd, draftToTarget.allSatisfy({ $0 >= 0 && $0 < layer.vocabSize }) else {
            throw TrainingError.invalidDraft("the draft-to-target map must have \(vd) ids in 0..<\(layer.vocabSize)")
        }
    }

    /// The inference model over the current weights (shares the buffers: build it after training
    /// steps, not during one).
    public func inferenceModel() -> Eagle3DraftModel {
        let layers = weights.layers.map { l in
            DecoderLayerWeights(inputNorm: l.inputNorm, qkv: Linear(weight: l.qkv), qNorm: nil, kNorm: nil,
                                output: Linear(weight: l.output), postAttentionNorm: l.postAttentionNorm,
                                gateUp: Linear(weight: l.gateUp), down: Linear(weight: l.down))
        }
        return Eagle3DraftModel(config: config, embedding: frozen.embedding, fc: Linear(weight: weights.fc),
                                inputNorm: weights.inputNorm, fcNorms: weights.fcNorms,
                                hiddenNorm: weights.layers[0].hiddenNorm ?? weights.layers[0].inputNorm,
                                layers: layers, finalNorm: weights.norm, head: Linear(weight: frozen.lmHead),
                                draftToTarget: draftToTarget)
    }
}

/// Errors of the training code; each names what is wrong.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case invalidDraft(String)
    case invalidBatch(String)
    case invalidData(path: String, problem: String)
    case invalidOption(String)
    case checkpoint(path: String, problem: String)

    public var description: String {
        switch self {
        case let .invalidDraft(problem): return "draft model: \(problem)"
        case let .invalidBatch(problem): return "training batch: \(problem)"
        case let .invalidData(path, problem): return "\(path): \(problem)"
        case let .invalidOption(problem): return "option: \(problem)"
        case let .checkpoint(path, problem): return "checkpoint \(path): \(problem)"
        }
    }
}
