import Checkpoints
import Configs
import Foundation

/// Converts a z-lab DFlash checkpoint (a Qwen3-style draft with `fc`, `hidden_norm`, `layers.*`,
/// `norm` and a `dflash_config` block) into the speculators `dflash` format (convert.md §6).
///
/// Like upstream: the layer config is the source config minus the DFlash keys, aux ids are
/// `target_layer_ids + 1` without the verifier's last layer, fused Laguna `qkv_proj` tensors are
/// split. Unlike upstream, nothing is dropped silently: attention gates (`g_proj`),
/// `aux_hidden_norms.*`, an `fc` wider than the aux ids need, and a reduced-vocabulary `t2d` are
/// errors naming the tensor (upstream drops or slices them, which changes the model).
/// The verifier's embedding and LM head are not written: speculators 0.9.0 does not save them for
/// full-vocabulary DFlash drafts either.
public enum DFlashConverter {
    /// Source config keys that are not part of the draft's transformer config.
    public static let nonTransformerKeys: Set<String> = [
        "architectures", "auto_map", "block_size", "dflash_config", "num_target_layers", "transformers_version",
    ]

    public static func plan(source: URL, verifier: VerifierSummary, auxLayerIds: [Int]? = nil,
                            dtype: TensorDataType? = nil) throws(ConversionError) -> DFlashConversionPlan {
        let (object, configFile) = try ConvertedConfig.readSource(source)
        let weights = try Eagle3Converter.openSourceWeights(source)
        var notes: [String] = []

        let dflash: JSONObject
        switch object["dflash_config"] {
        case nil, .null?: dflash = [:]
        case .object(let block)?: dflash = block
        case let other?: throw ConversionError.invalidKey(file: configFile, key: "dflash_config", problem: "must be an object, not \(other.typeName)")
        }
        let blockValue = object["block_size"].flatMap { $0.intValue == 0 ? nil : $0 } ?? dflash["block_size"]
        guard let blockValue else {
            throw ConversionError.invalidKey(file: configFile, key: "block_size", problem: "is missing (checked the top level and dflash_config)")
        }
        guard let blockSize = blockValue.intValue, blockSize >= 2 else {
            throw ConversionError.invalidKey(file: configFile, key: "block_size", problem: "must be an integer of at least 2, not \(blockValue.compactDescription)")
        }

        var settings = JSONObject()
        for (key, value) in object.entries where !nonTransformerKeys.contains(key) { settings[key] = value }
        let modelType = settings["model_type"]?.stringValue ?? "qwen3"
        let layer: TransformerLayerConfig
        do { layer = try TransformerLayerConfig(modelType: modelType, settings: settings) } catch {
            throw ConversionError.invalidKey(file: configFile, key: "(transformer config)", problem: "is not a valid \(modelType) config: \(error)")
        }
        if let verifierHidden = verifier.hiddenSize, verifierHidden != layer.hiddenSize {
            throw ConversionError.invalidKey(file: configFile, key: "hidden_size",
                problem: "is \(layer.hiddenSize) but the verifier \(verifier.nameOrPath) has hidden_size \(verifierHidden) (architecture mismatch)")
        }
        let ids: [Int]
        if let auxLayerIds {
            ids = auxLayerIds
        } else {
            guard let targets = dflash["target_layer_ids"], !targets.isNull else {
                throw ConversionError.invalidKey(file: configFile, key: "dflash_config.target_layer_ids",
                                                 problem: "is missing; pass aux_hidden_state_layer_ids in --algorithm-kwargs")
            }
            guard let list = targets.arrayValue, case let values = list.compactMap(\.intValue), values.count == list.count else {
                throw ConversionError.invalidKey(file: configFile, key: "dflash_config.target_layer_ids", problem: "must be a list of integers")
            }
            guard let layers = verifier.layerCount else {
                throw ConversionError.invalidKey(file: verifier.nameOrPath, key: "num_hidden_layers", problem: "could not be found in the verifier config")
            }
            // z-lab reads hidden_states[id + 1]; the verifier's last layer is fed separately in speculators.
            ids = values.map { $0 + 1 }.filter { $0 != layers }
        }
        var maskTokenId: Int?
        if let mask = dflash["mask_token_id"], !mask.isNull {
            guard let value = mask.intValue else {
                throw ConversionError.invalidKey(file: configFile, key: "dflash_config.mask_token_id", problem: "must be an integer")
            }
            maskTokenId = value
        }

        let entries = try tensorEntries(weights: weights, layer: layer, auxCount: ids.count, notes: &notes)
        var floatType = dtype ?? .f32
        if dtype == nil {
            let types = Set(entries.compactMap { entry -> TensorDataType? in
                if case .floats(let name) = entry.origin { return weights.info(name)?.dataType }
                if case .floatRows(let name, _) = entry.origin { return weights.info(name)?.dataType }
                return nil
            })
            let stored = types.count == 1 ? types.first : weights.info("fc.weight")?.dataType
            if let stored, [.bf16, .f16].contains(stored) { floatType = stored }
        }

        var config = DFlashSpeculatorConfig()
        config.architectures = ["DFlashDraftModel"]
        config.transformerLayerConfig = layer
        config.draftVocabSize = layer.vocabSize
        config.blockSize = blockSize
        config.auxHiddenStateLayerIds = ids
        config.maskTokenId = maskTokenId
        ConvertedConfig.finish(&config, algorithm: DFlashSpeculatorConfig.speculatorsModelType, tokens: blockSize - 1,
                               verifier: VerifierConfig(nameOrPath: verifier.nameOrPath,
                                                        architectures: verifier.declaresArchitectures ? verifier.architectures : []),
                               floatType: floatType)
        return DFlashConversionPlan(config: config, entries: entries, floatType: floatType, notes: notes, weights: weights)
    }

