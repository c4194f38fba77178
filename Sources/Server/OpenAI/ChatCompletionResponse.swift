// Chat responses: `chat.completion` with one assistant message per choice, and the
// `chat.completion.chunk` stream whose first chunk per choice announces the role.

/// One choice of a chat response.
public struct ChatCompletionChoice: Sendable, Equatable {
    public var index: Int
    /// The assistant's text.
    public var content: String
    /// Chat-format logprobs; nil when not requested.
    public var logprobs: [ChatTokenLogprob]?
    public var finishReason: FinishReason?
    public var stopReason: StopReason?
    /// Generated ids (only with `return_token_ids`).
    public var tokenIDs: [Int]?

    public init(index: Int, content: String, logprobs: [ChatTokenLogprob]? = nil, finishReason: FinishReason?,
                stopReason: StopReason? = nil, tokenIDs: [Int]? = nil) {
        self.index = index
        self.content = content
        self.logprobs = logprobs
        self.finishReason = finishReason
        self.stopReason = stopReason
        self.tokenIDs = tokenIDs
    }
}

/// The body of a non-streaming `/v1/chat/completions` answer.
public struct ChatCompletionResponse: Sendable, Equatable {
    /// `chatcmpl-<request id>`.
    public var id: String
    public var created: Int
    public var model: String
    public var choices: [ChatCompletionChoice]
    public var usage: Usage
    /// vLLM's `prompt_logprobs` of the rendered prompt (one list for the request); nil when not asked.
    public var promptLogprobs: [[PromptTokenLogprob]?]?

    public init(id: String, created: Int, model: String, choices: [ChatCompletionChoice], usage: Usage,
                promptLogprobs: [[PromptTokenLogprob]?]? = nil) {
        self.id = id
        self.created = created
        self.model = model
        self.promptLogprobs = promptLogprobs
        self.choices = choices
        self.usage = usage
    }

    public var jsonString: String {
        var w = JSONWriter(reservingCapacity: 512)
        w.beginObject()
        w.field("id", id)
        w.field("object", "chat.completion")
        w.field("created", created)
        w.field("model", model)
        w.key("choices")
        w.beginArray()
        for choice in choices {
            w.beginObject()
            w.field("index", choice.index)
            w.key("message")
            w.beginObject()
            w.field("role", "assistant")
            w.field("content", choice.content)
            w.key("tool_calls"); w.beginArray(); w.endArray()
            w.endObject()
            w.field("logprobs", chatLogprobs: choice.logprobs)
            w.field("finish_reason", choice.finishReason)
            w.field("stop_reason", choice.stopReason)
            if let ids = choice.tokenIDs { w.key("token_ids"); w.intArray(ids) }
            w.endObject()
        }
        w.endArray()
        w.field("usage", usage, full: true)
        w.nullField("service_tier")
        w.nullField("system_fingerprint")
        w.writePromptLogprobs(promptLogprobs)
        w.nullField("kv_transfer_params")
        w.endObject()
        return w.text
    }
}

/// Encodes the events of one streamed chat completion.
public struct ChatCompletionStreamEncoder: Sendable {
    public let id: String
    public let created: Int
    public let model: String

    public init(id: String, created: Int, model: String) {
        self.id = id
        self.created = created
        self.model = model
    }

    /// The first chunk of choice `index`: `"delta":{"role":"assistant","content":""}`.
    public func roleChunk(index: Int, usage: Usage? = nil) -> String {
        event(index: index, role: "assistant", content: "", logprobs: nil, finishReason: nil, stopReason: nil,
              usage: usage, tokenIDs: nil)
    }

    /// A content delta; the chunk that finishes the choice carries `finishReason` (and then
    /// `stop_reason`). A nil `content` writes an empty delta `{}`.
    public func chunk(index: Int, content: String?, logprobs: [ChatTokenLogprob]? = nil,
                      finishReason: FinishReason? = nil, stopReason: StopReason? = nil, usage: Usage? = nil,
                      tokenIDs: [Int]? = nil) -> String {
        event(index: index, role: nil, content: content, logprobs: logprobs, finishReason: finishReason,
              stopReason: stopReason, usage: usage, tokenIDs: tokenIDs)
    }

    /// The final usage chunk (`include_usage`).
    public func usageChunk(_ usage: Usage) -> String {
        var w = header()
        w.key("choices"); w.beginArray(); w.endArray()
        w.field("usage", usage, full: false)
        w.endObject()
        return ServerSentEvents.event(w.text)
    }

    private func event(index: Int, role: String?, content: String?, logprobs: [ChatTokenLogprob]?,
                       finishReason: FinishReason?, stopReason: StopReason?, usage: Usage?,
                       tokenIDs: [Int]?) -> String {
        var w = header()
        w.key("choices")
        w.beginArray()
        w.beginObject()
        w.field("index", index)
        w.key("delta")
        w.beginObject()
        if let role { w.field("role", role) }
        if let content { w.field("content", content) }
        w.endObject()
        w.field("logprobs", chatLogprobs: logprobs)
        w.field("finish_reason", finishReason)
        if finishReason != nil { w.field("stop_reason", stopReason) }
        if let ids = tokenIDs { w.key("token_ids"); w.intArray(ids) }
        w.endObject()
        w.endArray()
        if let usage { w.field("usage", usage, full: false) }
        w.endObject()
        return ServerSentEvents.event(w.text)
    }

    private func header() -> JSONWriter {
        var w = JSONWriter(reservingCapacity: 256)
        w.beginObject()
        w.field("id", id)
        w.field("object", "chat.completion.chunk")
        w.field("created", created)
        w.field("model", model)
        return w
    }
}
