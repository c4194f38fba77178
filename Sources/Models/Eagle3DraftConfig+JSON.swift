import Configs
import Foundation

extension Eagle3DraftConfig {
    /// The numbers the draft model needs, from the typed speculators config.
    ///
    /// `verifierLayerCount` resolves a null `eagle_aux_hidden_state_layer_ids` to the library
    /// default `[2, N/2, N-3]` and checks the ids as the library does at load time.
    public init(_ config: Eagle3SpeculatorConfig, source: String, verifierLayerCount: Int) throws {
        let layer = config.transformerLayerConfig
        guard let architecture = ModelConfig.Architecture(rawValue: layer.modelType), [.llama, .qwen3].contains(architecture) else {
            throw ModelConfigError.invalid(source: source, key: "transformer_layer_config.model_type",
                                           problem: "'\(layer.modelType)' is not supported for EAGLE-3 draft layers (llama, qwen3)")
        }
        guard layer.hiddenAct == "silu" else {
            throw ModelConfigError.invalid(source: source, key: "transformer_layer_config.hidden_act",
                                           problem: "'\(layer.hiddenAct)' is not supported (only silu)")
        }
        let rope = try RopeScaling(layer.rope, source: source)
        let window = layer.layerTypes?.contains("sliding_attention") == true || layer.useSlidingWindow ? layer.slidingWindow : nil
        let shape = ModelConfig(
            architecture: architecture, vocabSize: layer.vocabSize, hiddenSize: layer.hiddenSize,
            intermediateSize: layer.intermediateSize, layerCount: layer.numHiddenLayers,
            headCount: layer.numAttentionHeads, kvHeadCount: layer.numKeyValueHeads, headDim: layer.headDim,
            rmsNormEps: Float(layer.rmsNormEps), ropeTheta: Float(layer.rope.theta), ropeScaling: rope,
            maxPositions: max(layer.maxPositionEmbeddings, 1), tieWordEmbeddings: false,
            qkvBias: layer.attentionBias, outputBias: layer.attentionBias, mlpBias: layer.mlpBias,
            qkNorm: architecture == .qwen3, slidingWindow: window)
        try shape.validate(source: source + " (transformer_layer_config)")
        if layer.mlpBias {
            throw ModelConfigError.invalid(source: source, key: "transformer_layer_config.mlp_bias", problem: "true is not supported")
        }
        let aux: [Int]
        do { aux = try config.resolvedAuxLayerIds(verifierLayerCount: verifierLayerCount) } catch {
            throw ModelConfigError.invalid(source: source, key: "eagle_aux_hidden_state_layer_ids", problem: error.description)
        }
        self.init(layer: shape, draftVocabSize: config.draftVocabSize, auxiliaryLayerIds: aux,
                  targetHiddenSize: config.targetHiddenSize, normBeforeResidual: config.normBeforeResidual,
                  normBeforeFC: config.normBeforeFc, fcNorm: config.fcNorm, normOutput: config.normOutput,
                  speculativeTokens: config.base.speculatorsConfig?.speculativeTokens ?? 3)
    }

    /// Reads a speculator folder's `config.json` (any registered type must be eagle3 here).
    public init(folder: URL, verifierLayerCount: Int) throws {
        let config: Eagle3SpeculatorConfig
        do { config = try Eagle3SpeculatorConfig.load(from: folder.path) } catch {
            throw ModelConfigError.unreadable(source: folder.path, problem: error.description)
        }
        try self.init(config, source: folder.appendingPathComponent("config.json").path, verifierLayerCount: verifierLayerCount)
    }
}

extension RopeScaling {
    init(_ rope: RopeParameters, source: String) throws {
        func need(_ value: Double?, _ key: String) throws -> Float {
            guard let value else { throw ModelConfigError.missing(source: source, key: "transformer_layer_config.rope_parameters.\(key)") }
            return Float(value)
        }
        switch rope.type {
        case "default": self = .none
        case "linear": self = .linear(factor: try need(rope.factor, "factor"))
        case "llama3":
            self = .llama3(factor: try need(rope.factor, "factor"), lowFrequencyFactor: try need(rope.lowFreqFactor, "low_freq_factor"),
                           highFrequencyFactor: try need(rope.highFreqFactor, "high_freq_factor"),
                           originalMaxPositions: Int(try need(rope.originalMaxPositionEmbeddings.map(Double.init), "original_max_position_embeddings")))
        default:
            throw ModelConfigError.invalid(source: source, key: "transformer_layer_config.rope_parameters.rope_type",
                                           problem: "'\(rope.type)' is not supported (default, linear, llama3)")
        }
    }
}
