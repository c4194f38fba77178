// Prompt + output must fit in the context length L. These checks run per prompt after
// tokenization; any failure fails the whole request before anything is generated.

/// Context-length arithmetic and its errors.
public enum ContextWindow {
    /// `max_tokens > L` is refused before tokenizing.
    static func checkRequestedMaxTokens(_ maxTokens: Int?, param: String,
                                        context: ValidationContext) throws(APIError) {
        guard let m = maxTokens, m > context.maxModelLen else { return }
        throw .badRequest("\(param)=\(m) cannot be greater than max_model_len=\(context.maxModelLen). "
                          + "Please request fewer output tokens.", param: param, value: String(m))
    }

    /// The output budget of one prompt of `promptTokens` tokens: `min(requested, L - P, cap)`.
    ///
    /// `requested` nil means "fill the context" (chat without `max_completion_tokens`); it still
    /// needs room for one token. A prompt that leaves less room than requested is a 400 with
    /// the OpenAI-style wording "This model's maximum context length is ...", param
    /// `input_tokens`. `cap` is the generation config's `max_new_tokens`.
    public static func effectiveMaxTokens(requested: Int?, promptTokens: Int, maxModelLen: Int,
                                          cap: Int? = nil) throws(APIError) -> Int {
        let needed = requested ?? 1
        if promptTokens > maxModelLen - needed {
            throw contextLengthExceeded(promptTokens: promptTokens, requested: needed, maxModelLen: maxModelLen)
        }
        var budget = min(requested ?? Int.max, maxModelLen - promptTokens)
        if let cap { budget = min(budget, cap) }
        return budget
    }

    /// For `/tokenize`: a prompt longer than L is refused (no output is requested).
    public static func checkPromptLength(promptTokens: Int, maxModelLen: Int) throws(APIError) {
        if promptTokens > maxModelLen {
            throw contextLengthExceeded(promptTokens: promptTokens, requested: 0, maxModelLen: maxModelLen)
        }
    }

    /// The 400 for a prompt that does not fit, in the wording clients grep for.
    public static func contextLengthExceeded(promptTokens: Int, requested: Int, maxModelLen: Int) -> APIError {
        .badRequest("This model's maximum context length is \(maxModelLen) tokens. However, you requested "
                    + "\(requested) output tokens and your prompt contains at least \(promptTokens) input tokens, "
                    + "for a total of at least \(promptTokens + requested) tokens. Please reduce the length of "
                    + "the input prompt or the number of requested output tokens.",
                    param: "input_tokens", value: String(promptTokens))
    }
}
