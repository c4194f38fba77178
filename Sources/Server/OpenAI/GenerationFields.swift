// The request fields /v1/completions and /v1/chat/completions share (sampling, stopping,
// streaming, vLLM extensions), read once and validated with vLLM's rules and wording.

/// Shared fields as sent, before defaults (nil = absent or null).
struct GenerationFields {
    var model: String?
    var n: Int?
    var temperature: Double?
    var topP: Double?
    var topK: Int?
    var minP: Double?
    var repetitionPenalty: Double?
    var presencePenalty: Double?
    var frequencyPenalty: Double?
    var seed: Int?
    var stop: [String]?
    var stopTokenIDs: [Int]?
    var ignoreEOS: Bool?
    var minTokens: Int?
    var includeStopStringInOutput: Bool?
    var skipSpecialTokens: Bool?
    var spacesBetweenSpecialTokens: Bool?
    var stream: Bool?
    var streamOptions: StreamOptions?
    /// `stream_options` was sent as a non-empty object (vLLM tests its truthiness).
    var streamOptionsGiven = false
    var logitBias: [(key: String, value: Double)]?
    var allowedTokenIDs: [Int]?
    var promptLogprobs: Int?
    var requestID: String?
    var user: String?
    var priority: Int?
    var numSpeculativeTokens: Int?
    var returnTokenIDs: Bool?
    var returnTokensAsTokenIDs: Bool?
    var truncatePromptTokens: Int?
    var useBeamSearch: Bool?
    var responseFormatType: String?
    var addSpecialTokens: Bool?
    var echo: Bool?

    /// Reads every shared field; type problems go into the reader's issues.
    static func read(_ r: inout FieldReader) -> GenerationFields {
        var f = GenerationFields()
        f.model = r.string("model")
        f.n = r.int("n")
        f.temperature = r.double("temperature")
        f.topP = r.double("top_p")
        f.topK = r.int("top_k")
        f.minP = r.double("min_p")
        f.repetitionPenalty = r.double("repetition_penalty")
        f.presencePenalty = r.double("presence_penalty")
        f.frequencyPenalty = r.double("frequency_penalty")
        f.seed = r.int("seed")
        f.stop = r.stringOrStringList("stop")
        f.stopTokenIDs = r.intList("stop_token_ids")
        f.ignoreEOS = r.bool("ignore_eos", nullable: false)
        f.minTokens = r.int("min_tokens", nullable: false)
        f.includeStopStringInOutput = r.bool("include_stop_str_in_output", nullable: false)
        f.skipSpecialTokens = r.bool("skip_special_tokens", nullable: false)
        f.spacesBetweenSpecialTokens = r.bool("spaces_between_special_tokens", nullable: false)
        f.stream = r.bool("stream")
        f.streamOptionsGiven = r.raw("stream_options")?.isTruthy ?? false
        if var options = r.object("stream_options") {
            f.streamOptions = StreamOptions(includeUsage: options.bool("include_usage") ?? false,
                                            continuousUsageStats: options.bool("continuous_usage_stats") ?? false)
            r.absorb(options)
        }
        if var bias = r.object("logit_bias") {
            var pairs: [(key: String, value: Double)] = []
            if case .object(let members) = bias.json {
                for member in members {
                    if let v = bias.double(member.key) { pairs.append((member.key, v)) }
                }
            }
            r.absorb(bias)
            f.logitBias = pairs
        }
        f.allowedTokenIDs = r.intList("allowed_token_ids")
        f.promptLogprobs = r.int("prompt_logprobs")
        f.requestID = r.string("request_id", nullable: false)
        f.user = r.string("user")
        f.priority = r.int("priority", nullable: false)
        f.numSpeculativeTokens = r.int("num_speculative_tokens")
        f.returnTokenIDs = r.bool("return_token_ids")
        f.returnTokensAsTokenIDs = r.bool("return_tokens_as_token_ids")
        f.truncatePromptTokens = r.int("truncate_prompt_tokens")
        f.useBeamSearch = r.bool("use_beam_search", nullable: false)
        if var format = r.object("response_format") {
            f.responseFormatType = format.string("type") ?? ""
            r.absorb(format)
        }
        f.addSpecialTokens = r.bool("add_special_tokens", nullable: false)
        f.echo = r.bool("echo")
        return f
    }

    var isStreaming: Bool { stream ?? false }

    /// vLLM's "before" validators on streaming and prompt logprobs.
    func checkStreamingRules() throws(APIError) {
        if streamOptionsGiven && !isStreaming {
            throw .badRequest("Stream options can only be defined when `stream=True`.", param: "stream_options")
        }
        if let p = promptLogprobs {
            if isStreaming && (p > 0 || p == -1) {
                throw .badRequest("`prompt_logprobs` are not available when `stream=True`.", param: "prompt_logprobs")
            }
            if p < 0 && p != -1 {
                throw .badRequest("`prompt_logprobs` must be a positive value or -1.", param: "prompt_logprobs",
                                  value: String(p))
            }
        }
    }

