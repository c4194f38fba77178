import Foundation
import Checkpoints
import Configs
import Models
import Tensors

/// Writing a trained draft as a speculators-format folder (`config.json` + `model.safetensors`)
/// that our loader, vLLM and the Python library read, and the trainer state that resume needs.
public struct DraftCheckpointOptions: Sendable {
    /// Float storage of `model.safetensors`: BF16 (what the library saves) or F32.
    public var dataType: TensorDataType
    /// Also store `embed_tokens.weight` (the Python library's loader leaves it unset otherwise).
    public var includeEmbedding: Bool
    /// `speculators_config.verifier.name_or_path`.
    public var verifierNameOrPath: String
    public var verifierArchitectures: [String]

    public init(dataType: TensorDataType = .bf16, includeEmbedding: Bool = false, verifierNameOrPath: String,
                verifierArchitectures: [String] = ["LlamaForCausalLM"]) {
        self.dataType = dataType
        self.includeEmbedding = includeEmbedding
        self.verifierNameOrPath = verifierNameOrPath
        self.verifierArchitectures = verifierArchitectures
    }

    /// The verifier a trained draft records: the one asked for; else, fine-tuning a checkpoint,
    /// the checkpoint's own (as the Python library keeps it: the path this run loaded the
    /// verifier from, often a GGUF file, is no Hugging Face id, and the library could not load a
    /// draft naming it); else the path the verifier was loaded from.
    public static func recordedVerifier(explicit: String?, pretrainedFolder: String?, verifierPath: String) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let pretrainedFolder, let name = (try? SpeculatorModelConfig.load(from: pretrainedFolder))?.verifier?.nameOrPath,
           !name.trimmingCharacters(in: .whitespaces).isEmpty {
            return name
        }
        return verifierPath
    }
}

extension TrainableDraft {
    /// The speculators config: the decoder layer synthesised as `training.md` §6.2 describes
    /// (a LlamaConfig copying the verifier's shape, SiLU, untied, every layer sliding-window
    /// attention when the draft has a window), the EAGLE-3 flags, and a greedy proposal with
    /// `speculative_tokens` = the TTT steps.
    public func speculatorConfig(options: DraftCheckpointOptions) throws -> Eagle3SpeculatorConfig {
        let layer = config.layer
        var settings: JSONObject = [
            "vocab_size": .int(layer.vocabSize), "hidden_size": .int(layer.hiddenSize),
            "intermediate_size": .int(layer.intermediateSize), "num_hidden_layers": .int(layer.layerCount),
            "num_attention_heads": .int(layer.headCount), "num_key_value_heads": .int(layer.kvHeadCount),
            "head_dim": .int(layer.headDim), "hidden_act": "silu", "rms_norm_eps": .double(Double("\(layer.rmsNormEps)") ?? Double(layer.rmsNormEps)),  // shortest decimal: 1e-05, not 9.99e-06
            "max_position_embeddings": .int(layer.maxPositions), "initializer_range": 0.02,
            "tie_word_embeddings": false, "attention_bias": false, "mlp_bias": false,
            "architectures": ["LlamaForCausalLM"],
            "dtype": .string(options.dataType == .f32 ? "float32" : "bfloat16"),
        ]
        var rope: JSONObject = ["rope_theta": .double(Double(layer.ropeTheta)), "rope_type": "default"]
        switch layer.ropeScaling {
        case .none: break
        case let .linear(factor):
            rope["rope_type"] = "linear"
            rope["factor"] = .double(Double(factor))
        case let .llama3(factor, low, high, original):
            rope["rope_type"] = "llama3"
            rope["factor"] = .double(Double(factor))
            rope["low_freq_factor"] = .double(Double(low))
            rope["high_freq_factor"] = .double(Double(high))
            rope["original_max_position_embeddings"] = .int(original)
        }
        settings["rope_parameters"] = .object(rope)
        if let window = layer.slidingWindow {
            settings["sliding_window"] = .int(window)
            settings["use_sliding_window"] = true
            settings["layer_types"] = .array(Array(repeating: "sliding_attention", count: layer.layerCount))
        }
        var speculator = Eagle3SpeculatorConfig()
        speculator.base.architectures = ["Eagle3DraftModel"]
        speculator.transformerLayerConfig = try TransformerLayerConfig(modelType: "llama", settings: settings)
        speculator.draftVocabSize = config.draftVocabSize
        speculator.normBeforeResidual = config.normBeforeResidual
        speculator.normBeforeFc = config.normBeforeFC
        speculator.fcNorm = config.fcNorm
        speculator.normOutput = config.normOutput
        speculator.eagleAuxHiddenStateLayerIds = config.auxiliaryLayerIds
        speculator.base.speculatorsConfig = SpeculatorsConfig(
            algorithm: "eagle3", proposalMethods: [GreedyTokenProposalConfig(speculativeTokens: config.speculativeTokens)],
            defaultProposalMethod: "greedy",
            verifier: VerifierConfig(nameOrPath: options.verifierNameOrPath, architectures: options.verifierArchitectures))
        return speculator
    }

