/// The verifier (target) model a speculator was trained for (`speculators_config.verifier`).
public struct VerifierConfig: ConfigModel, Equatable {
    /// Hugging Face id or local path of the verifier. `nil` (JSON null) disables loading the
    /// verifier's weights and resolving default aux layer ids from it.
    public var nameOrPath: String?
    /// The verifier's own `architectures`, e.g. `["LlamaForCausalLM"]`. Informational only.
    public var architectures: [String] = []

    public init() {}

    public init(nameOrPath: String?, architectures: [String]) {
        self.nameOrPath = nameOrPath
        self.architectures = architectures
    }

    public static let schemaTitle = "VerifierConfig"
    public static let schemaDescription =
        "The verifier model the speculator was created for: where to load it from and its architectures."

    public static var fields: [ConfigField<Self>] {
        [
            .optionalString("name_or_path", \.nameOrPath, required: true,
                doc: "Hugging Face id or local path of the verifier. The key is required; null disables loading verifier weights."),
            .stringList("architectures", \.architectures, required: true,
                doc: "The verifier's architectures from its config.json, e.g. [\"LlamaForCausalLM\"]. Informational; never enforced."),
        ]
    }
}