    /// Features vLLM has and this server does not: rejected loudly when they would change the
    /// result, ignored when they would not.
    func checkUnsupportedFeatures() throws(APIError) {
        if useBeamSearch == true {
            if isStreaming {
                throw .badRequest("Streaming is not currently supported with beam search")
            }
            throw .badRequest("Beam search is not supported by this server.", param: "use_beam_search")
        }
        if let type = responseFormatType, type != "text" {
            throw .badRequest("response_format type '\(type)' is not supported by this server; only 'text' is.",
                              param: "response_format")
        }
        if let p = priority, p != 0 {
            throw .badRequest("priority must be 0: this server does not use priority scheduling, got \(p).",
                              param: "priority", value: String(p))
        }
    }

    /// Validates and resolves sampling and stop settings. `maxTokens` is the effective request
    /// limit when known (nil for chat's "fill the context"); `allowZeroMaxTokens` is the echo case.
    func resolve(context: ValidationContext, maxTokens: Int?, maxTokensParam: String,
                 allowZeroMaxTokens: Bool) throws(APIError) -> (SamplingSettings, StopSettings) {
        let defaults = context.samplingDefaults
        let n = self.n ?? 1
        var temperature = self.temperature ?? defaults.temperature ?? 1.0
        var topP = self.topP ?? defaults.topP ?? 1.0
        var topK = self.topK ?? defaults.topK ?? 0
        var minP = self.minP ?? defaults.minP ?? 0.0
        let repetition = self.repetitionPenalty ?? defaults.repetitionPenalty ?? 1.0
        let presence = self.presencePenalty ?? 0.0
        let frequency = self.frequencyPenalty ?? 0.0
        let minTokens = self.minTokens ?? 0
        let f = PythonRepr.float

        // A positive temperature below 0.01 risks inf/nan in the softmax; vLLM raises it.
        if temperature > 0 && temperature < 0.01 { temperature = 0.01 }

        if n < 1 { throw .badRequest("n must be at least 1, got \(n).") }
        if n > context.maxChoices {
            throw .badRequest("n must be at most \(context.maxChoices) on this server, got \(n).", param: "n",
                              value: String(n))
        }
        if !(-2.0...2.0).contains(presence) {
            throw .badRequest("presence_penalty must be in [-2, 2], got \(f(presence)).")
        }
        if !(-2.0...2.0).contains(frequency) {
            throw .badRequest("frequency_penalty must be in [-2, 2], got \(f(frequency)).")
        }
        if !repetition.isFinite { throw .badRequest("repetition_penalty must be a finite number, got \(f(repetition)).") }
        if repetition <= 0 { throw .badRequest("repetition_penalty must be greater than zero, got \(f(repetition)).") }
        if !temperature.isFinite {
            throw .badRequest("temperature must be a finite number, got \(f(temperature)).", param: "temperature",
                              value: f(temperature))
        }
        if temperature < 0 {
            throw .badRequest("temperature must be non-negative, got \(f(temperature)).", param: "temperature",
                              value: f(temperature))
        }
        if temperature > 2 {
            throw .badRequest("temperature must be in [0, 2], got \(f(temperature)).", param: "temperature",
                              value: f(temperature))
        }
        if !(topP > 0 && topP <= 1) {
            throw .badRequest("top_p must be in (0, 1], got \(f(topP)).", param: "top_p", value: f(topP))
        }
        if topK < -1 { throw .badRequest("top_k must be 0 (disable), or at least 1, got \(topK).") }
        if !(minP >= 0 && minP <= 1) { throw .badRequest("min_p must be in [0, 1], got \(f(minP)).") }
        if let m = maxTokens, m < 1, !(allowZeroMaxTokens && m == 0) {
            throw .badRequest("max_tokens must be at least 1, got \(m).", param: maxTokensParam, value: String(m))
        }
        if minTokens < 0 { throw .badRequest("min_tokens must be greater than or equal to 0, got \(minTokens).") }
        if let m = maxTokens, minTokens > m {
            throw .badRequest("min_tokens must be less than or equal to max_tokens=\(m), got \(minTokens).")
        }
        let stopStrings = stop ?? []
        if stopStrings.contains("") { throw .badRequest("stop cannot contain an empty string.") }

        let logitBias = try resolveLogitBias(context: context)
        let allowed = try resolveAllowedTokenIDs(context: context)

        if temperature == 0 {
            topP = 1; topK = 0; minP = 0
            if n > 1 { throw .badRequest("n must be 1 when using greedy sampling, got \(n).") }
        }
        if topK == -1 { topK = 0 }

        var stopIDs: [Int] = []
        for id in (stopTokenIDs ?? []) + defaults.stopTokenIDs where !stopIDs.contains(id) { stopIDs.append(id) }

        let sampling = SamplingSettings(
            temperature: temperature, topP: topP, topK: topK, minP: minP, repetitionPenalty: repetition,
            presencePenalty: presence, frequencyPenalty: frequency,
            seed: seed.flatMap { $0 == -1 ? nil : Int64($0) }, logitBias: logitBias, allowedTokenIDs: allowed)
        let stops = StopSettings(strings: stopStrings, tokenIDs: stopIDs, ignoreEOS: ignoreEOS ?? false,
                                 minTokens: minTokens, includeStopStringInOutput: includeStopStringInOutput ?? false)
        return (sampling, stops)
    }

