import Foundation
import Testing
import Tokenizers

/// The reference goldens of /work/shared/fixtures (65 strings and 3 chat renderings), through both the
/// tokenizer.json and the GGUF loading paths. Ids and texts must be identical.
@Suite("SmolLM2 tokenizer goldens")
struct SmolLM2GoldenTests {
    let goldens: SmolLM2Goldens

    init() throws {
        goldens = try Fixtures.decode(SmolLM2Goldens.self, from: "smollm2-tokenizer.json")
    }

    @Test("the golden file has its 65 cases and 3 chat renderings")
    func goldenFileIsComplete() {
        #expect(goldens.cases.count == 65)
        #expect(goldens.chatTemplate.count == 3)
    }

    @Test("encoding every golden string gives the reference ids, with special-token text parsed")
    func encodesGoldenStrings() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        for golden in goldens.cases {
            #expect(tokenizer.encode(golden.text) == golden.ids, "\(golden.text.debugDescription)")
        }
    }

    @Test("each golden id has the reference byte-level piece")
    func tokenStrings() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        for golden in goldens.cases {
            #expect(golden.ids.map { tokenizer.token(forId: $0) } == golden.tokens, "\(golden.text.debugDescription)")
        }
    }

    @Test("decoding the golden ids gives the reference text, with and without special tokens")
    func decodesGoldenIds() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        for golden in goldens.cases {
            #expect(tokenizer.decode(golden.ids, skipSpecialTokens: false) == golden.decoded)
            #expect(tokenizer.decode(golden.ids, skipSpecialTokens: true) == golden.decodedSkipSpecial)
        }
    }

    @Test("the GGUF vocabulary of the same model encodes and decodes every golden identically")
    func ggufPathMatchesGoldens() throws {
        let tokenizer = try Tokenizer(gguf: Fixtures.smolLM2GGUFVocabulary())
        for golden in goldens.cases {
            #expect(tokenizer.encode(golden.text) == golden.ids, "\(golden.text.debugDescription)")
            #expect(tokenizer.decode(golden.ids, skipSpecialTokens: false) == golden.decoded)
            #expect(tokenizer.decode(golden.ids, skipSpecialTokens: true) == golden.decodedSkipSpecial)
        }
        #expect(tokenizer.vocabularySize == 49152)
        #expect(tokenizer.bosTokenId == 1)
        #expect(tokenizer.eosTokenIds.contains(2))
        #expect(tokenizer.specialTokenIds == Set(0...16))
    }

    @Test("the chat template renders the reference prompts, which encode to the reference ids")
    func chatRenderings() throws {
        for path in ["folder", "gguf"] {
            let tokenizer = path == "folder" ? try Fixtures.smolLM2Tokenizer() : try Tokenizer(gguf: Fixtures.smolLM2GGUFVocabulary())
            let template = try tokenizer.chatTemplate
            for golden in goldens.chatTemplate {
                let rendered = try template.render(golden.messages, addGenerationPrompt: golden.addGenerationPrompt)
                #expect(rendered == golden.rendered, "\(path)")
                #expect(tokenizer.encode(rendered) == golden.ids, "\(path)")
            }
        }
    }

    @Test("special ids come from tokenizer_config.json and generation_config.json")
    func specialIds() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        #expect(tokenizer.vocabularySize == 49152)
        #expect(tokenizer.bosTokenId == 1)
        #expect(tokenizer.eosTokenIds == [2])
        #expect(tokenizer.padTokenId == 2)
        #expect(tokenizer.specialTokenIds == Set(0...16))
        #expect(tokenizer.id(forToken: "<|im_end|>") == 2)
        #expect(tokenizer.id(forToken: "Ġworld") == 905)
        #expect(tokenizer.id(forToken: "no such token") == nil)
        #expect(tokenizer.token(forId: 198) == "Ċ")
        #expect(tokenizer.token(forId: -1) == nil)
        #expect(tokenizer.token(forId: 49152) == nil)
        #expect(tokenizer.bytes(forId: 905) == Array(" world".utf8))
        #expect(tokenizer.isSpecialToken(1))
        #expect(!tokenizer.isSpecialToken(905))
    }

    @Test("with parseSpecialTokens false, special-token text is encoded as ordinary text")
    func literalSpecialTokens() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        let literal = tokenizer.encode("<|im_start|>user", parseSpecialTokens: false)
        #expect(!literal.contains(1))
        #expect(literal.count > 2)
        #expect(tokenizer.decode(literal) == "<|im_start|>user")
        #expect(tokenizer.encode("<|im_start|>user", parseSpecialTokens: true) == [1, 4093])
    }

    @Test("addSpecialTokens adds nothing for SmolLM2, whose add_bos_token is false")
    func addSpecialTokensWithoutBOS() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        #expect(tokenizer.encode("Hello", addSpecialTokens: true) == tokenizer.encode("Hello"))
        var gguf = try Fixtures.smolLM2GGUFVocabulary()
        gguf.addBosToken = true
        #expect(try Tokenizer(gguf: gguf).encode("Hello", addSpecialTokens: true) == [1, 19556])
    }
}
