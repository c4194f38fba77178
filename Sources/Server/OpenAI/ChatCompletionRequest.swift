// POST /v1/chat/completions: messages plus the same sampling fields as completions. The prompt
// is produced later by rendering the tokenizer's chat template.

/// A validated `/v1/chat/completions` request.
public struct ChatCompletionRequest: Sendable, Equatable {
    public var model: String
    public var messages: [ChatMessage]
    /// `max_completion_tokens`, else the deprecated `max_tokens`; nil = fill the remaining context.
    public var maxTokens: Int?
    /// Which field `maxTokens` came from, for error messages (`max_completion_tokens` or `max_tokens`).
    public var maxTokensParameter: String
    public var n: Int
    public var stream: Bool
    public var streamOptions: StreamOptions
    public var sampling: SamplingSettings
    public var stop: StopSettings
    public var decoding: DecodingOptions
    /// Number of alternatives per token when `logprobs` is true (0...max); nil = no logprobs.
    public var topLogprobs: Int?
    /// Alternatives per prompt token for vLLM's `prompt_logprobs` (not with `stream`); nil = none.
    public var promptLogprobs: Int?
    /// Prepend the last message's content when it has the assistant role (vLLM `echo`).
    public var echo: Bool
    /// Append the assistant header so the model answers (default true).
    public var addGenerationPrompt: Bool
    /// Leave the final message open so the model continues it (exclusive with the above).
    public var continueFinalMessage: Bool
    /// Add BOS etc. on top of the template (default false: the template does it).
    public var addSpecialTokens: Bool
    /// A Jinja template overriding the tokenizer's.
    public var chatTemplate: String?
    /// Extra template variables, as compact JSON.
    public var chatTemplateKwargsJSON: String?
    /// `tools`, as compact JSON (rendered by templates that support them); nil when absent.
    public var toolsJSON: String?
    public var requestID: String?
    public var user: String?
    public var numSpeculativeTokens: Int?
    public var truncatePromptTokens: Int?
    public var returnTokenIDs: Bool

    /// Decodes and validates a request body.
    public static func decode(_ body: [UInt8], context: ValidationContext) throws(APIError) -> ChatCompletionRequest {
        var r = try bodyReader(body)
        let fields = GenerationFields.read(&r)
        let messages = try ChatMessage.readList(&r)
        let maxCompletion = r.int("max_completion_tokens")
        let maxTokensField = r.int("max_tokens")
        let logprobs = r.bool("logprobs") ?? false
        let topLogprobs = r.int("top_logprobs")
        let addGenerationPrompt = r.bool("add_generation_prompt", nullable: false) ?? true
        let continueFinal = r.bool("continue_final_message", nullable: false) ?? false
        let chatTemplate = r.string("chat_template")
        let kwargs = r.object("chat_template_kwargs").map { $0.json.compactJSON }
        let toolsValue = r.raw("tools")
        if let toolsValue, !toolsValue.isNull, toolsValue.arrayValue == nil {
            r.record(SchemaIssue(kind: "list_type", location: r.path("tools"), message: "Input should be a valid list",
                                 input: toolsValue))
        }
        let toolChoice = r.raw("tool_choice")
        if !r.issues.isEmpty { throw APIError.schema(r.issues) }
        guard let messages else { throw APIError.schema(r.issues) }

        try fields.checkStreamingRules()
        if let k = topLogprobs {
            if k < 0 && k != -1 {
                throw .badRequest("`top_logprobs` must be a positive value or -1.", param: "top_logprobs",
                                  value: String(k))
            }
            if (k == -1 || k > 0) && !logprobs {
                throw .badRequest("when using `top_logprobs`, `logprobs` must be set to true.", param: "top_logprobs")
            }
        }
        let tools = try checkTools(toolsValue, toolChoice: toolChoice)
        if continueFinal && addGenerationPrompt {
            throw .badRequest("Cannot set both `continue_final_message` and `add_generation_prompt` to True.")
        }
        let model = try context.resolveModel(fields.model)
        try fields.checkUnsupportedFeatures()

        let maxTokens = maxCompletion ?? maxTokensField
        let maxParam = maxCompletion != nil ? "max_completion_tokens" : "max_tokens"
        try ContextWindow.checkRequestedMaxTokens(maxTokens, param: maxParam, context: context)
        let truncation = try fields.resolveTruncation(context: context)
        let topCount: Int? = try logprobs
            ? GenerationFields.resolveLogprobCount(topLogprobs ?? 0, context: context, param: "top_logprobs") : nil
        let (sampling, stop) = try fields.resolve(context: context, maxTokens: maxTokens, maxTokensParam: maxParam,
                                                  allowZeroMaxTokens: false)
        let speculative = try fields.resolveSpeculativeTokens(context: context)
        let promptLogprobs = try fields.resolvedPromptLogprobs(context: context)

        return ChatCompletionRequest(
            model: model, messages: messages, maxTokens: maxTokens, maxTokensParameter: maxParam,
            n: fields.n ?? 1, stream: fields.isStreaming, streamOptions: fields.resolvedStreamOptions(context: context),
            sampling: sampling, stop: stop,
            decoding: DecodingOptions(skipSpecialTokens: fields.skipSpecialTokens ?? true,
                                      spacesBetweenSpecialTokens: fields.spacesBetweenSpecialTokens ?? true),
            topLogprobs: topCount, promptLogprobs: promptLogprobs, echo: fields.echo ?? false,
            addGenerationPrompt: addGenerationPrompt,
            continueFinalMessage: continueFinal, addSpecialTokens: fields.addSpecialTokens ?? false,
            chatTemplate: chatTemplate, chatTemplateKwargsJSON: kwargs, toolsJSON: tools,
            requestID: fields.requestID, user: fields.user, numSpeculativeTokens: speculative,
            truncatePromptTokens: truncation, returnTokenIDs: fields.returnTokenIDs ?? false)
    }

    /// Tools may be passed to the template, but this server has no tool-call parser, so any
    /// `tool_choice` other than "none" is refused (vLLM does the same without
    /// `--enable-auto-tool-choice`; with tools and no choice, vLLM's default is "auto").
    private static func checkTools(_ tools: RequestJSON?, toolChoice: RequestJSON?) throws(APIError) -> String? {
        let toolList = tools?.arrayValue
        if let toolList, toolList.isEmpty {
            throw .badRequest("`tools` must not be an empty array. Either provide at least one tool or omit the "
                              + "field entirely.", param: "tools")
        }
        let choice: RequestJSON = toolChoice ?? (toolList != nil ? .string("auto") : .string("none"))
        switch choice {
        case .null, .string("none"):
            break
        case .string(let s) where s == "auto" || s == "required":
            if toolList == nil {
                throw .badRequest("When using `tool_choice`, `tools` must be set.", param: "tool_choice")
            }
            throw .badRequest("tool_choice \"\(s)\" is not supported: this server has no tool-call parser. "
                              + "Send tool_choice \"none\" to pass tools to the chat template only.",
                              param: "tool_choice")
        case .object:
            if toolList == nil {
                throw .badRequest("When using `tool_choice`, `tools` must be set.", param: "tool_choice")
            }
            throw .badRequest("Named tool_choice is not supported: this server has no structured-output backend.",
                              param: "tool_choice")
        default:
            throw .badRequest("Invalid value for `tool_choice`: \(PythonRepr.value(choice))! Only named tools, "
                              + "\"none\", \"auto\" or \"required\" are supported.", param: "tool_choice")
        }
        return toolList.map { RequestJSON.array($0).compactJSON }
    }
}
