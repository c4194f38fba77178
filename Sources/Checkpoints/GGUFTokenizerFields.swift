/// The tokenizer as a GGUF file describes it in `tokenizer.*` metadata, unconverted. The Tokenizers target has
/// its own type; this plain struct is what the lead converts from.
public struct GGUFTokenizerFields: Sendable, Equatable {
    /// `tokenizer.ggml.model`: "gpt2" (byte-level BPE), "llama" (SentencePiece), …
    public var model: String
    /// `tokenizer.ggml.pre`: the pre-tokenizer name, e.g. "smollm", "llama-bpe", "qwen2".
    public var preTokenizer: String?
    /// `tokenizer.ggml.tokens`: the vocabulary; the index is the token id.
    public var tokens: [String]
    /// `tokenizer.ggml.token_type` (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte).
    public var tokenTypes: [Int]?
    /// `tokenizer.ggml.scores` (SentencePiece models).
    public var scores: [Float]?
    /// `tokenizer.ggml.merges`: "left right" pairs in rank order (BPE models).
    public var merges: [String]?
    public var bosTokenId: Int?
    public var eosTokenId: Int?
    public var unknownTokenId: Int?
    public var paddingTokenId: Int?
    public var separatorTokenId: Int?
    public var addBosToken: Bool?
    public var addEosToken: Bool?
    public var addSpacePrefix: Bool?
    /// `tokenizer.chat_template` (Jinja).
    public var chatTemplate: String?

    public init(model: String, preTokenizer: String? = nil, tokens: [String], tokenTypes: [Int]? = nil,
                scores: [Float]? = nil, merges: [String]? = nil, bosTokenId: Int? = nil, eosTokenId: Int? = nil,
                unknownTokenId: Int? = nil, paddingTokenId: Int? = nil, separatorTokenId: Int? = nil,
                addBosToken: Bool? = nil, addEosToken: Bool? = nil, addSpacePrefix: Bool? = nil,
                chatTemplate: String? = nil) {
        self.model = model
        self.preTokenizer = preTokenizer
        self.tokens = tokens
        self.tokenTypes = tokenTypes
        self.scores = scores
        self.merges = merges
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.unknownTokenId = unknownTokenId
        self.paddingTokenId = paddingTokenId
        self.separatorTokenId = separatorTokenId
        self.addBosToken = addBosToken
        self.addEosToken = addEosToken
        self.addSpacePrefix = addSpacePrefix
        self.chatTemplate = chatTemplate
    }
}

extension GGUFFile {
    /// Reads the `tokenizer.*` metadata. The model and token list are required; every other field is optional,
    /// but present with the wrong type, a length that disagrees with the vocabulary or an id outside it, it is
    /// an error naming the key.
    public func tokenizerMetadata() throws -> GGUFTokenizerFields {
        func bad(_ key: String, _ problem: String) -> CheckpointError {
            .badMetadata(file: description, key: key, problem: problem)
        }
        func strings(_ key: String) throws -> [String]? {
            guard let value = ggufMetadata[key] else { return nil }
            guard let list = value.stringArray else { throw bad(key, "expected an array of strings, found \(value.typeName)") }
            return list
        }
        func optionalString(_ key: String) throws -> String? {
            guard let value = ggufMetadata[key] else { return nil }
            guard let text = value.stringValue else { throw bad(key, "expected a string, found \(value.typeName)") }
            return text
        }
        func flag(_ key: String) throws -> Bool? {
            guard let value = ggufMetadata[key] else { return nil }
            guard let result = value.boolValue else { throw bad(key, "expected a bool, found \(value.typeName)") }
            return result
        }
        let model = try string("tokenizer.ggml.model")
        guard let tokens = try strings("tokenizer.ggml.tokens") else { throw bad("tokenizer.ggml.tokens", "missing") }
        let vocabulary = tokens.count
        func tokenID(_ key: String) throws -> Int? {
            guard let value = ggufMetadata[key] else { return nil }
            guard let id = value.intValue else { throw bad(key, "expected an integer, found \(value.typeName)") }
            guard (0..<vocabulary).contains(id) else { throw bad(key, "token id \(id) is outside the vocabulary of \(vocabulary)") }
            return id
        }
        func perToken<T>(_ key: String, _ convert: (GGUFValue) -> T?, _ kind: String) throws -> [T]? {
            guard let value = ggufMetadata[key] else { return nil }
            guard let elements = value.arrayValue else { throw bad(key, "expected an array of \(kind), found \(value.typeName)") }
            guard elements.count == vocabulary else {
                throw bad(key, "has \(elements.count) entries but the vocabulary has \(vocabulary) tokens")
            }
            var result: [T] = []
            result.reserveCapacity(elements.count)
            for (index, element) in elements.enumerated() {
                guard let converted = convert(element) else { throw bad(key, "entry \(index) is \(element.typeName), not \(kind)") }
                result.append(converted)
            }
            return result
        }
        return GGUFTokenizerFields(
            model: model,
            preTokenizer: try optionalString("tokenizer.ggml.pre"),
            tokens: tokens,
            tokenTypes: try perToken("tokenizer.ggml.token_type", { $0.intValue }, "integers"),
            scores: try perToken("tokenizer.ggml.scores", { $0.doubleValue.map(Float.init) }, "numbers"),
            merges: try strings("tokenizer.ggml.merges"),
            bosTokenId: try tokenID("tokenizer.ggml.bos_token_id"),
            eosTokenId: try tokenID("tokenizer.ggml.eos_token_id"),
            unknownTokenId: try tokenID("tokenizer.ggml.unknown_token_id"),
            paddingTokenId: try tokenID("tokenizer.ggml.padding_token_id"),
            separatorTokenId: try tokenID("tokenizer.ggml.seperator_token_id") ?? tokenID("tokenizer.ggml.separator_token_id"),
            addBosToken: try flag("tokenizer.ggml.add_bos_token"),
            addEosToken: try flag("tokenizer.ggml.add_eos_token"),
            addSpacePrefix: try flag("tokenizer.ggml.add_space_prefix"),
            chatTemplate: try optionalString("tokenizer.chat_template"))
    }
}
