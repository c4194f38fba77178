// Streaming /v1/completions: one SSE event per (choice, engine step), each carrying exactly
// one choice with the text delta; an optional usage chunk with `choices: []`; then [DONE].

/// Encodes the events of one streamed completion. Holds the fields every chunk repeats.
public struct CompletionStreamEncoder: Sendable {
    public let id: String
    public let created: Int
    public let model: String

    public init(id: String, created: Int, model: String) {
        self.id = id
        self.created = created
        self.model = model
    }

    /// One chunk for choice `index` as an SSE event. `usage` is sent only with
    /// `continuous_usage_stats`; `promptTokenIDs` only on a choice's first chunk and `tokenIDs`
    /// (the delta's ids) only with `return_token_ids`.
    public func chunk(index: Int, text: String, logprobs: CompletionLogprobs? = nil,
                      finishReason: FinishReason? = nil, stopReason: StopReason? = nil, usage: Usage? = nil,
                      promptTokenIDs: [Int]? = nil, tokenIDs: [Int]? = nil) -> String {
        var w = header()
        w.key("choices")
        w.beginArray()
        w.beginObject()
        w.field("index", index)
        w.field("text", text)
        w.field("logprobs", logprobs)
        w.field("finish_reason", finishReason)
        w.field("stop_reason", stopReason)
        if let ids = promptTokenIDs { w.key("prompt_token_ids"); w.intArray(ids) }
        if let ids = tokenIDs { w.key("token_ids"); w.intArray(ids) }
        w.endObject()
        w.endArray()
        if let usage { w.field("usage", usage, full: false) }
        w.endObject()
        return ServerSentEvents.event(w.text)
    }

    /// The final usage chunk (`include_usage`): no choices, usage without null fields.
    public func usageChunk(_ usage: Usage) -> String {
        var w = header()
        w.key("choices")
        w.beginArray()
        w.endArray()
        w.field("usage", usage, full: false)
        w.endObject()
        return ServerSentEvents.event(w.text)
    }

    private func header() -> JSONWriter {
        var w = JSONWriter(reservingCapacity: 256)
        w.beginObject()
        w.field("id", id)
        w.field("object", "text_completion")
        w.field("created", created)
        w.field("model", model)
        return w
    }
}
