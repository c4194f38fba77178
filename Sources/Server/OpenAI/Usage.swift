// Token accounting of a response. vLLM's key order is prompt, total, completion.

/// The `usage` object.
public struct Usage: Sendable, Equatable {
    /// Sum of prompt lengths, counted once per prompt (not per choice).
    public var promptTokens: Int
    /// Sum of generated tokens over all choices, including a stop/EOS token whose text is not returned.
    public var completionTokens: Int
    /// Prompt tokens served from a prefix cache, when that is reported (`prompt_tokens_details`).
    public var cachedPromptTokens: Int?

    public init(promptTokens: Int, completionTokens: Int, cachedPromptTokens: Int? = nil) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedPromptTokens = cachedPromptTokens
    }

    public var totalTokens: Int { promptTokens + completionTokens }
}

extension JSONWriter {
    /// `"usage":{...}`. The full form (non-streaming responses) also carries
    /// `prompt_tokens_details`; stream chunks omit unset fields.
    mutating func field(_ name: String, _ usage: Usage, full: Bool) {
        key(name)
        beginObject()
        field("prompt_tokens", usage.promptTokens)
        field("total_tokens", usage.totalTokens)
        field("completion_tokens", usage.completionTokens)
        if full {
            key("prompt_tokens_details")
            if let cached = usage.cachedPromptTokens {
                beginObject(); field("cached_tokens", cached); endObject()
            } else {
                null()
            }
        }
        endObject()
    }
}
