// The sampling and stopping parameters of one request after validation and default
// resolution: what the engine's sampler and stop checker consume.

/// Resolved sampling parameters (request → server default → OpenAI default, then vLLM's
/// normalisation: -1 seeds and top-k become "off", tiny temperatures are raised to 0.01, and a
/// greedy request has top-p/top-k/min-p switched off).
public struct SamplingSettings: Sendable, Equatable {
    /// 0 means greedy; otherwise in [0.01, 2].
    public var temperature: Double
    /// In (0, 1]; 1 = off.
    public var topP: Double
    /// 0 = off, else the number of candidates kept.
    public var topK: Int
    /// In [0, 1]; 0 = off. (vLLM ignores it under speculative decoding.)
    public var minP: Double
    /// > 0; 1 = off.
    public var repetitionPenalty: Double
    /// In [-2, 2].
    public var presencePenalty: Double
    /// In [-2, 2].
    public var frequencyPenalty: Double
    /// Per-request RNG seed; nil = unseeded.
    public var seed: Int64?
    /// Token id → additive bias, clamped to [-100, 100].
    public var logitBias: [Int: Double]
    /// Restricts sampling to these ids when set (never empty).
    public var allowedTokenIDs: [Int]?

    public init(temperature: Double = 1, topP: Double = 1, topK: Int = 0, minP: Double = 0,
                repetitionPenalty: Double = 1, presencePenalty: Double = 0, frequencyPenalty: Double = 0,
                seed: Int64? = nil, logitBias: [Int: Double] = [:], allowedTokenIDs: [Int]? = nil) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.seed = seed
        self.logitBias = logitBias
        self.allowedTokenIDs = allowedTokenIDs
    }

    /// Temperature 0: argmax decoding.
    public var isGreedy: Bool { temperature == 0 }
}

/// When generation stops, besides the length limit.
public struct StopSettings: Sendable, Equatable {
    /// Stop strings, checked on the decoded text (never empty strings).
    public var strings: [String]
    /// Token ids that end generation (request ids then server defaults, duplicates removed);
    /// `stop_reason` is the id.
    public var tokenIDs: [Int]
    /// Do not stop on the EOS token.
    public var ignoreEOS: Bool
    /// EOS, stop ids and stop strings are not honoured before this many output tokens.
    public var minTokens: Int
    /// Keep the matched stop string / stop token text in the output.
    public var includeStopStringInOutput: Bool

    public init(strings: [String] = [], tokenIDs: [Int] = [], ignoreEOS: Bool = false, minTokens: Int = 0,
                includeStopStringInOutput: Bool = false) {
        self.strings = strings
        self.tokenIDs = tokenIDs
        self.ignoreEOS = ignoreEOS
        self.minTokens = minTokens
        self.includeStopStringInOutput = includeStopStringInOutput
    }
}

/// Detokenizer options of a request.
public struct DecodingOptions: Sendable, Equatable {
    /// Drop special tokens from decoded text (default true).
    public var skipSpecialTokens: Bool
    /// vLLM's option to put spaces between special tokens (default true). Accepted and without
    /// effect: byte-level tokenizers join special tokens without spaces, as vLLM's fast ones do.
    public var spacesBetweenSpecialTokens: Bool

    public init(skipSpecialTokens: Bool = true, spacesBetweenSpecialTokens: Bool = true) {
        self.skipSpecialTokens = skipSpecialTokens
        self.spacesBetweenSpecialTokens = spacesBetweenSpecialTokens
    }
}

/// `stream_options` of a streaming request.
public struct StreamOptions: Sendable, Equatable {
    /// Send a final usage chunk (`choices: []`) before `[DONE]`.
    public var includeUsage: Bool
    /// With `includeUsage`, also attach running usage to every chunk.
    public var continuousUsageStats: Bool

    public init(includeUsage: Bool = false, continuousUsageStats: Bool = false) {
        self.includeUsage = includeUsage
        self.continuousUsageStats = continuousUsageStats
    }
}
