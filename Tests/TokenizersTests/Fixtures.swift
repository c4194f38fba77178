import Foundation
import Testing
import Tokenizers

/// Locates and decodes the files in `Fixtures/` (see Fixtures/README.md for where they come from).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let smolLM2Folder = directory.appendingPathComponent("smollm2-hf")

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }

    static func text(_ name: String) throws -> String {
        String(decoding: try data(name), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, from name: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(type, from: data(name))
    }

    /// The SmolLM2 tokenizer, loaded once for all tests (loading parses a 3.5 MB tokenizer.json).
    static let smolLM2: Result<Tokenizer, any Error> = Result { try Tokenizer(folder: smolLM2Folder) }
    static func smolLM2Tokenizer() throws -> Tokenizer { try smolLM2.get() }

    static let extra: Result<ExtraGoldens, any Error> = Result { try decode(ExtraGoldens.self, from: "extra-goldens.json") }
    static func extraGoldens() throws -> ExtraGoldens { try extra.get() }

    /// The SmolLM2 tokenizer.json with a variant's overrides applied, the same way generate_goldens.py does.
    static func variantTokenizer(_ name: String) throws -> Tokenizer {
        let goldens = try JSONSerialization.jsonObject(with: data("extra-goldens.json")) as? [String: Any]
        let variants = goldens?["variants"] as? [String: Any]
        let overrides = try #require((variants?[name] as? [String: Any])?["overrides"] as? [String: Any])
        var tokenizer = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: smolLM2Folder.appendingPathComponent("tokenizer.json"))) as? [String: Any])
        for key in ["normalizer", "pre_tokenizer", "post_processor"] where overrides[key] != nil {
            tokenizer[key] = overrides[key]
        }
        if let modelChanges = overrides["model"] as? [String: Any] {
            var model = try #require(tokenizer["model"] as? [String: Any])
            for (key, value) in modelChanges { model[key] = value }
            tokenizer["model"] = model
        }
        if let extraTokens = overrides["extra_added_tokens"] as? [Any] {
            tokenizer["added_tokens"] = (tokenizer["added_tokens"] as? [Any] ?? []) + extraTokens
        }
        return try Tokenizer(tokenizerJSON: JSONSerialization.data(withJSONObject: tokenizer))
    }

    /// The SmolLM2 vocabulary as a GGUF file stores it: tokens ordered by id, control tokens typed 3,
    /// merges as "left right" strings.
    static func smolLM2GGUFVocabulary() throws -> GGUFTokenizerVocabulary {
        let root = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: smolLM2Folder.appendingPathComponent("tokenizer.json"))) as? [String: Any])
        let model = try #require(root["model"] as? [String: Any])
        let vocabulary = try #require(model["vocab"] as? [String: Int])
        var tokens = [String](repeating: "", count: vocabulary.count)
        for (token, id) in vocabulary { tokens[id] = token }
        var types = [Int32](repeating: 1, count: tokens.count)
        for entry in try #require(root["added_tokens"] as? [[String: Any]]) where entry["special"] as? Bool == true {
            types[try #require(entry["id"] as? Int)] = 3
        }
        let merges = try #require(model["merges"] as? [[String]]).map { $0.joined(separator: " ") }
        return GGUFTokenizerVocabulary(model: "gpt2", pre: "smollm", tokens: tokens, tokenTypes: types, merges: merges,
                                       bosTokenId: 1, eosTokenId: 2, paddingTokenId: 2, addBosToken: false,
                                       chatTemplate: try String(contentsOf: smolLM2Folder.appendingPathComponent("chat_template.jinja"), encoding: .utf8))
    }
}

// MARK: Golden file shapes

struct SmolLM2Goldens: Decodable {
    struct Case: Decodable {
        let text: String
        let ids: [Int]
        let tokens: [String]
        let decoded: String
        let decodedSkipSpecial: String
    }
    struct ChatCase: Decodable {
        let messages: [ChatMessage]
        let addGenerationPrompt: Bool
        let rendered: String
        let ids: [Int]
    }
    let cases: [Case]
    let chatTemplate: [ChatCase]
}

struct ExtraGoldens: Decodable {
    struct EncodeCase: Decodable {
        let text: String
        let ids: [Int]
        let idsLiteralSpecials: [Int]
        let idsWithSpecialTokens: [Int]?
        let decoded: String?
        let decodedSkipSpecial: String?
    }
    struct DecodeCase: Decodable {
        let ids: [Int]
        let decoded: String
        let decodedSkipSpecial: String
    }
    struct Variant: Decodable {
        let cases: [EncodeCase]
        let decodeChecks: [DecodeCase]
    }
    struct PreTokenizerCase: Decodable {
        let text: String
        let pieces: [String]
    }
    struct ChatOptions: Decodable {
        let enableThinking: Bool?
        let dateString: String?
    }
    struct ChatCase: Decodable {
        let template: String
        let messages: [ChatMessage]
        let addGenerationPrompt: Bool
        let options: ChatOptions
        let bosToken: String?
        let rendered: String
    }
    struct LongText: Decodable {
        let text: String
        let ids: [Int]
    }
    let baseCases: [EncodeCase]
    let longText: LongText
    let decodeCases: [DecodeCase]
    let unicodeCases: [EncodeCase]
    let variants: [String: Variant]
    let pretokenizerCases: [String: [PreTokenizerCase]]
    let chatCases: [ChatCase]
}
