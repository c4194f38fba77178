/// `dspark`: DFlash plus a low-rank Markov logit bias over the previous token and a per-position
/// acceptance-confidence head.
public struct DSparkSpeculatorConfig: DFlashFamilyConfig, Equatable {
    public static let speculatorsModelType = "dspark"
    public static let markovHeadTypes = ["vanilla", "gated", "rnn"]

    public var dflash: DFlashSpeculatorConfig
    /// Rank of the Markov bias factorisation; 0 disables the Markov head.
    public var markovRank = 256
    public var markovHeadType = "vanilla"
    public var enableConfidenceHead = true
    public var confidenceHeadWithMarkov = true

    public init() {
        dflash = Self.dflashBase(architectures: ["DSparkSpeculator"])
        dflash.sampleFromAnchor = true
    }

    public static let schemaTitle = "DSparkSpeculatorConfig"
    public static let schemaDescription =
        "DSpark: DFlash with a Markov logit-bias head over the previous token and a per-position confidence head."

    public static var typeFields: [ConfigField<Self>] {
        dflashFields + [
            .integer("markov_rank", \.markovRank,
                doc: "Low-rank dimension of the Markov logit-bias factorisation; 0 disables the sequential head."),
            .choice("markov_head_type", \.markovHeadType, markovHeadTypes,
                doc: "Sequential head variant: vanilla (first-order Markov bias), gated (hidden-gated bias) or rnn (recurrent state over the block)."),
            .boolean("enable_confidence_head", \.enableConfidenceHead,
                doc: "Attach the per-position acceptance-probability head."),
            .boolean("confidence_head_with_markov", \.confidenceHeadWithMarkov,
                doc: "Feed the Markov previous-token embedding to the confidence head (needs markov_rank > 0 at model build)."),
        ]
    }
}
