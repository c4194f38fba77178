import Foundation
import Testing
import Tokenizers

/// 400 random strings (mixed scripts, digits, every kind of space, contractions, special-token text, emoji)
/// and 120 random id sequences, checked against the Hugging Face library's output (extra-goldens.json).
@Suite("Reference fuzz goldens")
struct ReferenceFuzzTests {
    @Test("random strings encode to the reference ids, with special-token text parsed or literal")
    func encodesRandomStrings() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        let goldens = try Fixtures.extraGoldens()
        #expect(goldens.baseCases.count == 400)
        for golden in goldens.baseCases {
            #expect(tokenizer.encode(golden.text) == golden.ids, "\(golden.text.debugDescription)")
            #expect(tokenizer.encode(golden.text, parseSpecialTokens: false) == golden.idsLiteralSpecials,
                    "\(golden.text.debugDescription)")
            #expect(tokenizer.decode(golden.ids) == golden.decoded)
            #expect(tokenizer.decode(golden.ids, skipSpecialTokens: true) == golden.decodedSkipSpecial)
        }
    }

    @Test("canonically equivalent characters stay distinct, and characters newer than Unicode 16 count as unassigned, as in the reference")
    func encodesRandomCodePoints() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        let cases = try Fixtures.extraGoldens().unicodeCases
        #expect(cases.count == 612)
        for golden in cases {
            #expect(tokenizer.encode(golden.text) == golden.ids, "\(golden.text.unicodeScalars.map { String($0.value, radix: 16) })")
            #expect(tokenizer.encode(golden.text, parseSpecialTokens: false) == golden.idsLiteralSpecials)
        }
        #expect(tokenizer.id(forToken: "\u{212B}") == nil)  // ANGSTROM SIGN is not the vocabulary's "Å"
        #expect(tokenizer.id(forToken: "\u{C5}") != nil)
    }

    @Test("digits Unicode 17 added are split one by one, as the reference's Digits step (Rust's is_numeric) splits them")
    func splitsUnicode17Digits() throws {
        // Ids from tokenizers 0.23.3 on the fixture's tokenizer.json (add_special_tokens false).
        let cases: [(String, [Int])] = [
            ("\u{11DE0}'s", [187, 235, 132, 250, 506]),
            ("  \u{16FF4}", [256, 187, 240, 140, 129]),
            ("x\u{11DE9}\u{11DE5} 7", [104, 187, 235, 132, 119, 187, 235, 132, 115, 216, 39]),
            ("\u{16FF6}\u{16FF5}", [187, 240, 140, 131, 187, 240, 140, 130]),
        ]
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        let gguf = try Tokenizer(gguf: Fixtures.smolLM2GGUFVocabulary())
        for (text, ids) in cases {
            #expect(tokenizer.encode(text) == ids, "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
            #expect(gguf.encode(text) == ids)
        }
    }

    @Test("the GGUF path agrees with the reference on the random strings")
    func ggufEncodesRandomStrings() throws {
        let tokenizer = try Tokenizer(gguf: Fixtures.smolLM2GGUFVocabulary())
        for golden in try Fixtures.extraGoldens().baseCases {
            #expect(tokenizer.encode(golden.text) == golden.ids, "\(golden.text.debugDescription)")
            #expect(tokenizer.encode(golden.text, parseSpecialTokens: false) == golden.idsLiteralSpecials)
        }
    }

    @Test("id sequences that split characters decode with U+FFFD exactly where the reference puts it")
    func decodesPartialCharacters() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        for golden in try Fixtures.extraGoldens().decodeCases {
            #expect(tokenizer.decode(golden.ids) == golden.decoded, "\(golden.ids)")
            #expect(tokenizer.decode(golden.ids, skipSpecialTokens: true) == golden.decodedSkipSpecial, "\(golden.ids)")
        }
    }

    @Test("ids outside the vocabulary are skipped when decoding, never a crash")
    func decodesUnknownIds() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        #expect(tokenizer.decode([19556, -5, 49152, 1_000_000, 17]) == "Hello!")
    }
}

@Suite("Pre-tokenizer scanners")
struct PreTokenizerTests {
    @Test("the GPT-2, SmolLM, Llama-3 and Qwen2 scanners split 1,012 random strings exactly as the reference regexes do")
    func scannersMatchReference() throws {
        let goldens = try Fixtures.extraGoldens().pretokenizerCases
        let scanners: [String: PreTokenizer] = ["gpt2": .gpt2, "digitsThenGPT2": .digitsThenGPT2,
                                                "llama3": .llama3, "qwen2": .qwen2]
        #expect(Set(goldens.keys) == Set(scanners.keys))
        for (name, cases) in goldens {
            let scanner = try #require(scanners[name])
            for golden in cases {
                #expect(scanner.split(golden.text) == golden.pieces, "\(name): \(golden.text.debugDescription)")
            }
        }
    }

    @Test("hand-picked edge cases of the GPT-2 and Llama-3 patterns")
    func edgeCases() {
        #expect(PreTokenizer.gpt2.split("a   b") == ["a", "  ", " b"])
        #expect(PreTokenizer.gpt2.split("end   ") == ["end", "   "])
        #expect(PreTokenizer.gpt2.split("IT'S it's") == ["IT", "'", "S", " it", "'s"])
        #expect(PreTokenizer.llama3.split("IT'S 12345") == ["IT", "'S", " ", "123", "45"])
        #expect(PreTokenizer.llama3.split("a \n\n b") == ["a", " \n\n", " b"])
        #expect(PreTokenizer.llama3.split("\tword!?\n\nx") == ["\tword", "!?\n\n", "x"])
        #expect(PreTokenizer.qwen2.split("x 42") == ["x", " ", "4", "2"])
        #expect(PreTokenizer.digitsThenGPT2.split("a  5") == ["a", "  ", "5"])
    }
}

@Suite("Tokenizer variants")
struct TokenizerVariantTests {
    /// Each variant is the SmolLM2 tokenizer.json with another pre-tokenizer, normalizer, post-processor or
    /// extra added tokens; the reference library encoded the same strings with the same file.
    @Test("variants encode like the reference library",
          arguments: ["gpt2", "llama3", "qwen2", "prefix-space-digit-runs", "split-behaviours", "added-token-flags"])
    func variantMatchesReference(name: String) throws {
        let tokenizer = try Fixtures.variantTokenizer(name)
        let variant = try #require(try Fixtures.extraGoldens().variants[name])
        #expect(!variant.cases.isEmpty)
        for golden in variant.cases {
            #expect(tokenizer.encode(golden.text) == golden.ids, "\(name): \(golden.text.debugDescription)")
            #expect(tokenizer.encode(golden.text, parseSpecialTokens: false) == golden.idsLiteralSpecials,
                    "\(name) literal: \(golden.text.debugDescription)")
            if let expected = golden.idsWithSpecialTokens {
                #expect(tokenizer.encode(golden.text, addSpecialTokens: true) == expected, "\(name): \(golden.text.debugDescription)")
            }
        }
        for golden in variant.decodeChecks {
            #expect(tokenizer.decode(golden.ids) == golden.decoded)
            #expect(tokenizer.decode(golden.ids, skipSpecialTokens: true) == golden.decodedSkipSpecial)
        }
    }
}
