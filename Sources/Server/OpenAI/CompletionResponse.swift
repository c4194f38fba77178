// The non-streaming /v1/completions response, serialised with the key order of the spec's
// example (which the OpenAI SDK does not need, but byte-level comparisons with vLLM do).

/// One logprob entry of `prompt_logprobs` (vLLM's `{"<id>": {"logprob","rank","decoded_token"}}`).
public struct PromptTokenLogprob: Sendable, Equatable {
    public var tokenID: Int
    public var logprob: Float
    /// 1-based rank of the token in the distribution.
    public var rank: Int
    public var decodedToken: String

    public init(tokenID: Int, logprob: Float, rank: Int, decodedToken: String) {
        self.tokenID = tokenID
        self.logprob = logprob
        self.rank = rank
        self.decodedToken = decodedToken
    }
}

/// One choice of a completion response.
public struct CompletionChoice: Sendable, Equatable {
    /// `prompt_index * n + j`.
    public var index: Int
    public var text: String
    public var logprobs: CompletionLogprobs?
    public var finishReason: FinishReason?
    public var stopReason: StopReason?
    /// Generated ids (only with `return_token_ids`).
    public var tokenIDs: [Int]?
    /// Per prompt position: nil for the first token, else the chosen token and alternatives.
    public var promptLogprobs: [[PromptTokenLogprob]?]?
    /// Prompt ids (only with `return_token_ids`).
    public var promptTokenIDs: [Int]?

    public init(index: Int, text: String, logprobs: CompletionLogprobs? = nil, finishReason: FinishReason?,
                stopReason: StopReason? = nil, tokenIDs: [Int]? = nil,
                promptLogprobs: [[PromptTokenLogprob]?]? = nil, promptTokenIDs: [Int]? = nil) {
        self.index = index
        self.text = text
        self.logprobs = logprobs
        self.finishReason = finishReason
        self.stopReason = stopReason
        self.tokenIDs = tokenIDs
        self.promptLogprobs = promptLogprobs
        self.promptTokenIDs = promptTokenIDs
    }
}

/// The body of a non-streaming `/v1/completions` answer.
public struct CompletionResponse: Sendable, Equatable {
    /// `cmpl-<request id>`.
    public var id: String
    /// Unix seconds, taken once when the request was accepted.
    public var created: Int
    /// The served model name.
    public var model: String
    public var choices: [CompletionChoice]
    public var usage: Usage

    public init(id: String, created: Int, model: String, choices: [CompletionChoice], usage: Usage) {
        self.id = id
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
    }

    public var jsonString: String {
        var w = JSONWriter(reservingCapacity: 512)
        w.beginObject()
        w.field("id", id)
        w.field("object", "text_completion")
        w.field("created", created)
        w.field("model", model)
        w.key("choices")
        w.beginArray()
        for choice in choices {
            w.beginObject()
            w.field("index", choice.index)
            w.field("text", choice.text)
            w.field("logprobs", choice.logprobs)
            w.field("finish_reason", choice.finishReason)
            w.field("stop_reason", choice.stopReason)
            if let ids = choice.tokenIDs { w.key("token_ids"); w.intArray(ids) }
            w.writePromptLogprobs(choice.promptLogprobs)
            if let ids = choice.promptTokenIDs { w.key("prompt_token_ids"); w.intArray(ids) }
            w.endObject()
        }
        w.endArray()
        w.field("usage", usage, full: true)
        w.nullField("service_tier")
        w.nullField("system_fingerprint")
        w.nullField("kv_transfer_params")
        w.endObject()
        return w.text
    }
}

extension JSONWriter {
    mutating func writePromptLogprobs(_ positions: [[PromptTokenLogprob]?]?) {
        key("prompt_logprobs")
        guard let positions else { null(); return }
        beginArray()
        for position in positions {
            guard let entries = position else { null(); continue }
            beginObject()
            for e in entries {
                key(String(e.tokenID))
                beginObject()
                key("logprob"); float(reportable(e.logprob))
                field("rank", e.rank)
                field("decoded_token", e.decodedToken)
                endObject()
            }
            endObject()
        }
        endArray()
    }
}
