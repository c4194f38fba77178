/// `mtp`: fine-tuning of a verifier's native multi-token-prediction head. The draft shares the
/// verifier's vocabulary, embeddings and LM head.
public struct MTPSpeculatorConfig: SpeculatorTypeConfig, Equatable {
    public static let speculatorsModelType = "mtp"
    public static let defaultArchitectures = ["MTPDraftModel"]

    public var base = SpeculatorModelConfig(speculatorsModelType: speculatorsModelType, architectures: defaultArchitectures)
    /// The verifier's own text config (a Qwen2 config when `model_type` is missing).
    public var transformerLayerConfig = TransformerLayerConfig.classDefault("qwen2")
    /// MTP heads in the checkpoint; only 1 is supported.
    public var numNextnPredictLayers = 1

    public init() {}

    public var hiddenSize: Int { transformerLayerConfig.hiddenSize }
    public var vocabSize: Int { transformerLayerConfig.vocabSize }
    /// Always the verifier's vocabulary: MTP has no reduced vocabulary.
    public var draftVocabSize: Int { vocabSize }

    public static let schemaTitle = "MTPSpeculatorConfig"
    public static let schemaDescription =
        "Native multi-token-prediction head of the verifier, fine-tuned; shares the verifier's vocabulary."

    public static let readOnlyKeys = SpeculatorModelConfig.readOnlyKeys + ["hidden_size", "vocab_size", "draft_vocab_size", "num_speculative_steps"]

    public static var typeFields: [ConfigField<Self>] {
        [
            .layerConfig("transformer_layer_config", \.transformerLayerConfig, defaultModelType: "qwen2",
                doc: "The verifier's text config; all MTP layer dimensions derive from it."),
            .integer("num_nextn_predict_layers", \.numNextnPredictLayers,
                doc: "Number of MTP prediction heads in the checkpoint; vLLM reads it. Only 1 is supported."),
        ]
    }

    public static var typeRules: [ModelRule<Self>] {
        [
            ModelRule(dependsOn: ["num_nextn_predict_layers"], summary: "num_nextn_predict_layers must be 1.") { config, path, issues in
                guard config.numNextnPredictLayers != 1 else { return }
                issues.add(.error(.mtpLayerCount, at: path.appending("num_nextn_predict_layers"), value: .int(config.numNextnPredictLayers),
                    "MTP currently supports 1 layer, got \(config.numNextnPredictLayers)"))
            },
        ]
    }
}
