/// `xpress` (speculators 0.9.0): DFlash plus a causal low-rank "refiner" head resolved at
/// inference with a few parallel Jacobi passes.
public struct XPressSpeculatorConfig: DFlashFamilyConfig, Equatable {
    public static let speculatorsModelType = "xpress"

    public var dflash: DFlashSpeculatorConfig
    public var xpressRank = 256
    public var xpressMlpRatio = 2
    /// Inference-only knob, stored so converted checkpoints carry the validated default.
    public var numJacobiPasses = 6

    public init() {
        dflash = Self.dflashBase(architectures: ["XPressSpeculator"])
    }

    public static let schemaTitle = "XPressSpeculatorConfig"
    public static let schemaDescription =
        "XPress: DFlash with a causal low-rank refiner head resolved by parallel Jacobi passes."

    public static var typeFields: [ConfigField<Self>] {
        dflashFields + [
            .integer("xpress_rank", \.xpressRank, doc: "Low-rank dimension r of the refiner."),
            .integer("xpress_mlp_ratio", \.xpressMlpRatio, doc: "Refiner MLP expansion: hidden = r * ratio (SwiGLU)."),
            .integer("num_jacobi_passes", \.numJacobiPasses, doc: "Parallel refine passes K at inference."),
        ]
    }
}
