// The four shapes a /v1/completions `prompt` may take, told apart exactly as vLLM does:
// a flat list of integers is always one tokenized prompt, never a batch.

/// The `prompt` of a completion request.
public enum PromptInput: Sendable, Equatable {
    /// `"text"`: one prompt, tokenized with the verifier tokenizer.
    case text(String)
    /// `["a", "b"]`: a batch of text prompts.
    case texts([String])
    /// `[1, 2, 3]`: one pre-tokenized prompt, used verbatim (no BOS added).
    case tokens([Int])
    /// `[[1, 2], [3, 4]]`: a batch of pre-tokenized prompts.
    case tokenBatches([[Int]])

    /// One prompt of a batch.
    public enum Item: Sendable, Equatable {
        case text(String)
        case tokens([Int])
    }

    /// The prompts in order; prompt `p` owns choice indices `p*n ..< (p+1)*n`.
    public var items: [Item] {
        switch self {
        case .text(let s): return [.text(s)]
        case .texts(let list): return list.map { .text($0) }
        case .tokens(let ids): return [.tokens(ids)]
        case .tokenBatches(let batches): return batches.map { .tokens($0) }
        }
    }

    /// Number of prompts.
    public var count: Int {
        switch self {
        case .text, .tokens: return 1
        case .texts(let list): return list.count
        case .tokenBatches(let batches): return batches.count
        }
    }
}

extension PromptInput {
    /// Reads `prompt`. Null, absent or `""` is vLLM's "must be provided" 400; shapes that are none
    /// of the four (mixed lists, negative ids, nested strings) are schema issues.
    static func read(_ r: inout FieldReader) throws(APIError) -> PromptInput? {
        guard let value = r.raw("prompt"), !value.isNull, value != .string("") else {
            throw .badRequest("Either prompt or prompt_embeds must be provided and non-empty.", param: "prompt")
        }
        let location = r.path("prompt")
        func shapeIssue(_ input: RequestJSON, at loc: [LocationPart]) -> SchemaIssue {
            SchemaIssue(kind: "prompt_type", location: loc,
                        message: "Input should be a string, a list of strings, a list of token ids "
                            + "or a list of lists of token ids", input: input)
        }
        switch value {
        case .string(let s):
            return .text(s)
        case .array(let elements):
            guard let first = elements.first else { return .tokens([]) }
            switch first {
            case .number:
                return r.intList(value, at: location, minimum: 0).map { .tokens($0) }
            case .string:
                var texts: [String] = []
                for (i, e) in elements.enumerated() {
                    guard case .string(let s) = e else { r.record(shapeIssue(e, at: location + [.index(i)])); continue }
                    texts.append(s)
                }
                return texts.count == elements.count ? .texts(texts) : nil
            case .array:
                var batches: [[Int]] = []
                for (i, e) in elements.enumerated() {
                    guard case .array = e else { r.record(shapeIssue(e, at: location + [.index(i)])); continue }
                    if let ids = r.intList(e, at: location + [.index(i)], minimum: 0) { batches.append(ids) }
                }
                return batches.count == elements.count ? .tokenBatches(batches) : nil
            default:
                r.record(shapeIssue(first, at: location + [.index(0)]))
                return nil
            }
        default:
            r.record(shapeIssue(value, at: location))
            return nil
        }
    }

    /// Batch-size, emptiness and vocabulary checks that need no tokenizer.
    func validate(context: ValidationContext) throws(APIError) {
        let isBatch: Bool
        switch self {
        case .text, .tokens: isBatch = false
        case .texts, .tokenBatches: isBatch = true
        }
        if isBatch && count > context.maxPromptsPerRequest {
            throw .badRequest("prompt list length \(count) exceeds the maximum allowed count of "
                              + "\(context.maxPromptsPerRequest). To increase this limit, raise "
                              + "limits.max_prompts_per_request in the server configuration.", param: "prompt")
        }
        for item in items {
            guard case .tokens(let ids) = item else { continue }
            guard let largest = ids.max() else { throw APIError.emptyPrompt }
            if let vocab = context.vocabularySize, largest >= vocab { throw APIError.tokenOutOfVocabulary(largest) }
        }
    }
}
