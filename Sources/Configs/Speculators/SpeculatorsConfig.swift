/// The `speculators_config` block: which algorithm, which proposal methods (and the default one),
/// and which verifier.
public struct SpeculatorsConfig: ConfigModel, Equatable {
    /// Free-form algorithm name; writers set it to the `speculators_model_type`.
    public var algorithm = ""
    public var proposalMethods: [any TokenProposalConfig] = []
    /// The `proposal_type` of the method to use by default; must name one of `proposalMethods`.
    public var defaultProposalMethod = ""
    public var verifier = VerifierConfig()

    public init() {}

    public init(algorithm: String, proposalMethods: [any TokenProposalConfig], defaultProposalMethod: String, verifier: VerifierConfig) {
        self.algorithm = algorithm
        self.proposalMethods = proposalMethods
        self.defaultProposalMethod = defaultProposalMethod
        self.verifier = verifier
    }

    /// The method vLLM uses: the first whose `proposal_type` is `defaultProposalMethod`, else the
    /// first method.
    public var defaultProposal: (any TokenProposalConfig)? {
        proposalMethods.first { $0.proposalType == defaultProposalMethod } ?? proposalMethods.first
    }

    /// Draft tokens per step of the default method (vLLM's `num_speculative_tokens`).
    public var speculativeTokens: Int? { defaultProposal?.speculativeTokens }

    public static let schemaTitle = "SpeculatorsConfig"
    public static let schemaDescription =
        "The speculative decoding algorithm, its token proposal methods and the verifier it was built for."

    public static var fields: [ConfigField<Self>] {
        [
            .string("algorithm", \.algorithm, required: true,
                doc: "Name of the algorithm the speculator implements. Free-form; writers use the speculators_model_type."),
            .proposalList("proposal_methods", \.proposalMethods, required: true,
                doc: "Token proposal methods the speculator supports, each chosen by its proposal_type."),
            .string("default_proposal_method", \.defaultProposalMethod, required: true,
                doc: "The proposal_type of the method used by default; must match one of proposal_methods."),
            .model("verifier", \.verifier, required: true,
                doc: "The verifier model the speculator was created for."),
        ]
    }

    public static var rules: [ModelRule<Self>] {
        [
            ModelRule(dependsOn: ["proposal_methods", "default_proposal_method"],
                      summary: "default_proposal_method must be the proposal_type of one of proposal_methods.") { config, path, issues in
                let available = config.proposalMethods.map(\.proposalType)
                guard !available.contains(config.defaultProposalMethod) else { return }
                let list = "[" + available.map { "'\($0)'" }.joined(separator: ", ") + "]"
                let reason = available.isEmpty
                    ? "proposal_methods is empty, so no default can match"
                    : "available proposal types: \(list)"
                issues.add(.error(.defaultProposalMethod, at: path.appending("default_proposal_method"),
                    value: .string(config.defaultProposalMethod),
                    "default_proposal_method '\(config.defaultProposalMethod)' must match the proposal_type of one of the configured proposal_methods; \(reason)"))
            },
        ]
    }

    public static func == (lhs: SpeculatorsConfig, rhs: SpeculatorsConfig) -> Bool {
        lhs.encodeFields() == rhs.encodeFields()
    }
}
