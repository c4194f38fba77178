import Foundation
import Testing
import Tokenizers

@Suite("Long texts and concurrency")
struct LongTextTests {
    /// About 2,000 tokens of mixed text built from the reference strings, with the reference ids.
    static func longText() throws -> (text: String, ids: [Int]) {
        let golden = try Fixtures.extraGoldens().longText
        return (golden.text, golden.ids)
    }

    @Test("a 2,000-token text encodes to the reference ids and decodes back to itself")
    func longTextMatchesReference() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        let (text, expected) = try Self.longText()
        #expect(expected.count > 2_000)
        let ids = tokenizer.encode(text)
        #expect(ids == expected)
        #expect(tokenizer.decode(ids) == text)
    }

    @Test("tokenizing from many tasks at once gives the same ids as one task")
    func concurrentEncoding() async throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        let cases = try Fixtures.extraGoldens().baseCases
        let results = await withTaskGroup(of: Bool.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    cases.enumerated().filter { $0.offset % 8 == worker }.allSatisfy { tokenizer.encode($0.element.text) == $0.element.ids }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results == Array(repeating: true, count: 8))
    }

    /// Opt-in benchmark: `TOKENIZERS_BENCHMARK=1 swift test -c release --skip-build --filter LongTextTests`.
    @Test("benchmark: encode and decode a 2,000-token text", .enabled(if: ProcessInfo.processInfo.environment["TOKENIZERS_BENCHMARK"] != nil))
    func benchmark() throws {
        let tokenizer = try Fixtures.smolLM2Tokenizer()
        let text = try Self.longText().text
        var count = 0
        let cold = ContinuousClock().measure { count = tokenizer.encode(text).count }
        let rounds = 50
        let warm = ContinuousClock().measure { for _ in 0..<rounds { count = tokenizer.encode(text).count } }
        let ids = tokenizer.encode(text)
        let decode = ContinuousClock().measure { for _ in 0..<rounds { _ = tokenizer.decode(ids) } }
        let stream = ContinuousClock().measure {
            for _ in 0..<rounds {
                var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
                for id in ids { _ = detokenizer.append(id) }
            }
        }
        print("encode \(count) tokens: first \(cold), then \(warm / rounds) each; decode \(decode / rounds); streaming \(stream / rounds)")
        let loading = ContinuousClock().measure { _ = try? Tokenizer(folder: Fixtures.smolLM2Folder) }
        print("load SmolLM2 tokenizer folder: \(loading)")
    }
}