    @discardableResult
    public static func convert(source: URL, output: URL, verifier: VerifierSummary, auxLayerIds: [Int]? = nil,
                               dtype: TensorDataType? = nil, progress: ConversionProgress? = nil) throws(ConversionError) -> DFlashConversionPlan {
        try ConvertedConfig.requireDistinct(source: source, output: output)
        let plan = try plan(source: source, verifier: verifier, auxLayerIds: auxLayerIds, dtype: dtype)
        try CheckpointWriting.write(plan.entries, from: plan.weights, floatType: plan.floatType, config: plan.config,
                                    to: output, progress: progress)
        return plan
    }

    /// Every output tensor, checked against the DFlash tensor list; fused qkv split into rows.
    static func tensorEntries(weights: TensorSource, layer: TransformerLayerConfig, auxCount: Int,
                              notes: inout [String]) throws(ConversionError) -> [ConvertedTensor] {
        let file = weights.description
        let manifest = dflashManifest(layer: layer, auxCount: auxCount)
        var entries: [ConvertedTensor] = []
        var unplaced: [String] = []
        let qWidth = layer.numAttentionHeads * layer.headDim, kvWidth = layer.numKeyValueHeads * layer.headDim
        for name in weights.tensorNames {
            guard let info = weights.info(name) else { continue }
            if name == "d2t" || name == "t2d" {
                if name == "t2d", let mask = try? weights.loadBool("t2d"), mask.contains(false) {
                    throw ConversionError.invalidTensor(file: file, tensor: "t2d",
                        problem: "selects a reduced vocabulary, but DFlash drafts converted from z-lab use the full vocabulary")
                }
                notes.append("\(name) is not carried over: the draft uses the full verifier vocabulary")
                continue
            }
            if name.contains("qkv_proj") {
                let parts = ["q_proj", "k_proj", "v_proj"].map { name.replacingOccurrences(of: "qkv_proj", with: $0) }
                if let conflict = parts.first(where: { weights.contains($0) }) {
                    throw ConversionError.invalidTensor(file: file, tensor: name, problem: "is fused but '\(conflict)' also exists")
                }
                guard info.shape.first == qWidth + 2 * kvWidth else {
                    throw ConversionError.invalidTensor(file: file, tensor: name,
                        problem: "has \(info.shape.first ?? 0) rows; q, k and v need \(qWidth) + \(kvWidth) + \(kvWidth)")
                }
                let columns = Array(info.shape.dropFirst())
                let bounds = [0, qWidth, qWidth + kvWidth, qWidth + 2 * kvWidth]
                for (index, part) in parts.enumerated() {
                    entries.append(.init(name: part, shape: [bounds[index + 1] - bounds[index]] + columns,
                                         origin: .floatRows(source: name, rows: bounds[index]..<bounds[index + 1])))
                }
                continue
            }
            guard manifest[name] != nil else { unplaced.append(name); continue }
            guard info.dataType.isFloatConvertible else {
                throw ConversionError.invalidTensor(file: file, tensor: name, problem: "is \(info.dataType.rawValue), expected a float type")
            }
            entries.append(.init(name: name, shape: info.shape, origin: .floats(source: name)))
        }
        if !unplaced.isEmpty {
            var hints: [String] = []
            if unplaced.contains(where: { $0.contains(".g_proj.") }) { hints.append("g_proj attention gates have no place in the speculators DFlash model") }
            if unplaced.contains(where: { $0.hasPrefix("aux_hidden_norms.") }) { hints.append("aux_hidden_norms.* have no place in the speculators DFlash model") }
            if unplaced.contains(where: { $0.hasPrefix("layers.") }) { hints.append("layers.N.* needs num_hidden_layers > N") }
            throw ConversionError.unplacedTensors(file: file, names: unplaced.sorted(), hint: hints.joined(separator: "; "))
        }
        let present = Dictionary(entries.map { ($0.name, $0.shape) }, uniquingKeysWith: { first, _ in first })
        for (name, shape) in manifest.sorted(by: { $0.key < $1.key }) {
            guard let actual = present[name] else {
                throw ConversionError.missingTensor(file: file, tensor: name, problem: "the DFlash draft needs it")
            }
            guard actual == shape else {
                let hint = name == "fc.weight" ? " (\(auxCount) aux layers; upstream slices a wider fc, this converter does not drop columns)" : ""
                throw ConversionError.invalidTensor(file: file, tensor: name, problem: "has shape \(actual) but the converted model needs \(shape)\(hint)")
            }
        }
        return entries.sorted { $0.name < $1.name }
    }