    /// Writes `config.json` and `model.safetensors` into `folder` (created if needed).
    public func save(to folder: URL, options: DraftCheckpointOptions) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try speculatorConfig(options: options).save(toFolder: folder.path)
        var writer = SafetensorsWriter()
        let layer = config.layer
        let type = options.dataType
        func rows(_ tensor: Tensor, _ range: Range<Int>) -> [Float] {
            let width = tensor.columns
            return Array(UnsafeBufferPointer(start: tensor.base + range.lowerBound * width, count: range.count * width))
        }
        try writer.add("fc.weight", dataType: type, tensor: weights.fc)
        if let inputNorm = weights.inputNorm { try writer.add("input_norm.weight", dataType: type, tensor: inputNorm) }
        for (i, norm) in weights.fcNorms.enumerated() { try writer.add("fc_norm.\(i).weight", dataType: type, tensor: norm) }
        let q = layer.qWidth, kv = layer.kvWidth, inner = layer.intermediateSize
        for (index, l) in weights.layers.enumerated() {
            let p = "layers.\(index)."
            let inWidth = l.qkv.columns
            try writer.add(p + "input_layernorm.weight", dataType: type, tensor: l.inputNorm)
            if let hiddenNorm = l.hiddenNorm { try writer.add(p + "hidden_norm.weight", dataType: type, tensor: hiddenNorm) }
            try writer.add(p + "self_attn.q_proj.weight", dataType: type, shape: [q, inWidth], values: rows(l.qkv, 0..<q))
            try writer.add(p + "self_attn.k_proj.weight", dataType: type, shape: [kv, inWidth], values: rows(l.qkv, q..<(q + kv)))
            try writer.add(p + "self_attn.v_proj.weight", dataType: type, shape: [kv, inWidth],
                           values: rows(l.qkv, (q + kv)..<(q + 2 * kv)))
            try writer.add(p + "self_attn.o_proj.weight", dataType: type, tensor: l.output)
            try writer.add(p + "post_attention_layernorm.weight", dataType: type, tensor: l.postAttentionNorm)
            try writer.add(p + "mlp.gate_proj.weight", dataType: type, shape: [inner, layer.hiddenSize], values: rows(l.gateUp, 0..<inner))
            try writer.add(p + "mlp.up_proj.weight", dataType: type, shape: [inner, layer.hiddenSize],
                           values: rows(l.gateUp, inner..<(2 * inner)))
            try writer.add(p + "mlp.down_proj.weight", dataType: type, tensor: l.down)
        }
        try writer.add("norm.weight", dataType: type, tensor: weights.norm)
        try writer.add("lm_head.weight", dataType: type, tensor: frozen.lmHead)
        if options.includeEmbedding { try writer.add("embed_tokens.weight", dataType: type, tensor: frozen.embedding) }
        if config.draftVocabSize != layer.vocabSize {
            try writer.add("d2t", shape: [config.draftVocabSize], int64: draftToTarget.enumerated().map { Int64($1 - $0) })
            var mask = [Bool](repeating: false, count: layer.vocabSize)
            for id in draftToTarget { mask[id] = true }
            try writer.add("t2d", shape: [layer.vocabSize], bool: mask)
        }
        try writer.write(to: folder.appendingPathComponent("model.safetensors"))
    }
}

