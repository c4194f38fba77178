/// `peagle`: P-EAGLE, EAGLE-3 drafting all K tokens in one forward pass. Positions after the
/// first get `mask_token_id` and a learned stand-in hidden state. Every EAGLE-3 field applies.
public struct PEagleSpeculatorConfig: SpeculatorTypeConfig, Equatable {
    public static let speculatorsModelType = "peagle"
    public static let defaultArchitectures = ["PEagleSpeculator"]

    /// The EAGLE-3 fields (P-EAGLE is a subclass of the EAGLE-3 config in the library).
    public var eagle3: Eagle3SpeculatorConfig
    /// Token fed at the not-yet-known positions of the parallel group (vLLM requires it).
    public var maskTokenId: Int?

    public init() {
        eagle3 = Eagle3SpeculatorConfig()
        eagle3.base = SpeculatorModelConfig(speculatorsModelType: Self.speculatorsModelType, architectures: Self.defaultArchitectures)
        // P-EAGLE trains its embeddings, so its default differs from EAGLE-3's.
        eagle3.embedRequiresGrad = true
    }

    public var base: SpeculatorModelConfig {
        get { eagle3.base }
        set { eagle3.base = newValue }
    }

    public var auxLayerIdsField: (key: String, ids: [Int]?)? { eagle3.auxLayerIdsField }

    public static let schemaTitle = "PEagleSpeculatorConfig"
    public static let schemaDescription =
        "P-EAGLE (parallel EAGLE): an EAGLE-3 draft that proposes all draft tokens in a single forward pass."

    public static var typeFields: [ConfigField<Self>] {
        Eagle3SpeculatorConfig.typeFields.map { $0.lifted(\Self.eagle3) } + [
            .optionalInteger("mask_token_id", \.maskTokenId,
                doc: "Token id fed at positions of the parallel group whose token is not yet known."),
        ]
    }

    public static var typeRules: [ModelRule<Self>] {
        Eagle3SpeculatorConfig.typeRules.map { $0.lifted(\Self.eagle3) }
    }
}
