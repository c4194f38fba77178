/// `eagle3`: an EAGLE-3 draft head. Hidden states from several verifier layers are concatenated,
/// projected by `fc`, combined with the token embedding in a modified first decoder layer, and
/// decoded by a (possibly reduced-vocabulary) LM head, one draft token per step.
public struct Eagle3SpeculatorConfig: SpeculatorTypeConfig, Equatable {
    public static let speculatorsModelType = "eagle3"
    public static let defaultArchitectures = ["Eagle3Speculator"]

    public var base = SpeculatorModelConfig(speculatorsModelType: speculatorsModelType, architectures: defaultArchitectures)
    /// Draft decoder-layer hyper-parameters; its `vocabSize` is the verifier's vocabulary.
    public var transformerLayerConfig = TransformerLayerConfig.classDefault("qwen3")
    /// Rows of the draft LM head. When it differs from the target vocabulary the checkpoint has
    /// `d2t`/`t2d` maps.
    public var draftVocabSize = 32000
    /// Draft layer 0 takes its residual from the normalised hidden input.
    public var normBeforeResidual = false
    /// The verifier's hidden size if it differs from the draft's (vLLM sizes `fc` from it).
    public var targetHiddenSize: Int?
    /// Verifier layer ids whose hidden states feed the draft; nil means `[2, N/2, N-3]` for a
    /// verifier with N layers (see `resolvedAuxLayerIds`).
    public var eagleAuxHiddenStateLayerIds: [Int]?
    /// One RMSNorm over the concatenated aux vector before `fc`.
    public var normBeforeFc = false
    /// One RMSNorm per aux chunk before `fc` (EAGLE 3.1). Excludes `normBeforeFc`.
    public var fcNorm = false
    /// Feed the post-final-norm hidden state to the next drafting step (EAGLE 3.1).
    public var normOutput = false
    /// Training only: whether the token embedding is trainable.
    public var embedRequiresGrad = false

    public init() {}

    /// The verifier's vocabulary size (`transformer_layer_config.vocab_size`).
    public var targetVocabSize: Int { transformerLayerConfig.vocabSize }

    /// The aux layer ids for a verifier with `verifierLayerCount` layers: the configured ids, or
    /// `[2, N/2, N-3]` when unset. Throws when they are empty, out of `[0, N]` or repeated, as
    /// the library does at load time.
    public func resolvedAuxLayerIds(verifierLayerCount: Int) throws(ConfigError) -> [Int] {
        try AuxLayerIds.resolve(eagleAuxHiddenStateLayerIds, key: "eagle_aux_hidden_state_layer_ids", verifierLayerCount: verifierLayerCount)
    }

    public var auxLayerIdsField: (key: String, ids: [Int]?)? { ("eagle_aux_hidden_state_layer_ids", eagleAuxHiddenStateLayerIds) }

    public static let schemaTitle = "Eagle3SpeculatorConfig"
    public static let schemaDescription =
        "EAGLE-3 draft head: verifier hidden states from several layers, projected and combined with the token embedding, decoded one draft token per step."

    public static var typeFields: [ConfigField<Self>] {
        [
            .layerConfig("transformer_layer_config", \.transformerLayerConfig, defaultModelType: "qwen3",
                doc: "Decoder-layer hyper-parameters of the draft (a transformers LlamaConfig or Qwen3Config). vocab_size is the verifier's vocabulary; num_hidden_layers the number of draft layers."),
            .integer("draft_vocab_size", \.draftVocabSize,
                doc: "Rows of the draft LM head. If it differs from transformer_layer_config.vocab_size the checkpoint carries d2t/t2d vocabulary maps."),
            .boolean("norm_before_residual", \.normBeforeResidual,
                doc: "In draft layer 0, take the residual from the normalised hidden input instead of the raw one."),
            .optionalInteger("target_hidden_size", \.targetHiddenSize,
                doc: "Hidden size of the verifier if different from the draft. vLLM sizes fc from it when non-null."),
            .optionalIntegerList("eagle_aux_hidden_state_layer_ids", \.eagleAuxHiddenStateLayerIds,
                doc: "Verifier layer ids whose hidden states are concatenated as draft input (id k = residual stream entering layer k). null resolves to [2, N//2, N-3] at load."),
            .boolean("norm_before_fc", \.normBeforeFc,
                doc: "Apply one RMSNorm to the concatenated auxiliary hidden states before the fc projection."),
            .boolean("fc_norm", \.fcNorm,
                doc: "Apply one RMSNorm per auxiliary hidden state before concatenation and fc (EAGLE 3.1). Mutually exclusive with norm_before_fc."),
            .boolean("norm_output", \.normOutput,
                doc: "Feed the post-norm hidden state back to the next drafting step (EAGLE 3.1)."),
            .boolean("embed_requires_grad", \.embedRequiresGrad,
                doc: "Training only: whether the token embedding is trainable."),
        ]
    }

    public static var typeRules: [ModelRule<Self>] {
        [
            ModelRule(dependsOn: ["norm_before_fc", "fc_norm"],
                      summary: "norm_before_fc and fc_norm are mutually exclusive.") { config, path, issues in
                if config.normBeforeFc && config.fcNorm {
                    issues.add(.error(.normFlagsExclusive, at: path.appending("fc_norm"), value: .bool(true),
                        "norm_before_fc and fc_norm are mutually exclusive: enable one or the other, not both"))
                }
            },
            DraftChecks.draftVocabSizeRule(\Self.draftVocabSize, layer: \Self.transformerLayerConfig),
            DraftChecks.auxLayerIdsRule(\Self.eagleAuxHiddenStateLayerIds, key: "eagle_aux_hidden_state_layer_ids"),
            ModelRule(dependsOn: ["transformer_layer_config"],
                      summary: "An EAGLE-3 draft can only be built with llama or qwen3 layers.") { config, path, issues in
                let modelType = config.transformerLayerConfig.modelType
                guard !["llama", "qwen3"].contains(modelType) else { return }
                issues.add(.warning(.layerModelTypeUnsupported, at: path.appending("transformer_layer_config").appending("model_type"), value: .string(modelType),
                    "model_type '\(modelType)' parses, but an EAGLE-3 draft can only be built with llama or qwen3 layers (the library and vLLM fail at model build)"))
            },
        ]
    }
}
