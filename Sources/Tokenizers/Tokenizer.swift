import Foundation

/// A byte-level BPE tokenizer (GPT-2, Llama-3, Qwen2, SmolLM2 style) that gives the same ids and text as
/// the Hugging Face `tokenizers` library for the same tokenizer.json.
///
/// Immutable after loading and safe to share between threads; only the internal word cache is locked.
public final class Tokenizer: Sendable {
    /// Larger than any real vocabulary (the largest are about 260,000 ids).
    static let maximumVocabularySize = 16_000_000

    private let model: BPEModel
    private let normalizer: Normalizer?
    private let preTokenizer: PreTokenizer
    /// Added tokens matched on the raw input, and those matched after normalization.
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    private let tokensById: [String?]
    private let idsByToken: [ExactText: Int]
    /// The decoded bytes of every id, concatenated; `byteOffsets[id]..<byteOffsets[id + 1]`.
    private let tokenBytes: [UInt8]
    private let byteOffsets: [Int32]
    private let isSpecial: [Bool]
    private let specialPrefix: [Int]
    private let specialSuffix: [Int]
    private let chatTemplateResult: Result<ChatTemplate, TokenizerError>

    /// Number of ids: one more than the largest id of the vocabulary and added tokens.
    public let vocabularySize: Int
    public let addedTokens: [AddedToken]
    public let bosTokenId: Int?
    /// Ids that end generation: the tokenizer's eos plus the end-of-turn ids of generation_config.json
    /// (or, for GGUF, eos/eot/eom and control tokens such as `<|im_end|>` and `<|eot_id|>`).
    public let eosTokenIds: Set<Int>
    public let padTokenId: Int?
    /// Ids of the special added tokens (those `decode(skipSpecialTokens: true)` drops).
    public let specialTokenIds: Set<Int>
    /// The chat template text, if the tokenizer has one.
    public let chatTemplateSource: String?

