import Checkpoints
import Configs
import Foundation

/// Extracts the native multi-token-prediction head (`mtp.*`) of a verifier checkpoint (Qwen3-Next,
/// Qwen3.5, ...) into the speculators `mtp` format (convert.md §5): renamed by the `TensorNames`
/// MTP table, per-expert MoE weights fused into `experts.gate_up_proj [E, 2I, H]` and
/// `experts.down_proj [E, H, I]`.
///
/// The MTP decoder layer mirrors the verifier's last full-attention layer, so that layer in the
/// same checkpoint is the list the head is checked against: a `mtp.*` tensor it has no counterpart
/// for is an error naming it, as is a missing one. Unlike speculators 0.9.0, no NaN-filled
/// `verifier_lm_head.weight` is written (the loader rebuilds it from the verifier).
public enum MTPConverter {
    /// The decoder-layer prefixes a verifier checkpoint may use (text models, then multimodal ones).
    static let layerPrefixes = ["model.layers.", "model.language_model.layers.", "language_model.model.layers."]

    public static func plan(source: URL, verifier: VerifierSummary, speculativeSteps: Int = 3,
                            dtype: TensorDataType? = nil) throws(ConversionError) -> MTPConversionPlan {
        guard speculativeSteps >= 1 else {
            throw ConversionError.invalidOption(key: "num_speculative_steps", problem: "must be at least 1, not \(speculativeSteps)")
        }
        var (object, configFile) = try ConvertedConfig.readSource(source)
        if let text = object["text_config"]?.objectValue { object = text }
        let weights = try Eagle3Converter.openSourceWeights(source)
        let file = weights.description
        var notes: [String] = []
        let native = weights.tensorNames.filter { $0.hasPrefix("mtp.") }
        guard !native.isEmpty else {
            throw ConversionError.missingTensor(file: file, tensor: "mtp.*",
                problem: "no tensor starts with 'mtp.'; this converter needs a checkpoint with a native MTP head (e.g. Qwen3-Next, Qwen3.5)")
        }

        var settings = object
        settings.removeValue(forKey: "transformers_version")
        let modelType = settings["model_type"]?.stringValue ?? "qwen2"
        let layer: TransformerLayerConfig
        do { layer = try TransformerLayerConfig(modelType: modelType, settings: settings) } catch {
            throw ConversionError.invalidKey(file: configFile, key: "(transformer config)", problem: "is not a valid \(modelType) config: \(error)")
        }
        let h = layer.hiddenSize
        if let verifierHidden = verifier.hiddenSize, verifierHidden != h {
            throw ConversionError.invalidKey(file: configFile, key: "hidden_size",
                problem: "is \(h) but the verifier \(verifier.nameOrPath) has hidden_size \(verifierHidden) (architecture mismatch)")
        }

        // The head's own tensors, then its decoder layer against the verifier's reference layer.
        let own: [String: [Int]] = ["mtp.fc.weight": [h, 2 * h], "mtp.norm.weight": [h],
                                    "mtp.pre_fc_norm_hidden.weight": [h], "mtp.pre_fc_norm_embedding.weight": [h]]
        var entries: [ConvertedTensor] = []
        for (name, shape) in own.sorted(by: { $0.key < $1.key }) {
            guard let info = weights.info(name) else {
                throw ConversionError.missingTensor(file: file, tensor: name, problem: "every MTP head has it")
            }
            guard info.shape == shape else {
                throw ConversionError.invalidTensor(file: file, tensor: name, problem: "has shape \(info.shape) but the MTP head needs \(shape)")
            }
            entries.append(.init(name: TensorNames.speculatorsName(forMTP: name), shape: shape, origin: .floats(source: name)))
        }
        let layerPrefix = "mtp.layers.0."
        let layerTensors = native.filter { $0.hasPrefix(layerPrefix) }
        let unplaced = native.filter { own[$0] == nil && !$0.hasPrefix(layerPrefix) }
        if !unplaced.isEmpty {
            throw ConversionError.unplacedTensors(file: file, names: unplaced.sorted(),
                hint: "an MTP head has fc, norm, pre_fc_norm_hidden, pre_fc_norm_embedding and one decoder layer (mtp.layers.0.*)")
        }
        if let reference = referenceLayer(weights: weights, layer: layer, settings: settings) {
            let expected = Dictionary(uniqueKeysWithValues: reference.names.compactMap { name in
                weights.info(name).map { (String(name.dropFirst(reference.prefix.count)), $0.shape) }
            })
            let extra = layerTensors.filter { expected[String($0.dropFirst(layerPrefix.count))] == nil }
            if !extra.isEmpty {
                throw ConversionError.unplacedTensors(file: file, names: extra.sorted(),
                    hint: "the verifier's reference layer \(reference.prefix) has no such tensor")
            }
            for (suffix, shape) in expected.sorted(by: { $0.key < $1.key }) {
                guard let info = weights.info(layerPrefix + suffix) else {
                    throw ConversionError.missingTensor(file: file, tensor: layerPrefix + suffix,
                                                        problem: "the verifier's layer \(reference.prefix) has \(suffix)")
                }
                guard info.shape == shape else {
                    throw ConversionError.invalidTensor(file: file, tensor: layerPrefix + suffix,
                        problem: "has shape \(info.shape) but \(reference.prefix)\(suffix) is \(shape)")
                }
            }
        } else {
            notes.append("the checkpoint has no verifier decoder layer to check the MTP layer against; its tensors are carried over as they are")
        }
        entries += try fuseExperts(layerTensors, weights: weights)
        for name in layerTensors where weights.info(name)?.dataType.isFloatConvertible != true {
            throw ConversionError.invalidTensor(file: file, tensor: name, problem: "is not a float tensor")
        }

        var floatType = dtype ?? .f32
        if dtype == nil {
            let stored = Set(native.compactMap { weights.info($0)?.dataType })
            if stored.count > 1 { notes.append("the MTP tensors mix dtypes \(stored.map(\.rawValue).sorted()); writing mtp.fc.weight's") }
            if let fc = weights.info("mtp.fc.weight")?.dataType, [.bf16, .f16].contains(fc) { floatType = fc }
        }
        var config = MTPSpeculatorConfig()
        config.transformerLayerConfig = layer
        ConvertedConfig.finish(&config, algorithm: MTPSpeculatorConfig.speculatorsModelType, tokens: speculativeSteps,
                               verifier: VerifierConfig(nameOrPath: verifier.nameOrPath,
                                                        architectures: verifier.declaresArchitectures ? verifier.architectures : []),
                               floatType: floatType)
        return MTPConversionPlan(config: config, entries: entries.sorted { $0.name < $1.name }, floatType: floatType,
                                 notes: notes, weights: weights)
    }

