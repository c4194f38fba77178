/// `dflash`: block-diffusion drafting. A block of `block_size` slots (the anchor token, then mask
/// tokens) attends to a projected context of verifier hidden states and produces all draft
/// tokens in one forward pass.
public struct DFlashSpeculatorConfig: SpeculatorTypeConfig, Equatable {
    public static let speculatorsModelType = "dflash"
    public static let defaultArchitectures = ["DFlashSpeculator"]

    public var base = SpeculatorModelConfig(speculatorsModelType: speculatorsModelType, architectures: defaultArchitectures)
    /// Draft layers are always Qwen3-style.
    public var transformerLayerConfig = TransformerLayerConfig.classDefault("qwen3")
    public var draftVocabSize = 32000
    /// Slots predicted per forward pass (anchor included).
    public var blockSize = 8
    public var targetHiddenSize: Int?
    /// Note the key differs from EAGLE-3's; vLLM maps id i to its layer i-1.
    public var auxHiddenStateLayerIds: [Int]?
    public var maskTokenId: Int?
    /// Bidirectional masking inside sliding-window draft blocks.
    public var slidingWindowNonCausal = false
    /// false: slot 0 is the bonus token (block_size-1 draft tokens); true: every slot predicts.
    public var sampleFromAnchor = false

    public init() {}

    public var targetVocabSize: Int { transformerLayerConfig.vocabSize }
    public var auxLayerIdsField: (key: String, ids: [Int]?)? { ("aux_hidden_state_layer_ids", auxHiddenStateLayerIds) }

    public static let schemaTitle = "DFlashSpeculatorConfig"
    public static let schemaDescription =
        "DFlash block-diffusion drafter: a block of mask tokens attends to projected verifier hidden states and yields all draft tokens in one pass."

    public static var typeFields: [ConfigField<Self>] {
        [
            .layerConfig("transformer_layer_config", \.transformerLayerConfig, defaultModelType: "qwen3",
                doc: "Decoder-layer hyper-parameters of the draft (Qwen3-style layers)."),
            .integer("draft_vocab_size", \.draftVocabSize, doc: "Rows of the draft LM head."),
            .integer("block_size", \.blockSize, doc: "Size of the draft block predicted with one forward pass."),
            .optionalInteger("target_hidden_size", \.targetHiddenSize,
                doc: "Hidden size of the verifier if different from the draft."),
            .optionalIntegerList("aux_hidden_state_layer_ids", \.auxHiddenStateLayerIds,
                doc: "Verifier layer ids whose hidden states form the draft's context (vLLM uses id - 1)."),
            .optionalInteger("mask_token_id", \.maskTokenId, doc: "Token id of the mask slots."),
            .boolean("sliding_window_non_causal", \.slidingWindowNonCausal,
                doc: "Bidirectional masking within draft blocks for sliding-window layers; full-attention layers are always bidirectional."),
            .boolean("sample_from_anchor", \.sampleFromAnchor,
                doc: "false: the anchor is the bonus token and only mask slots predict (block_size-1 tokens); true: every slot predicts (block_size tokens)."),
        ]
    }

    public static var typeRules: [ModelRule<Self>] {
        [
            DraftChecks.draftVocabSizeRule(\Self.draftVocabSize, layer: \Self.transformerLayerConfig),
            DraftChecks.auxLayerIdsRule(\Self.auxHiddenStateLayerIds, key: "aux_hidden_state_layer_ids"),
        ]
    }
}

/// A type built on the DFlash fields (`dspark`, `dflash2`, `xpress`): it stores a
/// `DFlashSpeculatorConfig` and shares its fields and rules.
protocol DFlashFamilyConfig: SpeculatorTypeConfig {
    var dflash: DFlashSpeculatorConfig { get set }
}

extension DFlashFamilyConfig {
    public var base: SpeculatorModelConfig {
        get { dflash.base }
        set { dflash.base = newValue }
    }

    public var auxLayerIdsField: (key: String, ids: [Int]?)? { dflash.auxLayerIdsField }

    static var dflashFields: [ConfigField<Self>] { DFlashSpeculatorConfig.typeFields.map { $0.lifted(\Self.dflash) } }

    public static var typeRules: [ModelRule<Self>] {
        DFlashSpeculatorConfig.typeRules.map { $0.lifted(\Self.dflash) }
    }

    /// A DFlash config carrying this type's discriminator and default architectures.
    static func dflashBase(architectures: [String]) -> DFlashSpeculatorConfig {
        var dflash = DFlashSpeculatorConfig()
        dflash.base = SpeculatorModelConfig(speculatorsModelType: speculatorsModelType, architectures: architectures)
        return dflash
    }
}
