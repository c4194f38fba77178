import Checkpoints
import Configs
import Foundation
import Models

/// Converts an EAGLE-3 research checkpoint (SafeAILab layout: `midlayer.*`, `fc`, `norm`,
/// `lm_head`, `d2t`/`t2d`, optional `embed_tokens`) into a speculators-format folder.
///
/// Differences from the Python converter, where the spec records its bugs (convert.md §4.3):
/// every source tensor is carried over (extra decoder layers `layers.N.*`, `input_norm.weight`,
/// `fc_norm.N.weight`) or the conversion fails naming it; `fc` is sized from the source tensor
/// (any number of aux layers); `norm_before_residual` and the aux layer ids declared in the source
/// config are honoured; the result is checked against the tensor manifest our loader uses.
/// Sharded safetensors sources are read; PyTorch pickles (`pytorch_model.bin`) are declined.
public enum Eagle3Converter {
    /// Speculative tokens of the single greedy proposal method, as upstream.
    public static let speculativeTokens = 3

    /// Decides the output config and tensor list, checking every rule. Reads the source config and
    /// the (small) vocabulary maps, no other tensor data. `dtype` overrides the source `torch_dtype`.
    public static func plan(source: URL, verifier: VerifierSummary, options: Eagle3ConversionOptions = .init(),
                            dtype: TensorDataType? = nil) throws(ConversionError) -> Eagle3ConversionPlan {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source.path, isDirectory: &isDirectory) else {
            throw ConversionError.notFound(path: source.path, what: "checkpoint")
        }
        guard isDirectory.boolValue else {
            throw ConversionError.missingFile(path: source.path, problem: "the source must be a checkpoint folder")
        }
        let research = try Eagle3ResearchConfig(folder: source)
        let configFile = source.appendingPathComponent("config.json").path
        let weights = try openSourceWeights(source)
        let file = weights.description
        var notes: [String] = []

        // Speculators names, and which source tensor each comes from.
        var origins: [String: String] = [:]
        for name in weights.tensorNames {
            let target = TensorNames.speculatorsName(forEagle3Research: name)
            if let other = origins[target] {
                throw ConversionError.invalidTensor(file: file, tensor: name, problem: "and '\(other)' both become '\(target)'")
            }
            origins[target] = name
        }

        let (auxIds, targetHidden) = try auxLayerIds(research: research, options: options, weights: weights,
                                                     configFile: configFile, notes: &notes)
        let (vocab, draftVocab, mapping) = try vocabularies(research: research, weights: weights, verifier: verifier, notes: &notes)

        // Flags.
        var normBeforeResidual = research.normBeforeResidual ?? false
        if let requested = options.normBeforeResidual {
            if let declared = research.normBeforeResidual, declared != requested {
                notes.append("norm_before_residual \(requested) from the options replaces \(declared) from the source config")
            }
            normBeforeResidual = requested
        }
        var floatType = TensorDataType.f32
        if let dtype {
            floatType = dtype
        } else if let name = research.torchDtype {
            floatType = try FloatDType.parse(name, key: "torch_dtype", file: configFile)
        }

        if let verifierHidden = verifier.hiddenSize, verifierHidden != targetHidden {
            throw ConversionError.invalidKey(file: configFile, key: research.targetHiddenSize == nil ? "hidden_size" : "target_hidden_size",
                problem: "is \(targetHidden) but the verifier's hidden size is \(verifierHidden)")
        }
        guard let verifierLayers = verifier.layerCount else {
            throw ConversionError.invalidKey(file: verifier.nameOrPath, key: "num_hidden_layers", problem: "could not be found in the verifier config")
        }

        let config = try speculatorsConfig(research: research, configFile: configFile, verifier: verifier, vocab: vocab,
                                           draftVocab: draftVocab, auxIds: auxIds, normBeforeResidual: normBeforeResidual,
                                           options: options, floatType: floatType,
                                           recordLayerDType: research.torchDtype != nil || dtype != nil)
        do {
            _ = try config.resolvedAuxLayerIds(verifierLayerCount: verifierLayers)
        } catch {
            let problem = "does not fit the verifier (\(error.issues.map(\.message).joined(separator: "; "))); "
                + "pass the ids the draft was trained with in --algorithm-kwargs"
            throw Self.auxLayerIdsError(research: research, options: options, configFile: configFile, problem: problem)
        }
        let draftConfig: Eagle3DraftConfig
        do {
            draftConfig = try Eagle3DraftConfig(config, source: configFile, verifierLayerCount: verifierLayers)
        } catch {
            throw ConversionError.invalidKey(file: configFile, key: "(converted config)", problem: "cannot describe a draft our loader runs: \(error)")
        }