    @discardableResult
    public static func convert(source: URL, output: URL, verifier: VerifierSummary, speculativeSteps: Int = 3,
                               dtype: TensorDataType? = nil, progress: ConversionProgress? = nil) throws(ConversionError) -> MTPConversionPlan {
        try ConvertedConfig.requireDistinct(source: source, output: output)
        let plan = try plan(source: source, verifier: verifier, speculativeSteps: speculativeSteps, dtype: dtype)
        try CheckpointWriting.write(plan.entries, from: plan.weights, floatType: plan.floatType, config: plan.config,
                                    to: output, progress: progress)
        return plan
    }

    /// The verifier layer the MTP layer mirrors: the last `full_attention` entry of `layer_types`,
    /// else the last layer; nil when the checkpoint does not hold it.
    static func referenceLayer(weights: TensorSource, layer: TransformerLayerConfig,
                               settings: JSONObject) -> (prefix: String, names: [String])? {
        let types = settings["layer_types"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let index = types.lastIndex(of: "full_attention") ?? (layer.numHiddenLayers - 1)
        for base in layerPrefixes {
            let prefix = "\(base)\(index)."
            let names = weights.tensorNames.filter { $0.hasPrefix(prefix) }
            if !names.isEmpty { return (prefix, names) }
        }
        return nil
    }

    /// Renames the decoder-layer tensors; per-expert `experts.N.{gate,up,down}_proj.weight` become
    /// `experts.gate_up_proj` (each expert's gate rows then up rows) and `experts.down_proj`.
    static func fuseExperts(_ names: [String], weights: TensorSource) throws(ConversionError) -> [ConvertedTensor] {
        let file = weights.description
        var entries: [ConvertedTensor] = []
        var groups: [String: [Int: [String: String]]] = [:]
        for name in names {
            let renamed = TensorNames.speculatorsName(forMTP: name)
            if let (prefix, expert, projection) = expertParts(renamed) {
                groups[prefix, default: [:]][expert, default: [:]][projection] = name
            } else if let info = weights.info(name) {
                entries.append(.init(name: renamed, shape: info.shape, origin: .floats(source: name)))
            }
        }
        for (prefix, experts) in groups.sorted(by: { $0.key < $1.key }) {
            let count = (experts.keys.max() ?? -1) + 1
            guard Set(experts.keys) == Set(0..<count) else {
                throw ConversionError.invalidTensor(file: file, tensor: "\(prefix).*",
                    problem: "expert indices \(experts.keys.sorted()) are not contiguous from 0")
            }
            var gateUp: [String] = [], down: [String] = []
            var shapes: (gate: [Int], down: [Int])?
            for index in 0..<count {
                guard let parts = experts[index], let gate = parts["gate_proj"], let up = parts["up_proj"], let downName = parts["down_proj"] else {
                    throw ConversionError.missingTensor(file: file, tensor: "\(prefix).\(index).*",
                                                        problem: "each expert needs gate_proj, up_proj and down_proj")
                }
                let gateShape = weights.info(gate)?.shape ?? [], upShape = weights.info(up)?.shape ?? []
                let downShape = weights.info(downName)?.shape ?? []
                let reference = shapes ?? (gateShape, downShape)
                guard gateShape.count == 2, gateShape == upShape, gateShape == reference.gate, downShape == reference.down else {
                    throw ConversionError.invalidTensor(file: file, tensor: gate,
                        problem: "expert \(index) has shapes gate \(gateShape), up \(upShape), down \(downShape), unlike expert 0")
                }
                shapes = reference
                gateUp += [gate, up]
                down.append(downName)
            }
            guard let shapes else { continue }
            entries.append(.init(name: "\(prefix).gate_up_proj", shape: [count, 2 * shapes.gate[0], shapes.gate[1]],
                                 origin: .concatenation(gateUp)))
            entries.append(.init(name: "\(prefix).down_proj", shape: [count] + shapes.down, origin: .concatenation(down)))
        }
        return entries
    }

    /// `(…experts, N, gate_proj|up_proj|down_proj)` for `….experts.N.<projection>.weight`.
    static func expertParts(_ name: String) -> (String, Int, String)? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 4, parts[parts.count - 1] == "weight",
              ["gate_proj", "up_proj", "down_proj"].contains(parts[parts.count - 2]),
              let index = Int(parts[parts.count - 3]), index >= 0, String(index) == parts[parts.count - 3],
              parts[parts.count - 4] == "experts" else { return nil }
        return (parts[..<(parts.count - 3)].joined(separator: "."), index, parts[parts.count - 2])
    }
}

/// What an MTP conversion will write.
public struct MTPConversionPlan: Sendable {
    public let config: MTPSpeculatorConfig
    public let entries: [ConvertedTensor]
    public let floatType: TensorDataType
    public let notes: [String]
    public let weights: TensorSource
}
