// Command-line flags win over the file: the serve command fills an `Overrides` from its flags
// (nil = flag not given) and applies it to the loaded configuration.

extension ServerConfiguration {
    /// Values given on the command line; nil leaves the file's value.
    public struct Overrides: Sendable, Equatable {
        public var host: String?
        public var port: Int?
        public var model: String?
        public var servedModelName: String?
        /// `.some(nil)` switches speculation off (`--no-speculator`).
        public var speculator: String??
        /// An integer, `adaptive`, or `auto` (= from the speculator), as typed on the command line.
        public var numSpeculativeTokens: String?
        public var confidenceGate: Bool?
        public var quantizedWeights: Bool?
        public var maxBatch: Int?
        public var maxQueue: Int?
        public var maxModelLen: Int?
        public var generationConfig: String?
        public var apiKey: String?
        public var allowedOrigins: [String]?
        public var registry: String?
        public var threads: Int?
        public var logLevel: String?
        public var metricsLogIntervalSeconds: Double?

        public init() {}
    }

    /// This configuration with `overrides` applied and validated again. Errors name the flag's
    /// key (`port`, `num_speculative_tokens`) as in the file.
    public func applying(_ overrides: Overrides) throws(ConfigurationError) -> ServerConfiguration {
        var s = self
        if let v = overrides.host { s.host = v }
        if let v = overrides.port { s.port = v }
        if let v = overrides.model { s.model = v }
        if let v = overrides.servedModelName { s.servedModelName = v }
        if let v = overrides.speculator { s.speculator = v }
        if let text = overrides.numSpeculativeTokens {
            switch text.lowercased() {
            case "adaptive": s.numSpeculativeTokens = .adaptive
            case "auto", "": s.numSpeculativeTokens = .fromSpeculator
            default:
                guard let k = Int(text) else {
                    throw ConfigurationError(path: "num_speculative_tokens",
                                             problem: "must be an integer, \"adaptive\" or \"auto\", got \"\(text)\"")
                }
                s.numSpeculativeTokens = .fixed(k)
            }
        }
        if let v = overrides.confidenceGate { s.confidenceGate = v }
        if let v = overrides.quantizedWeights { s.verifierWeights = v ? .quantized : .float32 }
        if let v = overrides.maxBatch { s.maxBatch = v }
        if let v = overrides.maxQueue { s.maxQueue = v }
        if let v = overrides.maxModelLen { s.maxModelLen = v }
        if let text = overrides.generationConfig {
            guard let mode = GenerationConfigMode(rawValue: text) else {
                throw ConfigurationError(path: "generation_config", problem: "must be \"auto\" or \"vllm\", got \"\(text)\"")
            }
            s.generationConfig = mode
        }
        if let v = overrides.apiKey { s.apiKey = v }
        if let v = overrides.allowedOrigins { s.allowedOrigins = v }
        if let v = overrides.registry { s.registry = v }
        if let v = overrides.threads { s.threads = v }
        if let text = overrides.logLevel {
            guard let level = LogLevel(rawValue: text.lowercased()) else {
                throw ConfigurationError(path: "log_level", problem: "must be one of "
                                         + LogLevel.allCases.map(\.rawValue).joined(separator: ", ") + ", got \"\(text)\"")
            }
            s.logLevel = level
        }
        if let v = overrides.metricsLogIntervalSeconds { s.metricsLogIntervalSeconds = v }
        try s.validate()
        return s
    }

    /// The request-validation facts this configuration fixes; the model-dependent ones
    /// (context length when not configured, vocabulary, defaults, draft length) come from the
    /// loaded model.
    public func validationContext(maxModelLen: Int, vocabularySize: Int?, samplingDefaults: SamplingDefaults,
                                  maxSpeculativeTokens: Int?) -> ValidationContext {
        ValidationContext(servedModelNames: [effectiveServedModelName], maxModelLen: maxModelLen,
                          vocabularySize: vocabularySize, maxLogprobs: limits.maxLogprobs,
                          maxPromptsPerRequest: limits.maxPromptsPerRequest, maxChoices: limits.maxN,
                          samplingDefaults: generationConfig == .auto ? samplingDefaults : SamplingDefaults(),
                          maxSpeculativeTokens: maxSpeculativeTokens)
    }
}
