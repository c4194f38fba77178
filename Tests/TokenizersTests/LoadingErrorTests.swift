import Foundation
import Testing
import Tokenizers

/// Bad or unsupported tokenizer files give errors that name the file, key path or token, never a crash.
@Suite("Loading errors")
struct LoadingErrorTests {
    private func minimalJSON(model: String = #""type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]"#,
                             preTokenizer: String = #"{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}"#,
                             decoder: String = #"{"type": "ByteLevel"}"#, addedTokens: String = "[]") -> Data {
        Data(#"{"added_tokens": \#(addedTokens), "normalizer": null, "pre_tokenizer": \#(preTokenizer), "post_processor": null, "decoder": \#(decoder), "model": {\#(model)}}"#.utf8)
    }

    @Test("a minimal hand-written tokenizer.json loads and merges")
    func minimalTokenizerWorks() throws {
        let tokenizer = try Tokenizer(tokenizerJSON: minimalJSON())
        #expect(tokenizer.encode("ab") == [2])
        #expect(tokenizer.encode("ba") == [1, 0])
        #expect(tokenizer.encode("c") == [])  // bytes outside the vocabulary are dropped, as in Hugging Face
        #expect(tokenizer.vocabularySize == 3)
    }

    @Test("malformed or unsupported files are rejected with a message naming the problem")
    func rejectsBadFiles() {
        #expect(throws: TokenizerError.self) { _ = try Tokenizer(tokenizerJSON: Data("{not json".utf8)) }
        func message(_ data: Data) -> String {
            do { _ = try Tokenizer(tokenizerJSON: data); return "loaded" } catch { return "\(error)" }
        }
        #expect(message(Data("{not json".utf8)).contains("not valid JSON"))
        #expect(message(minimalJSON(model: #""type": "WordPiece", "vocab": {}"#)).contains("model \"WordPiece\""))
        #expect(message(minimalJSON(model: #""type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]"#))
            .contains("tokenizer.json: model.merges[0]: \"b\" is not in the vocabulary"))
        #expect(message(minimalJSON(model: #""type": "BPE", "vocab": {"a": "zero"}, "merges": []"#))
            .contains("model.vocab.\"a\": expected a non-negative integer id"))
        #expect(message(minimalJSON(model: #""type": "BPE", "vocab": {"a": 0}, "merges": [7]"#))
            .contains("model.merges[0]: expected a pair of strings"))
        #expect(message(minimalJSON(model: #""type": "BPE", "vocab": {"a": 0}, "merges": [], "byte_fallback": true"#))
            .contains("byte_fallback"))
        #expect(message(minimalJSON(preTokenizer: #"{"type": "Metaspace"}"#)).contains("pre-tokenizer \"Metaspace\""))
        #expect(message(minimalJSON(preTokenizer: "null")).contains("not a byte-level BPE tokenizer"))
        #expect(message(minimalJSON(preTokenizer: #"{"type": "Split", "pattern": {"Regex": "("}, "behavior": "Isolated", "invert": false}"#))
            .contains("does not compile"))
        #expect(message(minimalJSON(decoder: #"{"type": "WordPiece"}"#)).contains("decoder \"WordPiece\""))
        #expect(message(minimalJSON(addedTokens: #"[{"content": "x"}]"#)).contains("added_tokens[0].id: required value is missing"))
        #expect(message(Data("[1, 2]".utf8)).contains("expected a JSON object"))
        #expect(message(minimalJSON(model: #""type": "BPE", "vocab": {"a": 0, "b": 99999999999}, "merges": []"#))
            .contains("token id 99999999999 is beyond"))
        #expect(message(Data(#"{"model": 3}"#.utf8)).contains("tokenizer.json: model: expected an object, found a number"))
    }

    @Test("config ids that name no token are ignored instead of trusted")
    func ignoresOutOfRangeConfigIds() throws {
        let generation = Data(#"{"bos_token_id": -1, "eos_token_id": [2, 70000, -3], "pad_token_id": 49152}"#.utf8)
        let tokenizer = try Tokenizer(tokenizerJSON: Data(contentsOf: Fixtures.smolLM2Folder.appendingPathComponent("tokenizer.json")),
                                      generationConfigJSON: generation)
        #expect(tokenizer.bosTokenId == nil)
        #expect(tokenizer.eosTokenIds == [2])
        #expect(tokenizer.padTokenId == nil)
    }

    @Test("a folder without tokenizer.json is an error naming the file")
    func missingFolderFile() {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("no-tokenizer-\(UUID().uuidString)")
        do {
            _ = try Tokenizer(folder: folder)
            Issue.record("loading succeeded")
        } catch {
            #expect("\(error)".contains("tokenizer.json"))
        }
    }

    @Test("GGUF metadata that cannot describe a byte-level BPE tokenizer is rejected")
    func rejectsBadGGUF() throws {
        let good = try Fixtures.smolLM2GGUFVocabulary()
        func message(_ change: (inout GGUFTokenizerVocabulary) -> Void) -> String {
            var vocabulary = good
            change(&vocabulary)
            do { _ = try Tokenizer(gguf: vocabulary); return "loaded" } catch { return "\(error)" }
        }
        #expect(message { $0.model = "llama" }.contains("tokenizer.ggml.model \"llama\""))
        #expect(message { $0.pre = "mystery" }.contains("tokenizer.ggml.pre \"mystery\""))
        #expect(message { $0.pre = nil }.contains("tokenizer.ggml.pre"))
        #expect(message { $0.tokenTypes.removeLast() }.contains("tokenizer.ggml.token_type"))
        #expect(message { $0.merges[5] = "nospace" }.contains("tokenizer.ggml.merges[5]"))
        #expect(message { $0.eosTokenId = 99_999 }.contains("tokenizer.ggml.eos_token_id"))
    }

    @Test("GGUF pre-tokenizer names map to the right scanners and flags")
    func ggufPreNames() throws {
        var vocabulary = try Fixtures.smolLM2GGUFVocabulary()
        let text = "a  5 and b   77 ½"
        vocabulary.pre = "gpt-2"
        let gpt2 = try Tokenizer(gguf: vocabulary)
        #expect(gpt2.encode(text) == (try Fixtures.variantTokenizer("gpt2")).encode(text))
        #expect(gpt2.encode(text) != (try Fixtures.smolLM2Tokenizer()).encode(text))
        vocabulary.pre = "llama-bpe"
        let llama = try Tokenizer(gguf: vocabulary)
        let reference = try Fixtures.variantTokenizer("llama3")
        for golden in try Fixtures.extraGoldens().variants["llama3"]?.cases ?? [] {
            #expect(llama.encode(golden.text) == golden.ids, "\(golden.text.debugDescription)")
        }
        #expect(llama.encode(text) == reference.encode(text))
        vocabulary.pre = "qwen2"
        let qwen = try Tokenizer(gguf: vocabulary)
        for golden in try Fixtures.extraGoldens().variants["qwen2"]?.cases ?? [] {
            #expect(qwen.encode(golden.text) == golden.ids, "\(golden.text.debugDescription)")
        }
    }

    @Test("GGUF end-of-turn ids include eos, eot and control tokens such as <|im_end|> and <|endoftext|>")
    func ggufEndOfTurn() throws {
        var vocabulary = try Fixtures.smolLM2GGUFVocabulary()
        vocabulary.eotTokenId = 5
        let tokenizer = try Tokenizer(gguf: vocabulary)
        #expect(tokenizer.eosTokenIds == [0, 2, 5])
        #expect(tokenizer.padTokenId == 2)
        #expect(try tokenizer.chatTemplate.render([ChatMessage(role: "system", content: "s")], addGenerationPrompt: false)
                == "<|im_start|>system\ns<|im_end|>\n")
    }
}