        let entries = try placeTensors(origins: origins, mapping: mapping, vocab: vocab, draftVocab: draftVocab,
                                       floatType: floatType, draftConfig: draftConfig, weights: weights)
        if !origins.keys.contains("embed_tokens.weight") {
            notes.append("the source has no embed_tokens.weight: loaders take the verifier's input embedding")
        }
        return Eagle3ConversionPlan(config: config, draftConfig: draftConfig, entries: entries, floatType: floatType,
                                    notes: notes, weights: weights)
    }

    /// A problem with the aux layer ids, blamed on where they came from: `--algorithm-kwargs`,
    /// the source config, or (neither giving them) the library's default.
    static func auxLayerIdsError(research: Eagle3ResearchConfig, options: Eagle3ConversionOptions, configFile: String,
                                 problem: String) -> ConversionError {
        let key = "eagle_aux_hidden_state_layer_ids"
        if options.auxLayerIds != nil { return .invalidOption(key: key, problem: problem) }
        if research.auxLayerIds != nil { return .invalidKey(file: configFile, key: key, problem: problem) }
        return .invalidOption(key: key, problem: "is given neither by \(configFile) nor by --algorithm-kwargs, and the default [2, L/2, L-3] " + problem)
    }

    /// The aux layer ids (options over the source config) checked against `fc.weight`, whose width
    /// decides how many verifier states the draft takes; and the verifier hidden size it assumes.
    static func auxLayerIds(research: Eagle3ResearchConfig, options: Eagle3ConversionOptions, weights: TensorSource,
                            configFile: String, notes: inout [String]) throws(ConversionError) -> ([Int]?, Int) {
        let file = weights.description
        let hidden = research.hiddenSize
        let targetHidden = research.targetHiddenSize ?? hidden
        guard let fc = weights.info("fc.weight") else {
            throw ConversionError.missingTensor(file: file, tensor: "fc.weight", problem: "every EAGLE-3 draft projects the verifier features with fc")
        }
        guard fc.shape.count == 2, fc.shape[0] == hidden, fc.shape[1] > 0, fc.shape[1] % targetHidden == 0 else {
            throw ConversionError.invalidTensor(file: file, tensor: "fc.weight",
                problem: "has shape \(fc.shape); expected [\(hidden), A·\(targetHidden)] for hidden_size \(hidden) and A aux layers")
        }
        let auxCount = fc.shape[1] / targetHidden
        var auxIds = research.auxLayerIds
        if let requested = options.auxLayerIds {
            if let declared = auxIds, declared != requested {
                notes.append("eagle_aux_hidden_state_layer_ids \(requested) from the options replaces \(declared) from the source config")
            }
            auxIds = requested
        }
        if let ids = auxIds, ids.count != auxCount {
            throw auxLayerIdsError(research: research, options: options, configFile: configFile,
                problem: "has \(ids.count) ids but fc.weight \(fc.shape) takes \(auxCount) verifier hidden states")
        }
        if auxIds == nil, auxCount != 3 {
            throw auxLayerIdsError(research: research, options: options, configFile: configFile,
                problem: "resolves to 3 layers while fc.weight \(fc.shape) takes \(auxCount); pass the ids in --algorithm-kwargs")
        }

        return (auxIds, targetHidden)
    }

    /// The target vocabulary (`t2d`'s length, else the verifier's), the draft vocabulary (the
    /// config's, else the tensors'), and the checked maps.
    static func vocabularies(research: Eagle3ResearchConfig, weights: TensorSource, verifier: VerifierSummary,
                             notes: inout [String]) throws(ConversionError) -> (Int, Int, VocabularyMapping?) {
        let file = weights.description
        let vocab: Int
        if let t2d = weights.info("t2d") {
            guard t2d.shape.count == 1 else {
                throw ConversionError.invalidTensor(file: file, tensor: "t2d", problem: "must be one-dimensional, not \(t2d.shape)")
            }
            vocab = t2d.shape[0]
            if let verifierVocab = verifier.vocabSize, verifierVocab != vocab {
                throw ConversionError.invalidTensor(file: file, tensor: "t2d",
                    problem: "covers \(vocab) target tokens but the verifier \(verifier.nameOrPath) has a vocabulary of \(verifierVocab)")
            }
        } else if let verifierVocab = verifier.vocabSize {
            vocab = verifierVocab
        } else {
            throw ConversionError.invalidKey(file: verifier.nameOrPath, key: "vocab_size", problem: "could not be found in the verifier config")
        }
        let headRows = weights.info("lm_head.weight")?.shape.first
        let draftVocab: Int
        if let declared = research.draftVocabSize {
            draftVocab = declared
        } else {
            draftVocab = headRows ?? weights.info("d2t")?.shape.first ?? vocab
            notes.append("draft_vocab_size \(draftVocab) was taken from the tensors (the source config does not set it)")
        }
        let mapping = try VocabularyMapping.read(from: weights, targetVocabSize: vocab, draftVocabSize: draftVocab)
        if let note = mapping?.note { notes.append(note) }
        if mapping == nil, draftVocab != vocab {
            throw ConversionError.missingTensor(file: file, tensor: "d2t",
                problem: "draft_vocab_size \(draftVocab) differs from the target vocabulary \(vocab), so the draft needs a d2t or t2d map")
        }

        return (vocab, draftVocab, mapping)
    }

    /// The output tensors, sorted: every source tensor under its speculators name plus the maps,
    /// checked against the manifest of the converted config. Errors name the source tensor.
    static func placeTensors(origins: [String: String], mapping: VocabularyMapping?, vocab: Int, draftVocab: Int,
                             floatType: TensorDataType, draftConfig: Eagle3DraftConfig,
                             weights: TensorSource) throws(ConversionError) -> [ConvertedTensor] {
        let file = weights.description
        var entries: [Eagle3ConversionPlan.Entry] = []
        let manifest = Set(draftConfig.tensorManifest.map(\.name))
        let unplaced = origins.keys.filter { !manifest.contains($0) }.compactMap { origins[$0] }.sorted()
        if !unplaced.isEmpty {
            throw ConversionError.unplacedTensors(file: file, names: unplaced,
                hint: draftConfig.unplacedTensorHint(unplaced.map(TensorNames.speculatorsName(forEagle3Research:))))
        }
        for (target, name) in origins where target != "d2t" && target != "t2d" {
            guard let info = weights.info(name) else { continue }
            guard info.dataType.isFloatConvertible else {
                throw ConversionError.invalidTensor(file: file, tensor: name, problem: "is \(info.dataType.rawValue), expected a float type")
            }
            entries.append(.init(name: target, shape: info.shape, origin: .floats(source: name)))
        }
        if let mapping {
            entries.append(.init(name: "d2t", shape: [draftVocab], origin: mapping.d2t))
            entries.append(.init(name: "t2d", shape: [vocab], origin: mapping.t2d))
        }
        entries.sort { $0.name < $1.name }
        do {
            try SpeculatorModelRegistry.checkTensors(
                entries.map { TensorInfo(name: $0.name, dataType: $0.name == "d2t" ? .i64 : $0.name == "t2d" ? .bool : floatType, shape: $0.shape) },
                against: draftConfig, source: file)
        } catch let SpeculatorModelError.missingTensor(_, name, why) {
            throw ConversionError.missingTensor(file: file, tensor: origins.first { $0.key == name }?.value ?? name,
                                                problem: "the converted model needs it because \(why)")
        } catch let CheckpointError.shapeMismatch(_, tensor, expected, actual) {
            throw ConversionError.invalidTensor(file: file, tensor: origins[tensor] ?? tensor,
                                                problem: "has shape \(actual) but the converted model needs \(expected)")
        } catch {
            throw ConversionError.invalidTensor(file: file, tensor: "(checkpoint)", problem: "\(error)")
        }
        return entries
    }

    /// The source weights: `model.safetensors`, or a sharded safetensors index. A PyTorch pickle is
    /// declined with a message saying so.
    static func openSourceWeights(_ folder: URL) throws(ConversionError) -> TensorSource {
        let manager = FileManager.default
        let single = folder.appendingPathComponent("model.safetensors")
        let index = folder.appendingPathComponent(ShardedSafetensors.indexFileName)
        do {
            if manager.fileExists(atPath: single.path) { return try SafetensorsFile(url: single) }
            if manager.fileExists(atPath: index.path) { return try ShardedSafetensors(indexURL: index) }
        } catch {
            throw ConversionError.missingFile(path: folder.path, problem: "cannot read the weights: \(error)")
        }
        if manager.fileExists(atPath: folder.appendingPathComponent("pytorch_model.bin").path) {
            throw ConversionError.missingFile(path: folder.path,
                problem: "pytorch_model.bin is a PyTorch pickle, which this converter does not read; save the weights as model.safetensors first")
        }
        throw ConversionError.missingFile(path: folder.path, problem: "no weights found (model.safetensors or \(ShardedSafetensors.indexFileName))")
    }

    /// The speculators config upstream's converter would build, with this converter's flag rules.
    static func speculatorsConfig(research: Eagle3ResearchConfig, configFile: String, verifier: VerifierSummary, vocab: Int,
                                  draftVocab: Int, auxIds: [Int]?, normBeforeResidual: Bool, options: Eagle3ConversionOptions,
                                  floatType: TensorDataType, recordLayerDType: Bool) throws(ConversionError) -> Eagle3SpeculatorConfig {
        var rope: JSONObject = ["rope_theta": research.ropeTheta]
        if let scaling = research.ropeScaling {
            rope["rope_type"] = scaling["rope_type"] ?? scaling["type"] ?? "default"
            for (key, value) in scaling.entries where key != "rope_type" && key != "type" { rope[key] = value }
        } else {
            rope["rope_type"] = "default"
        }
        var settings: JSONObject = [
            "vocab_size": .int(vocab), "hidden_size": .int(research.hiddenSize),
            "intermediate_size": .int(research.intermediateSize), "num_hidden_layers": .int(research.numHiddenLayers),
            "num_attention_heads": .int(research.numAttentionHeads), "num_key_value_heads": .int(research.numKeyValueHeads),
            "hidden_act": .string(research.hiddenAct),
            "max_position_embeddings": .int(max(research.maxPositionEmbeddings, verifier.maxPositionEmbeddings ?? 4096)),
            "initializer_range": research.initializerRange, "rms_norm_eps": research.rmsNormEps, "use_cache": true,
            "attention_bias": .bool(research.attentionBias), "mlp_bias": .bool(research.mlpBias),
            "tie_word_embeddings": false, "rope_parameters": .object(rope),
        ]
        if let headDim = research.headDim { settings["head_dim"] = .int(headDim) }
        // Upstream records the dtype in the layer config only when the source declares one.
        if recordLayerDType { settings["dtype"] = .string(FloatDType.torchName(floatType)) }
        var config = Eagle3SpeculatorConfig()
        do {
            config.transformerLayerConfig = try TransformerLayerConfig(modelType: "llama", settings: settings)
        } catch {
            throw ConversionError.invalidKey(file: configFile, key: "(transformer_layer_config)", problem: "is not a valid LlamaConfig: \(error)")
        }
        config.draftVocabSize = draftVocab
        config.normBeforeResidual = normBeforeResidual
        config.normBeforeFc = options.normBeforeFC || research.normBeforeFC
        config.fcNorm = options.fcNorm || research.fcNorm
        config.normOutput = options.normOutput || research.normOutput
        config.targetHiddenSize = research.targetHiddenSize
        config.eagleAuxHiddenStateLayerIds = auxIds
        ConvertedConfig.finish(&config, algorithm: Eagle3SpeculatorConfig.speculatorsModelType, tokens: speculativeTokens,
                               verifier: VerifierConfig(nameOrPath: verifier.nameOrPath, architectures: verifier.architectures),
                               floatType: floatType)
        return config
    }
}
