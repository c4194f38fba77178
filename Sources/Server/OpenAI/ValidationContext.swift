// What request validation needs to know about the running server: the served names, the
// context length, the vocabulary, limits, and the model's default sampling parameters.

/// The facts about the served model and the server limits that request decoding checks against.
public struct ValidationContext: Sendable, Equatable {
    /// Names a request's `model` may use; the first is the one echoed in responses.
    public var servedModelNames: [String]
    /// `L`: the context length (prompt + output tokens).
    public var maxModelLen: Int
    /// The verifier vocabulary size, for token-id checks; nil skips them.
    public var vocabularySize: Int?
    /// Largest `logprobs` / `top_logprobs` (vLLM `--max-logprobs`, default 20); -1 = unbounded.
    public var maxLogprobs: Int
    /// Largest number of prompts in one `/v1/completions` batch.
    public var maxPromptsPerRequest: Int
    /// Largest `n` (choices per prompt).
    public var maxChoices: Int
    /// Server-side sampling defaults (from `generation_config.json`, or none).
    public var samplingDefaults: SamplingDefaults
    /// Largest per-request `num_speculative_tokens`; nil when no speculator is loaded.
    public var maxSpeculativeTokens: Int?
    /// Send usage (final and per-chunk) in every stream, whatever `stream_options` says.
    public var forceIncludeUsage: Bool

    public init(servedModelNames: [String], maxModelLen: Int, vocabularySize: Int? = nil,
                maxLogprobs: Int = 20, maxPromptsPerRequest: Int = 64, maxChoices: Int = 16,
                samplingDefaults: SamplingDefaults = SamplingDefaults(), maxSpeculativeTokens: Int? = nil,
                forceIncludeUsage: Bool = false) {
        self.servedModelNames = servedModelNames
        self.maxModelLen = maxModelLen
        self.vocabularySize = vocabularySize
        self.maxLogprobs = maxLogprobs
        self.maxPromptsPerRequest = maxPromptsPerRequest
        self.maxChoices = maxChoices
        self.samplingDefaults = samplingDefaults
        self.maxSpeculativeTokens = maxSpeculativeTokens
        self.forceIncludeUsage = forceIncludeUsage
    }

    /// The name responses carry.
    public var primaryModelName: String { servedModelNames.first ?? "" }

    /// Resolves a request's `model`: absent, null or empty means the served model; an unknown
    /// name is a 404.
    public func resolveModel(_ requested: String?) throws(APIError) -> String {
        guard let requested, !requested.isEmpty else { return primaryModelName }
        guard servedModelNames.contains(requested) else { throw APIError.modelNotFound(requested) }
        return primaryModelName
    }
}
