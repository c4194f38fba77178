// POST /v1/completions: the body decoded into validated values. Everything that can be judged
// without the tokenizer is judged here; the prompt length check needs the token count and is
// `ContextWindow.effectiveMaxTokens`, which the route calls after tokenizing.

/// A validated `/v1/completions` request.
public struct CompletionRequest: Sendable, Equatable {
    /// The served model name to echo in responses.
    public var model: String
    public var prompt: PromptInput
    /// Requested output tokens: 16 when absent or null; 0 only together with `echo`.
    /// Clamp with `ContextWindow.effectiveMaxTokens` once the prompt length is known.
    public var maxTokens: Int
    /// Choices per prompt.
    public var n: Int
    /// Prepend the prompt to each choice's text.
    public var echo: Bool
    /// Top alternatives per generated token (0 = the sampled token only); nil = no logprobs.
    public var logprobs: Int?
    /// Logprobs for prompt tokens (with `echo` it defaults to `logprobs`); nil = none.
    public var promptLogprobs: Int?
    public var stream: Bool
    /// Meaningful only when `stream` is true.
    public var streamOptions: StreamOptions
    public var sampling: SamplingSettings
    public var stop: StopSettings
    public var decoding: DecodingOptions
    /// Add BOS etc. when tokenizing text prompts (default true).
    public var addSpecialTokens: Bool
    /// The body's `request_id`, if sent (the `X-Request-Id` header takes precedence).
    public var requestID: String?
    public var user: String?
    /// Per-request draft length override (extension); nil = server setting, 0 = no drafting.
    public var numSpeculativeTokens: Int?
    /// Keep only the last k prompt tokens (-1 = as many as fit); nil = no truncation.
    public var truncatePromptTokens: Int?
    /// Add `token_ids` / `prompt_token_ids` to each choice.
    public var returnTokenIDs: Bool
    /// Render logprob tokens as `"token_id:<id>"`.
    public var returnTokensAsTokenIDs: Bool

    /// Decodes and validates a request body. Errors carry vLLM's status, type, param and wording.
    public static func decode(_ body: [UInt8], context: ValidationContext) throws(APIError) -> CompletionRequest {
        var r = try bodyReader(body)
        let fields = GenerationFields.read(&r)
        let prompt = try PromptInput.read(&r)
        let maxTokens = r.int("max_tokens") ?? 16
        let logprobs = r.int("logprobs")
        let bestOf = r.int("best_of")
        _ = r.string("suffix")
        let promptEmbeds = r.raw("prompt_embeds")
        if !r.issues.isEmpty { throw APIError.schema(r.issues) }
        guard let prompt else { throw APIError.schema(r.issues) }

        if let promptEmbeds, promptEmbeds.isTruthy {
            throw .badRequest("prompt_embeds are not supported by this server.", param: "prompt_embeds")
        }
        if let logprobs, logprobs < 0 && logprobs != -1 {
            throw .badRequest("`logprobs` must be a positive value or -1.", param: "logprobs", value: String(logprobs))
        }
        try fields.checkStreamingRules()
        let model = try context.resolveModel(fields.model)
        try fields.checkUnsupportedFeatures()
        let n = fields.n ?? 1
        if let bestOf, bestOf > 1, bestOf != n {
            throw .badRequest("vLLM V1 does not yet support best_of.", param: "best_of", value: String(bestOf))
        }
        try prompt.validate(context: context)
        let echo = fields.echo ?? false
        try ContextWindow.checkRequestedMaxTokens(maxTokens, param: "max_tokens", context: context)
        let truncation = try fields.resolveTruncation(context: context)
        let logprobCount = try logprobs.map { (k) throws(APIError) in
            try GenerationFields.resolveLogprobCount(k, context: context, param: "logprobs")
        }
        let (sampling, stop) = try fields.resolve(context: context, maxTokens: maxTokens, maxTokensParam: "max_tokens",
                                                  allowZeroMaxTokens: echo)
        let speculative = try fields.resolveSpeculativeTokens(context: context)

        var promptLogprobs = try fields.resolvedPromptLogprobs(context: context)
        if promptLogprobs == nil && echo { promptLogprobs = logprobCount }

        return CompletionRequest(
            model: model, prompt: prompt, maxTokens: maxTokens, n: n, echo: echo, logprobs: logprobCount,
            promptLogprobs: promptLogprobs, stream: fields.isStreaming,
            streamOptions: fields.resolvedStreamOptions(context: context),
            sampling: sampling, stop: stop,
            decoding: DecodingOptions(skipSpecialTokens: fields.skipSpecialTokens ?? true,
                                      spacesBetweenSpecialTokens: fields.spacesBetweenSpecialTokens ?? true),
            addSpecialTokens: fields.addSpecialTokens ?? true, requestID: fields.requestID, user: fields.user,
            numSpeculativeTokens: speculative, truncatePromptTokens: truncation,
            returnTokenIDs: fields.returnTokenIDs ?? false,
            returnTokensAsTokenIDs: fields.returnTokensAsTokenIDs ?? false)
    }
}

/// Parses a request body into a reader of its members; a body that is not JSON, or not a JSON
/// object, is a schema-style 400.
func bodyReader(_ body: [UInt8]) throws(APIError) -> FieldReader {
    let json: RequestJSON
    do {
        json = try RequestJSONParser.parse(body)
    } catch {
        throw APIError.malformedJSON(error)
    }
    let reader = FieldReader(json)
    if !reader.issues.isEmpty { throw APIError.schema(reader.issues) }
    return reader
}

extension GenerationFields {
    /// `include_usage` counts only when `stream_options` was sent (absent key = false, OpenAI
    /// semantics); the server's force flag turns both on for every stream.
    func resolvedStreamOptions(context: ValidationContext) -> StreamOptions {
        if context.forceIncludeUsage { return StreamOptions(includeUsage: true, continuousUsageStats: true) }
        guard isStreaming, let options = streamOptions else { return StreamOptions() }
        return StreamOptions(includeUsage: options.includeUsage,
                             continuousUsageStats: options.includeUsage && options.continuousUsageStats)
    }
}
