/// `greedy`: the speculator proposes one chain of `speculative_tokens` draft tokens and the
/// verifier accepts its longest correct prefix.
///
/// `verifier_accept_k` and `accept_tolerance` describe a relaxed (lossy) acceptance test. Neither
/// the Python library nor vLLM implements them; they are stored and validated only.
public struct GreedyTokenProposalConfig: TokenProposalConfig, Equatable {
    public static let proposalType = "greedy"

    /// Python's class default is 5, but every writer sets the value explicitly.
    public var speculativeTokens = 5
    public var verifierAcceptK = 1
    public var acceptTolerance = 0.0

    public init() {}

    public init(speculativeTokens: Int, verifierAcceptK: Int = 1, acceptTolerance: Double = 0.0) {
        self.speculativeTokens = speculativeTokens
        self.verifierAcceptK = verifierAcceptK
        self.acceptTolerance = acceptTolerance
    }

    public static let schemaTitle = "GreedyTokenProposalConfig"
    public static let schemaDescription =
        "A single chain of draft tokens is proposed and verified; the longest accepted prefix is kept."

    /// Beyond this log-likelihood gap the relaxed acceptance test accepts almost anything.
    public static let largeAcceptTolerance = 5.0

    public static var fields: [ConfigField<Self>] {
        [
            .constant("proposal_type", proposalType, doc: "Discriminator of the proposal method."),
            .integer("speculative_tokens", \.speculativeTokens, minimum: 1,
                doc: "Draft tokens proposed per verification step, which is also the most that can be accepted per step (the verifier adds one bonus token). vLLM reads it as num_speculative_tokens."),
            .integer("verifier_accept_k", \.verifierAcceptK, minimum: 1,
                doc: "A draft token is acceptable only if it is among the verifier's top-k tokens; 1 means it must equal the verifier's argmax."),
            .number("accept_tolerance", \.acceptTolerance, minimum: 0,
                doc: "With verifier_accept_k > 1: the largest allowed gap, in natural-log likelihood, between the verifier's top token and an accepted draft token."),
        ]
    }

    public static var rules: [ModelRule<Self>] {
        [
            ModelRule(dependsOn: ["accept_tolerance", "verifier_accept_k"],
                      summary: "accept_tolerance has no effect when verifier_accept_k is 1.") { config, path, issues in
                if config.verifierAcceptK == 1 && config.acceptTolerance > 0 {
                    issues.add(.warning(.acceptTolerance, at: path.appending("accept_tolerance"), value: .double(config.acceptTolerance),
                        "accept_tolerance \(PythonFloat.repr(config.acceptTolerance)) has no effect because verifier_accept_k is 1 (only the verifier's top token is accepted)"))
                }
            },
            ModelRule(dependsOn: ["accept_tolerance"],
                      summary: "accept_tolerance above 5 accepts nearly any draft token.") { config, path, issues in
                if config.acceptTolerance > largeAcceptTolerance {
                    issues.add(.warning(.acceptTolerance, at: path.appending("accept_tolerance"), value: .double(config.acceptTolerance),
                        "accept_tolerance \(PythonFloat.repr(config.acceptTolerance)) is a log-likelihood gap larger than \(PythonFloat.repr(largeAcceptTolerance)); it would accept nearly any draft token (the library only requires >= 0)"))
                }
            },
        ]
    }
}