    /// Loads a Hugging Face model folder: tokenizer.json (required), tokenizer_config.json, chat_template.jinja
    /// and generation_config.json (optional).
    public convenience init(folder: URL) throws {
        func optional(_ name: String) throws -> Data? {
            let url = folder.appendingPathComponent(name)
            return FileManager.default.fileExists(atPath: url.path) ? try JSONFile.read(url) : nil
        }
        let tokenizerURL = folder.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: tokenizerURL.path) else {
            throw TokenizerError.unreadableFile(path: tokenizerURL.path, reason: "no such file")
        }
        let template = try optional("chat_template.jinja").map { String(decoding: $0, as: UTF8.self) }
        try self.init(tokenizerJSON: try JSONFile.read(tokenizerURL), tokenizerConfigJSON: try optional("tokenizer_config.json"),
                      generationConfigJSON: try optional("generation_config.json"), chatTemplate: template)
    }

    /// Builds a tokenizer from the contents of the files `init(folder:)` reads. `chatTemplate` overrides the
    /// template of tokenizer_config.json.
    public convenience init(tokenizerJSON: Data, tokenizerConfigJSON: Data? = nil, generationConfigJSON: Data? = nil,
                            chatTemplate: String? = nil) throws {
        try self.init(definition: TokenizerJSONLoader.definition(
            tokenizerJSON: tokenizerJSON, tokenizerConfigJSON: tokenizerConfigJSON,
            generationConfigJSON: generationConfigJSON, chatTemplate: chatTemplate))
    }

    /// Builds the tokenizer a GGUF file describes.
    public convenience init(gguf: GGUFTokenizerVocabulary) throws {
        try self.init(definition: gguf.definition())
    }

    init(definition: TokenizerDefinition) throws {
        model = try BPEModel(vocabulary: definition.vocabulary, merges: definition.merges,
                             ignoreMerges: definition.ignoreMerges, unknownToken: definition.unknownToken,
                             fuseUnknown: definition.fuseUnknown, mergesKeyPath: definition.mergesKeyPath)
        normalizer = definition.normalizer
        preTokenizer = definition.preTokenizer
        addedTokens = definition.addedTokens

        // Normalized added tokens are looked for in normalized text, so their pattern is normalized too.
        let raw = definition.addedTokens.filter { !$0.normalized }
        let normalized = definition.addedTokens.filter(\.normalized)
        rawMatcher = AddedTokenMatcher(tokens: raw, patterns: raw.map(\.content))
        normalizedMatcher = AddedTokenMatcher(tokens: normalized, patterns: normalized.map { token in
            definition.normalizer?.apply(token.content) ?? token.content
        })

        let largestId = max(definition.vocabulary.values.max() ?? -1, definition.addedTokens.map(\.id).max() ?? -1)
        // Ids index dense tables; an absurd id would mean an absurd allocation, so refuse it.
        guard largestId < Self.maximumVocabularySize else {
            throw TokenizerError.inconsistentVocabulary("token id \(largestId) is beyond the supported \(Self.maximumVocabularySize) ids")
        }
        vocabularySize = largestId + 1
        let size = vocabularySize
        let validId = { (id: Int?) -> Int? in id.flatMap { (0..<size).contains($0) ? $0 : nil } }
        var strings = [String?](repeating: nil, count: vocabularySize)
        for (token, id) in definition.vocabulary { strings[id] = token }
        var ids: [ExactText: Int] = [:]
        for (token, id) in definition.vocabulary { ids[ExactText(token)] = id }
        var special = [Bool](repeating: false, count: vocabularySize)
        for token in definition.addedTokens {
            strings[token.id] = token.normalized ? (definition.normalizer?.apply(token.content) ?? token.content) : token.content
            ids[ExactText(token.content)] = token.id
            special[token.id] = token.special
        }
        tokensById = strings
        idsByToken = ids
        isSpecial = special
        specialTokenIds = Set(definition.addedTokens.filter(\.special).map(\.id))

        var bytes: [UInt8] = []
        var offsets: [Int32] = [0]
        offsets.reserveCapacity(vocabularySize + 1)
        for token in strings {
            if let token { bytes += ByteLevelAlphabet.decode(token) }
            offsets.append(Int32(bytes.count))
        }
        tokenBytes = bytes
        byteOffsets = offsets

        for id in definition.specialPrefix + definition.specialSuffix where !(0..<vocabularySize).contains(id) {
            throw TokenizerError.inconsistentVocabulary("special id \(id) added around encoded text is not a token id")
        }
        specialPrefix = definition.specialPrefix
        specialSuffix = definition.specialSuffix
        // Ids from config files that name no token are ignored rather than trusted.
        bosTokenId = validId(definition.bosTokenId)
        eosTokenIds = Set(definition.eosTokenIds.compactMap(validId))
        padTokenId = validId(definition.padTokenId)

        chatTemplateSource = definition.chatTemplate
        let bosText = validId(definition.bosTokenId).flatMap { strings[$0] }
        let eosText = definition.eosTokenIds.compactMap(validId).first.flatMap { strings[$0] }
        if let source = definition.chatTemplate {
            chatTemplateResult = Result { try ChatTemplate(source, bosToken: bosText, eosToken: eosText) }
                .mapError { $0 as? TokenizerError ?? .unsupported("chat template: \($0)") }
        } else {
            chatTemplateResult = .failure(.unsupported("the tokenizer has no chat template"))
        }
    }

    /// The chat template, or an error saying why chat requests cannot be served (no template, or a template
    /// whose dialect is not one this implementation renders).
    public var chatTemplate: ChatTemplate {
        get throws { try chatTemplateResult.get() }
    }

    // MARK: Encoding

    /// Token ids of `text`, like Hugging Face `encode(text, add_special_tokens=False)`.
    ///
    /// - Parameters:
    ///   - parseSpecialTokens: when true (the default, as in Hugging Face and vLLM), special-token text such
    ///     as `<|im_start|>` in the input becomes the control token; when false it is encoded as plain text.
    ///     Non-special added tokens are always recognised.
    ///   - addSpecialTokens: add the ids the post-processor puts around a text (Llama-3's BOS, or BOS when
    ///     `add_bos_token` is set). Off by default.
    public func encode(_ text: String, parseSpecialTokens: Bool = true, addSpecialTokens: Bool = false) -> [Int] {
        var buffer = Array(text.utf8)
        var ids: [Int] = []
        ids.reserveCapacity(buffer.count / 3 + specialPrefix.count + specialSuffix.count)
        if addSpecialTokens { ids += specialPrefix }
        var segments: [Segment] = []
        buffer.withUnsafeBufferPointer { bytes in
            rawMatcher.split(bytes, 0..<bytes.count, skipSpecial: !parseSpecialTokens, into: &segments)
        }
        var scratch = EncodeScratch()
        for segment in segments {
            if segment.tokenId >= 0 {
                ids.append(segment.tokenId)
            } else {
                encodeText(&buffer, segment.range, parseSpecialTokens: parseSpecialTokens, into: &ids, scratch: &scratch)
            }
        }
        if addSpecialTokens { ids += specialSuffix }
        return ids
    }

    /// Normalizes, finds normalized added tokens, pre-tokenizes and BPE-encodes one stretch of text.
    private func encodeText(_ buffer: inout [UInt8], _ range: Range<Int>, parseSpecialTokens: Bool,
                            into ids: inout [Int], scratch: inout EncodeScratch) {
        var range = range
        if let normalizer {
            let isASCII = buffer[range].allSatisfy { $0 < 0x80 }
            if !(isASCII && normalizer.preservesASCII) {
                let normalized = normalizer.apply(String(decoding: buffer[range], as: UTF8.self))
                let start = buffer.count
                buffer.append(contentsOf: normalized.utf8)
                range = start..<buffer.count
            }
        }
        scratch.segments.removeAll(keepingCapacity: true)
        buffer.withUnsafeBufferPointer { bytes in
            normalizedMatcher.split(bytes, range, skipSpecial: !parseSpecialTokens, into: &scratch.segments)
        }
        for segment in scratch.segments {
            if segment.tokenId >= 0 {
                ids.append(segment.tokenId)
                continue
            }
            scratch.pieces.removeAll(keepingCapacity: true)
            preTokenizer.split(&buffer, segment.range, scratch: &scratch.preTokenizer, into: &scratch.pieces)
            buffer.withUnsafeBufferPointer { bytes in
                for piece in scratch.pieces { model.encode(bytes, piece, into: &ids, scratch: &scratch.bpe) }
            }
        }
    }

    // MARK: Decoding

    /// The text of `ids`, like Hugging Face `decode(ids, skip_special_tokens:)` without clean-up of spaces.
    /// Bytes that do not form valid UTF-8 become U+FFFD. Ids outside the vocabulary are skipped.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids { appendBytes(of: id, skipSpecialTokens: skipSpecialTokens, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The raw bytes token `id` stands for (possibly part of a UTF-8 character), or nil for an unknown id.
    public func bytes(forId id: Int) -> [UInt8]? {
        guard id >= 0, id < vocabularySize, tokensById[id] != nil else { return nil }
        return Array(tokenBytes[Int(byteOffsets[id])..<Int(byteOffsets[id + 1])])
    }

    /// Appends the bytes of `id` (nothing for unknown ids, or for special ids when skipping them).
    @inline(__always)
    func appendBytes(of id: Int, skipSpecialTokens: Bool, to bytes: inout [UInt8]) {
        guard id >= 0, id < vocabularySize, !(skipSpecialTokens && isSpecial[id]) else { return }
        bytes.append(contentsOf: tokenBytes[Int(byteOffsets[id])..<Int(byteOffsets[id + 1])])
    }

    // MARK: Vocabulary

    /// The vocabulary entry of `id` in its byte-level spelling (`Ġworld`), or nil.
    public func token(forId id: Int) -> String? {
        guard id >= 0, id < vocabularySize else { return nil }
        return tokensById[id]
    }

    /// The id of a vocabulary entry or added token, or nil.
    public func id(forToken token: String) -> Int? { idsByToken[ExactText(token)] }

    /// True for special added tokens.
    public func isSpecialToken(_ id: Int) -> Bool { id >= 0 && id < vocabularySize && isSpecial[id] }
}

/// Buffers reused across the pieces of one encode call.
private struct EncodeScratch {
    var segments: [Segment] = []
    var pieces: [Range<Int>] = []
    var preTokenizer = PreTokenizerScratch()
    var bpe = BPEScratch()
}
