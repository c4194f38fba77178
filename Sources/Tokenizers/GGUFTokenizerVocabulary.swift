/// The tokenizer metadata of a GGUF file (`tokenizer.ggml.*` keys), filled in by the GGUF reader.
/// `Tokenizer(gguf:)` turns it into the same tokenizer the model's Hugging Face tokenizer.json describes.
public struct GGUFTokenizerVocabulary: Sendable, Equatable {
    /// `tokenizer.ggml.model`: only "gpt2" (byte-level BPE) is supported.
    public var model: String
    /// `tokenizer.ggml.pre`: names the pre-tokenizer, such as "smollm", "llama-bpe", "qwen2" or "gpt-2".
    public var pre: String?
    /// `tokenizer.ggml.tokens`, indexed by token id.
    public var tokens: [String]
    /// `tokenizer.ggml.token_type`, one per token (empty means all normal): 1 normal, 2 unknown, 3 control,
    /// 4 user-defined, 5 unused, 6 byte.
    public var tokenTypes: [Int32]
    /// `tokenizer.ggml.merges`, each "left right" in rank order.
    public var merges: [String]
    public var bosTokenId: Int?
    public var eosTokenId: Int?
    /// `tokenizer.ggml.eot_token_id` / `eom_token_id`: end of turn / end of message.
    public var eotTokenId: Int?
    public var eomTokenId: Int?
    public var paddingTokenId: Int?
    public var unknownTokenId: Int?
    public var addBosToken: Bool?
    public var addEosToken: Bool?
    /// `tokenizer.chat_template`.
    public var chatTemplate: String?

    public init(model: String, pre: String?, tokens: [String], tokenTypes: [Int32], merges: [String],
                bosTokenId: Int? = nil, eosTokenId: Int? = nil, eotTokenId: Int? = nil, eomTokenId: Int? = nil,
                paddingTokenId: Int? = nil, unknownTokenId: Int? = nil, addBosToken: Bool? = nil,
                addEosToken: Bool? = nil, chatTemplate: String? = nil) {
        self.model = model
        self.pre = pre
        self.tokens = tokens
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.eotTokenId = eotTokenId
        self.eomTokenId = eomTokenId
        self.paddingTokenId = paddingTokenId
        self.unknownTokenId = unknownTokenId
        self.addBosToken = addBosToken
        self.addEosToken = addEosToken
        self.chatTemplate = chatTemplate
    }

    /// Token type values of `tokenizer.ggml.token_type`.
    public enum TokenType: Int32, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }
}

extension GGUFTokenizerVocabulary {
    /// How llama.cpp reads each `tokenizer.ggml.pre` name: the pre-tokenizer, and whether whole-word
    /// vocabulary hits skip the merges (`ignore_merges`).
    static func preTokenizer(named name: String) throws -> (PreTokenizer, ignoreMerges: Bool, normalizer: Normalizer?) {
        switch name {
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2":
            return (.llama3, true, nil)
        case "dbrx", "smaug-bpe", "chatglm-bpe", "glm4":
            return (.llama3, false, nil)
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open":
            // Qwen2's Hugging Face tokenizer normalizes to NFC.
            return (.qwen2, false, .nfc)
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b", "mellum2":
            return (.digitsThenGPT2, false, nil)
        case "gpt-2", "gpt2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0",
             "mellum", "modern-bert", "jina-v1-en", "jina-v2-code", "roberta-bpe", "exaone4", "mpt", "olmo", "jais",
             "trillion", "granite-docling":
            return (.gpt2, false, nil)
        default:
            throw TokenizerError.unsupported("tokenizer.ggml.pre \(name.debugDescription) (supported: the llama3, qwen2, smollm/starcoder and gpt-2 families)")
        }
    }

    /// End-of-generation tokens that llama.cpp recognises by their text when they are control tokens.
    static let endOfTurnTexts: Set<String> = ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                              "<|eom_id|>", "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>"]

    func definition() throws -> TokenizerDefinition {
        guard model == "gpt2" else {
            throw TokenizerError.unsupported("tokenizer.ggml.model \(model.debugDescription); only \"gpt2\" (byte-level BPE) is implemented")
        }
        guard tokenTypes.isEmpty || tokenTypes.count == tokens.count else {
            throw TokenizerError.invalidValue(keyPath: "tokenizer.ggml.token_type",
                                              problem: "has \(tokenTypes.count) entries for \(tokens.count) tokens")
        }
        var definition = TokenizerDefinition()
        guard let preName = pre, !preName.isEmpty else {
            throw TokenizerError.invalidValue(keyPath: "tokenizer.ggml.pre", problem: "missing; the pre-tokenizer cannot be chosen")
        }
        let (preTokenizer, ignoreMerges, normalizer) = try Self.preTokenizer(named: preName)
        definition.preTokenizer = preTokenizer
        definition.ignoreMerges = ignoreMerges
        definition.normalizer = normalizer

        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() { vocabulary[token] = id }
        definition.vocabulary = vocabulary
        definition.mergesKeyPath = "tokenizer.ggml.merges"
        definition.merges.reserveCapacity(merges.count)
        for (index, merge) in merges.enumerated() {
            let parts = merge.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw TokenizerError.invalidValue(keyPath: "tokenizer.ggml.merges[\(index)]",
                                                  problem: "expected \"left right\", found \(merge.debugDescription)")
            }
            definition.merges.append((String(parts[0]), String(parts[1])))
        }

        // Control (and unknown) tokens become special added tokens, user-defined ones plain added tokens,
        // which is how Hugging Face's converters wrote them into the GGUF.
        for (id, type) in tokenTypes.enumerated() {
            switch TokenType(rawValue: type) {
            case .control, .unknown: definition.addedTokens.append(AddedToken(id: id, content: tokens[id], special: true))
            case .userDefined: definition.addedTokens.append(AddedToken(id: id, content: tokens[id], special: false))
            default: continue
            }
        }
        for (key, id) in [("bos_token_id", bosTokenId), ("eos_token_id", eosTokenId), ("eot_token_id", eotTokenId),
                          ("eom_token_id", eomTokenId), ("padding_token_id", paddingTokenId),
                          ("unknown_token_id", unknownTokenId)] {
            if let id, !(0..<tokens.count).contains(id) {
                throw TokenizerError.invalidValue(keyPath: "tokenizer.ggml.\(key)", problem: "\(id) is not a token id (vocabulary has \(tokens.count))")
            }
        }
        definition.bosTokenId = bosTokenId
        definition.padTokenId = paddingTokenId
        var endOfTurn = [eosTokenId, eotTokenId, eomTokenId].compactMap { $0 }
        for token in definition.addedTokens where token.special && Self.endOfTurnTexts.contains(token.content) {
            endOfTurn.append(token.id)
        }
        definition.eosTokenIds = endOfTurn
        if addBosToken == true, let bosTokenId { definition.specialPrefix = [bosTokenId] }
        if addEosToken == true, let eosTokenId { definition.specialSuffix = [eosTokenId] }
        definition.chatTemplate = chatTemplate
        return definition
    }
}
