/// `dflash2` (speculators 0.9.0): DFlash with grouped dynamic causal convolutions in each draft
/// layer and a low-rank candidate selector that re-ranks the top-k candidates.
public struct DFlash2SpeculatorConfig: DFlashFamilyConfig, Equatable {
    public static let speculatorsModelType = "dflash2"

    public var dflash: DFlashSpeculatorConfig
    public var convKernelSize = 2
    public var convGroupSize = 16
    public var selectorRank = 256
    public var selectorTopK = 16

    public init() {
        dflash = Self.dflashBase(architectures: ["DFlash2DraftModel"])
        dflash.slidingWindowNonCausal = true
    }

    public static let schemaTitle = "DFlash2SpeculatorConfig"
    public static let schemaDescription =
        "DFlash2: DFlash with local dynamic convolutions and a candidate selector."

    public static var typeFields: [ConfigField<Self>] {
        dflashFields + [
            .integer("conv_kernel_size", \.convKernelSize, minimum: 1, doc: "Causal taps in each local dynamic convolution."),
            .integer("conv_group_size", \.convGroupSize, minimum: 1, doc: "Hidden channels sharing each dynamic kernel."),
            .integer("selector_rank", \.selectorRank, minimum: 1, doc: "Rank of the candidate selector factorisation."),
            .integer("selector_top_k", \.selectorTopK, minimum: 1, doc: "Candidates re-ranked during inference."),
        ]
    }
}