    /// Name → shape of every tensor a full-vocabulary speculators DFlash checkpoint holds.
    static func dflashManifest(layer: TransformerLayerConfig, auxCount: Int) -> [String: [Int]] {
        let h = layer.hiddenSize, q = layer.numAttentionHeads * layer.headDim, kv = layer.numKeyValueHeads * layer.headDim
        let i = layer.intermediateSize
        var manifest: [String: [Int]] = ["fc.weight": [h, auxCount * h], "hidden_norm.weight": [h], "norm.weight": [h]]
        for index in 0..<layer.numHiddenLayers {
            let p = "layers.\(index)."
            manifest[p + "input_layernorm.weight"] = [h]
            manifest[p + "post_attention_layernorm.weight"] = [h]
            manifest[p + "self_attn.q_proj.weight"] = [q, h]
            manifest[p + "self_attn.k_proj.weight"] = [kv, h]
            manifest[p + "self_attn.v_proj.weight"] = [kv, h]
            manifest[p + "self_attn.o_proj.weight"] = [h, q]
            if layer.attentionBias {
                manifest[p + "self_attn.q_proj.bias"] = [q]
                manifest[p + "self_attn.k_proj.bias"] = [kv]
                manifest[p + "self_attn.v_proj.bias"] = [kv]
                manifest[p + "self_attn.o_proj.bias"] = [h]
            }
            if layer.modelType == "qwen3" {
                manifest[p + "self_attn.q_norm.weight"] = [layer.headDim]
                manifest[p + "self_attn.k_norm.weight"] = [layer.headDim]
            }
            manifest[p + "mlp.gate_proj.weight"] = [i, h]
            manifest[p + "mlp.up_proj.weight"] = [i, h]
            manifest[p + "mlp.down_proj.weight"] = [h, i]
        }
        return manifest
    }
}

/// What a DFlash conversion will write.
public struct DFlashConversionPlan: Sendable {
    public let config: DFlashSpeculatorConfig
    public let entries: [ConvertedTensor]
    public let floatType: TensorDataType
    public let notes: [String]
    public let weights: TensorSource
}