    /// `logit_bias` keys must be integer token ids inside the vocabulary; values are clamped.
    private func resolveLogitBias(context: ValidationContext) throws(APIError) -> [Int: Double] {
        guard let pairs = logitBias else { return [:] }
        var result: [Int: Double] = [:]
        var invalidKeys: [String] = []
        for (key, value) in pairs {
            guard let id = Int(key.trimmingPythonWhitespace) else { invalidKeys.append(key); continue }
            result[id] = min(100, max(-100, value))
        }
        if !invalidKeys.isEmpty {
            let list = "[" + invalidKeys.map { PythonRepr.string($0) }.joined(separator: ", ") + "]"
            throw .badRequest("logit_bias contains key(s) that cannot be converted to integer token IDs: \(list)",
                              param: "logit_bias", value: list)
        }
        if let vocab = context.vocabularySize {
            let outside = result.keys.filter { $0 < 0 || $0 >= vocab }.sorted()
            if !outside.isEmpty {
                let list = "[" + outside.map(String.init).joined(separator: ", ") + "]"
                throw .badRequest("token_id(s) \(list) in logit_bias contain out-of-vocab token ids. "
                                  + "Vocabulary size: \(vocab)", param: "logit_bias", value: list)
            }
        }
        return result
    }

    private func resolveAllowedTokenIDs(context: ValidationContext) throws(APIError) -> [Int]? {
        guard let ids = allowedTokenIDs else { return nil }
        if ids.isEmpty { throw .badRequest("allowed_token_ids is not None and empty!", param: "allowed_token_ids") }
        if let vocab = context.vocabularySize, ids.contains(where: { $0 < 0 || $0 >= vocab }) {
            throw .badRequest("allowed_token_ids contains out-of-vocab token id!", param: "allowed_token_ids")
        }
        return ids
    }

    /// The per-request draft length (extension `num_speculative_tokens`): 0 disables drafting for
    /// this request; at most the server's maximum; only meaningful when a speculator is loaded.
    func resolveSpeculativeTokens(context: ValidationContext) throws(APIError) -> Int? {
        guard let k = numSpeculativeTokens else { return nil }
        guard let maxK = context.maxSpeculativeTokens else {
            if k == 0 { return 0 }
            throw .badRequest("num_speculative_tokens=\(k) needs a speculator, and this server runs without one.",
                              param: "num_speculative_tokens", value: String(k))
        }
        if k < 0 || k > maxK {
            throw .badRequest("num_speculative_tokens must be in [0, \(maxK)], got \(k).",
                              param: "num_speculative_tokens", value: String(k))
        }
        return k
    }

    /// `truncate_prompt_tokens`: -1 (as many as fit) or 1...L.
    func resolveTruncation(context: ValidationContext) throws(APIError) -> Int? {
        guard let t = truncatePromptTokens else { return nil }
        if t < -1 {
            throw .badRequest("truncate_prompt_tokens must be -1 or a positive integer, got \(t).",
                              param: "truncate_prompt_tokens", value: String(t))
        }
        if t > context.maxModelLen {
            throw .badRequest("truncate_prompt_tokens value (\(t)) is greater than max_model_len "
                              + "(\(context.maxModelLen)). Please, select a smaller truncation size.",
                              param: "truncate_prompt_tokens", value: String(t))
        }
        return t
    }

    /// Number of top alternatives to report per token: -1 means the whole vocabulary; anything
    /// above the server maximum is refused with vLLM's message.
    /// `prompt_logprobs` as a count of alternatives (nil when not asked).
    func resolvedPromptLogprobs(context: ValidationContext) throws(APIError) -> Int? {
        try promptLogprobs.map { (k) throws(APIError) in
            try GenerationFields.resolveLogprobCount(k, context: context, param: "prompt_logprobs")
        }
    }

    static func resolveLogprobCount(_ k: Int, context: ValidationContext, param: String) throws(APIError) -> Int {
        let count = k == -1 ? (context.vocabularySize ?? Int.max) : k
        if context.maxLogprobs >= 0 && count > context.maxLogprobs {
            let kind = param == "prompt_logprobs" ? "prompt" : "sample"
            throw .badRequest("Requested \(kind) logprobs of \(count), which is greater than max allowed: "
                              + "\(context.maxLogprobs)", param: param, value: String(k))
        }
        return count
    }
}

extension String {
    /// Python's `str.strip()` on ASCII whitespace, as `int(" 12 ")` tolerates.
    var trimmingPythonWhitespace: Substring {
        let ws: Set<Character> = [" ", "\t", "\n", "\r", "\u{0B}", "\u{0C}"]
        var s = Substring(self)
        while let c = s.first, ws.contains(c) { s.removeFirst() }
        while let c = s.last, ws.contains(c) { s.removeLast() }
        return s
    }
}
