import Foundation
import Checkpoints
import Tensors

extension Eagle3DraftModel {
    /// Loads a speculators-format EAGLE-3 folder (`config.json` + safetensors) for `verifier`.
    ///
    /// Missing `embed_tokens` is taken from the verifier (the Python library leaves zeros there
    /// instead, a bug we do not copy); a missing `lm_head` is the verifier head restricted to the
    /// draft vocabulary (`t2d`). `d2t`/`t2d` are required whenever the draft vocabulary is smaller.
    public static func load(folder: URL, config: Eagle3DraftConfig, verifier: TransformerModel) throws -> Eagle3DraftModel {
        try load(config: config, weights: try openCheckpoint(folder), verifier: verifier)
    }

    public static func load(config: Eagle3DraftConfig, weights: TensorSource, verifier: TransformerModel) throws -> Eagle3DraftModel {
        let layer = config.layer
        let h = layer.hiddenSize, i = layer.intermediateSize, v = layer.vocabSize, vd = config.draftVocabSize
        let source = weights.description
        let names = Eagle3Names.self
        guard verifier.config.hiddenSize == config.targetHiddenSize else {
            throw ModelConfigError.invalid(source: source, key: "target_hidden_size",
                                           problem: "is \(config.targetHiddenSize) but the verifier's hidden size is \(verifier.config.hiddenSize)")
        }
        guard verifier.config.vocabSize == v else {
            throw ModelConfigError.invalid(source: source, key: "transformer_layer_config.vocab_size",
                                           problem: "is \(v) but the verifier's vocabulary has \(verifier.config.vocabSize) tokens")
        }
        for id in config.auxiliaryLayerIds where id < 0 || id > verifier.config.layerCount {
            throw ModelConfigError.invalid(source: source, key: "eagle_aux_hidden_state_layer_ids",
                                           problem: "contains \(id), outside 0...\(verifier.config.layerCount) for this verifier")
        }

        let embedding = weights.contains(names.embedding)
            ? try weights.loadFloat32(names.embedding, expectedShape: [v, h]) : verifier.embedding
        let fc = Linear(weight: try weights.loadFloat32(names.fc, expectedShape: [h, config.featureWidth]))
        var inputNorm: Tensor?
        if config.normBeforeFC {
            inputNorm = try weights.loadFloat32(names.inputNorm, expectedShape: [config.featureWidth])
        }
        var fcNorms: [Tensor] = []
        if config.fcNorm {
            fcNorms = try config.auxiliaryLayerIds.indices.map {
                try weights.loadFloat32(names.fcNorm($0), expectedShape: [config.targetHiddenSize])
            }
        }
        var layers: [DecoderLayerWeights] = []
        var hiddenNorm: Tensor?
        for index in 0..<layer.layerCount {
            let prefix = names.layer(index)
            let inWidth = index == 0 ? 2 * h : h
            func load(_ name: String, _ shape: [Int]) throws -> Tensor {
                try weights.loadFloat32(prefix + name, expectedShape: shape)
            }
            if index == 0 { hiddenNorm = try load(names.hiddenNorm, [h]) }
            let q = try load(HuggingFaceNames.qProj, [layer.qWidth, inWidth])
            let k = try load(HuggingFaceNames.kProj, [layer.kvWidth, inWidth])
            let vProj = try load(HuggingFaceNames.vProj, [layer.kvWidth, inWidth])
            var qkvBias: Tensor?
            if layer.qkvBias {
                qkvBias = stack([try load(HuggingFaceNames.qBias, [layer.qWidth]), try load(HuggingFaceNames.kBias, [layer.kvWidth]),
                                 try load(HuggingFaceNames.vBias, [layer.kvWidth])])
            }
            layers.append(DecoderLayerWeights(
                inputNorm: try load(HuggingFaceNames.inputNorm, [h]),
                qkv: Linear(weight: stack([q, k, vProj]), bias: qkvBias),
                qNorm: layer.qkNorm ? try load(HuggingFaceNames.qNorm, [layer.headDim]) : nil,
                kNorm: layer.qkNorm ? try load(HuggingFaceNames.kNorm, [layer.headDim]) : nil,
                output: Linear(weight: try load(HuggingFaceNames.oProj, [h, layer.qWidth]),
                               bias: layer.outputBias ? try load(HuggingFaceNames.oBias, [h]) : nil),
                postAttentionNorm: try load(HuggingFaceNames.postAttentionNorm, [h]),
                gateUp: Linear(weight: stack([try load(HuggingFaceNames.gateProj, [i, h]), try load(HuggingFaceNames.upProj, [i, h])])),
                down: Linear(weight: try load(HuggingFaceNames.downProj, [h, i]))))
        }
        guard let hiddenNorm, !layers.isEmpty else {
            throw ModelConfigError.invalid(source: source, key: "transformer_layer_config.num_hidden_layers",
                                           problem: "must be at least 1")
        }
        let finalNorm = try weights.loadFloat32(names.norm, expectedShape: [h])

        // Vocabulary mapping.
        var draftToTarget = Array(0..<vd)
        var selectedRows: [Int]?
        if vd != v {
            let offsets = try weights.loadInt64(names.d2t)
            guard offsets.count == vd else {
                throw CheckpointError.shapeMismatch(file: source, tensor: names.d2t, expected: [vd], actual: [offsets.count])
            }
            draftToTarget = try offsets.enumerated().map { index, offset in
                let target = index + Int(offset)
                guard target >= 0, target < v else {
                    throw CheckpointError.corrupt(file: source, tensor: names.d2t,
                                                  problem: "draft id \(index) maps to target id \(target), outside 0..<\(v)")
                }
                return target
            }
            if weights.contains(names.t2d) {
                let mask = try weights.loadBool(names.t2d)
                let selected = mask.indices.filter { mask[$0] }
                guard mask.count == v, selected == draftToTarget else {
                    throw CheckpointError.corrupt(file: source, tensor: names.t2d,
                                                  problem: "does not select the same \(vd) target ids as d2t")
                }
            }
            selectedRows = draftToTarget
        } else if vd > v {
            throw ModelConfigError.invalid(source: source, key: "draft_vocab_size", problem: "\(vd) exceeds the verifier vocabulary \(v)")
        }
        let head: Linear
        if weights.contains(names.lmHead) {
            head = Linear(weight: try weights.loadFloat32(names.lmHead, expectedShape: [vd, h]))
        } else {
            head = Linear(weight: verifier.head.rows(selectedRows ?? Array(0..<v)))
        }
        // Draft passes are bound by memory: matrices stored as bf16 (the usual draft checkpoint)
        // are streamed as bf16, with bit-identical results; float32 ones stay as they are.
        let compactLayers = layers.map { $0.mappingLinears { $0.preferringBFloat16() } }
        return Eagle3DraftModel(config: config, embedding: embedding, fc: fc.preferringBFloat16(), inputNorm: inputNorm,
                                fcNorms: fcNorms, hiddenNorm: hiddenNorm, layers: compactLayers, finalNorm: finalNorm,
                                head: head.preferringBFloat16(),
                                draftToTarget: draftToTarget)
    }
}

/// Tensor names of a speculators-format EAGLE-3 checkpoint (no `model.` prefix).
enum Eagle3Names {
    static let embedding = "embed_tokens.weight"
    static let fc = "fc.weight"
    static let inputNorm = "input_norm.weight"
    static func fcNorm(_ index: Int) -> String { "fc_norm.\(index).weight" }
    static func layer(_ index: Int) -> String { "layers.\(index)." }
    static let hiddenNorm = "hidden_norm.weight"
    static let norm = "norm.weight"
    static let lmHead = "lm_head.weight"
    static let d2t = "d2t"
    static let t2d = "t2d"
}
