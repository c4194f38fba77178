import Testing
import Tokenizers

@Suite("Streaming detokenizer")
struct StreamingDetokenizerTests {
    /// Feeds ids one at a time and checks that the deltas add up to the one-shot decode.
    private func streamed(_ tokenizer: Tokenizer, _ ids: [Int], skipSpecialTokens: Bool) -> (text: String, deltas: [String]) {
        var stream = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: skipSpecialTokens)
        var deltas = ids.map { stream.append($0) }
        deltas.append(stream.flush())
        return (deltas.joined(), deltas)
    }

    @Test("streamed deltas add up to decode() for every reference string and random id sequence")
    func deltasAddUpToDecode() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        let goldens = try Fixtures.extraGoldens()
        let sequences = goldens.baseCases.map(\.ids) + goldens.decodeCases.map(\.ids)
        for ids in sequences {
            for skip in [false, true] {
                #expect(streamed(tokenizer, ids, skipSpecialTokens: skip).text == tokenizer.decode(ids, skipSpecialTokens: skip), "\(ids)")
            }
        }
    }

    @Test("an emoji split over three byte tokens appears whole, only when its last byte arrives")
    func holdsBackPartialCharacters() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        // "👍" is encoded as 10813, 235, 231 (bytes F0 9F | 91 | 8D).
        let ids = tokenizer.encode("a👍b")
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        var deltas: [String] = []
        for id in ids { deltas.append(stream.append(id)) }
        #expect(deltas.joined() == "a👍b")
        #expect(deltas.filter { $0.contains("👍") }.count == 1)
        #expect(!deltas.joined().contains("\u{FFFD}"))
        #expect(!stream.hasPendingBytes)
        #expect(stream.flush() == "")
    }

    @Test("bytes that can never complete a character come out as U+FFFD, and flush releases a dangling prefix")
    func invalidAndDanglingBytes() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        let emojiStart = 10813  // bytes F0 9F: the start of a four-byte character
        #expect(stream.append(emojiStart) == "")
        #expect(stream.hasPendingBytes)
        #expect(stream.append(81) == "\u{FFFD}a")  // "a" cannot continue it
        #expect(stream.append(emojiStart) == "")
        #expect(stream.flush() == "\u{FFFD}")
        #expect(!stream.hasPendingBytes)
    }

    @Test("special tokens are dropped or kept as the request asks")
    func specialTokens() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        var skipping = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: true)
        var keeping = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: false)
        #expect(skipping.append(contentsOf: [19556, 2]) == "Hello")
        #expect(keeping.append(contentsOf: [19556, 2]) == "Hello<|im_end|>")
    }
}