/// Everything resume needs beyond the model folder: f32 master weights, the optimizer's state
/// (AdamW moments, Muon momentum buffers) and counters, in `trainer_state.safetensors` + `training_state.json`.
public struct TrainerState: Sendable, Equatable {
    public var epoch: Int
    public var globalStep: Int
    public var bestValidationLoss: Double?

    public init(epoch: Int, globalStep: Int, bestValidationLoss: Double?) {
        self.epoch = epoch
        self.globalStep = globalStep
        self.bestValidationLoss = bestValidationLoss
    }

    public static let stateFile = "trainer_state.safetensors"
    public static let jsonFile = "training_state.json"

    public func save(to folder: URL, weights: DraftTrainables, optimizer: any DraftOptimizer) throws {
        var writer = SafetensorsWriter(metadata: ["format": "speculators-swift-trainer", "optimizer": optimizer.name,
                                                  "adam_step": String(optimizer.stepCount)])
        for (name, tensor) in weights.named { try writer.add("param." + name, tensor: tensor) }
        for (name, tensor) in optimizer.state { try writer.add(name, tensor: tensor) }
        try writer.write(to: folder.appendingPathComponent(Self.stateFile))
        var json: [String: Any] = ["epoch": epoch, "global_step": globalStep, "local_step": 0]
        if let bestValidationLoss { json["best_validation_loss"] = bestValidationLoss }
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .prettyPrinted])
        // Written last and atomically: a checkpoint counts (`latestEpoch`) only once it is whole.
        try data.write(to: folder.appendingPathComponent(Self.jsonFile), options: .atomic)
    }

    /// Restores weights and optimizer state from `folder` into the given tensors.
    public static func load(from folder: URL, weights: DraftTrainables, optimizer: any DraftOptimizer) throws -> TrainerState {
        let jsonURL = folder.appendingPathComponent(jsonFile)
        guard let data = FileManager.default.contents(atPath: jsonURL.path),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let epoch = json["epoch"] as? Int, let step = json["global_step"] as? Int else {
            throw TrainingError.checkpoint(path: jsonURL.path, problem: "missing or malformed (needs integer epoch and global_step)")
        }
        let file = try SafetensorsFile(url: folder.appendingPathComponent(stateFile))
        // Checkpoints written before Muon existed carry no optimizer name: they are AdamW's.
        let saved = file.metadata["optimizer"] ?? "adamw"
        guard saved == optimizer.name else {
            throw TrainingError.checkpoint(path: folder.path, problem: "was written by the \(saved) optimizer; this run uses \(optimizer.name)")
        }
        let targets = weights.named.map { ("param." + $0.name, $0.tensor) } + optimizer.state.map { ($0.name, $0.tensor) }
        for (name, target) in targets {
            let loaded = try file.loadFloat32(name, expectedShape: target.shape)
            target.base.update(from: loaded.base, count: target.count)
        }
        guard let adamStep = file.metadata["adam_step"].flatMap(Int.init) else {
            throw TrainingError.checkpoint(path: folder.path, problem: "\(stateFile) lacks the adam_step metadata")
        }
        optimizer.stepCount = adamStep
        return TrainerState(epoch: epoch, globalStep: step, bestValidationLoss: json["best_validation_loss"] as? Double)
    }
}
