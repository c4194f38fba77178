// POST /tokenize and POST /detokenize: cheap endpoints that expose the verifier tokenizer.

/// A validated `/tokenize` request: either a text prompt or chat messages to render.
public struct TokenizeRequest: Sendable, Equatable {
    public enum Input: Sendable, Equatable {
        case prompt(String)
        /// The chat form: render the template first.
        case messages([ChatMessage], addGenerationPrompt: Bool, continueFinalMessage: Bool, chatTemplate: String?)
    }

    public var model: String
    public var input: Input
    /// Default true for a prompt, false for messages (the template adds BOS itself).
    public var addSpecialTokens: Bool
    /// Also return each token's text (`token_strs`).
    public var returnTokenStrings: Bool

    public static func decode(_ body: [UInt8], context: ValidationContext) throws(APIError) -> TokenizeRequest {
        var r = try bodyReader(body)
        let model = r.string("model")
        let returnStrings = r.bool("return_token_strs") ?? false
        let addSpecial = r.bool("add_special_tokens", nullable: false)
        let input: Input?
        if r.has("messages") {
            let messages = try ChatMessage.readList(&r)
            let addGeneration = r.bool("add_generation_prompt", nullable: false) ?? true
            let continueFinal = r.bool("continue_final_message", nullable: false) ?? false
            let template = r.string("chat_template")
            if continueFinal && addGeneration && r.issues.isEmpty {
                throw .badRequest("Cannot set both `continue_final_message` and `add_generation_prompt` to True.")
            }
            input = messages.map { .messages($0, addGenerationPrompt: addGeneration, continueFinalMessage: continueFinal,
                                             chatTemplate: template) }
        } else {
            input = r.require("prompt") != nil ? r.string("prompt", nullable: false).map { .prompt($0) } : nil
        }
        if !r.issues.isEmpty { throw APIError.schema(r.issues) }
        guard let input else { throw APIError.schema(r.issues) }
        let isChat: Bool = { if case .messages = input { return true } else { return false } }()
        return TokenizeRequest(model: try context.resolveModel(model), input: input,
                               addSpecialTokens: addSpecial ?? !isChat, returnTokenStrings: returnStrings)
    }
}

/// A validated `/detokenize` request.
public struct DetokenizeRequest: Sendable, Equatable {
    public var model: String
    public var tokens: [Int]

    public static func decode(_ body: [UInt8], context: ValidationContext) throws(APIError) -> DetokenizeRequest {
        var r = try bodyReader(body)
        let model = r.string("model")
        let tokens = r.require("tokens") != nil ? r.intList("tokens", nullable: false) : nil
        if !r.issues.isEmpty { throw APIError.schema(r.issues) }
        guard let tokens else { throw APIError.schema(r.issues) }
        let resolved = try context.resolveModel(model)
        let vocabulary = context.vocabularySize ?? Int.max
        if let bad = tokens.first(where: { $0 < 0 || $0 >= vocabulary }) {
            throw APIError.tokenOutOfVocabulary(bad)
        }
        return DetokenizeRequest(model: resolved, tokens: tokens)
    }
}
