import Foundation
import Tokenizers

/// SmolLM2's tokenizer (the fixture `tokenizer.json`). Oracles: byte-level BPE loses nothing but
/// the bytes the vocabulary has no token for, so decoding the encoding of any text gives the text
/// back without those bytes; streaming detokenisation, one id at a time, gives what decoding the
/// whole sequence gives whenever that is valid UTF-8.
///
/// SmolLM2's vocabulary lacks 21 of the 256 byte symbols (0x04, 0x06, 0x13, 0x14, 0x16, 0x1D and
/// lead bytes UTF-8 never or rarely uses); `tokenizers` drops them silently (the model has no
/// unknown token), and so do we. The fuzzer found this by failing the plain round-trip oracle.
enum TokenizerHarness {
    static let tokenizer: Tokenizer? = try? Tokenizer(folder: FuzzFixtures.tests("TokenizersTests/Fixtures/smollm2-hf"))

    /// The bytes that have a token of their own.
    static let encodableBytes: Set<UInt8> = {
        guard let tokenizer else { return [] }
        var bytes = Set<UInt8>()
        for id in 0..<tokenizer.vocabularySize where !tokenizer.isSpecialToken(id) {
            if let token = tokenizer.bytes(forId: id), token.count == 1 { bytes.insert(token[0]) }
        }
        return bytes
    }()

    static func run(_ input: [UInt8]) {
        guard let tokenizer, let mode = input.first else { return }
        let rest = Array(input.dropFirst())
        let ids: [Int]
        if mode & 1 == 0 {
            let text = String(decoding: rest, as: UTF8.self)
            let encoded = tokenizer.encode(text, parseSpecialTokens: mode & 2 != 0)
            let decoded = tokenizer.decode(encoded)
            let kept = text.utf8.filter { encodableBytes.contains($0) }
            let expected = kept.count == text.utf8.count ? text : String(decoding: kept, as: UTF8.self)
            if decoded != expected {
                oracleFailure("decode(encode(text)) is \(decoded.debugDescription), not \(expected.debugDescription), via \(encoded)",
                              input: input)
            }
            ids = encoded
        } else {
            ids = stride(from: 0, to: rest.count - 1, by: 2).map { (Int(rest[$0]) << 8 | Int(rest[$0 + 1])) % tokenizer.vocabularySize }
        }
        for skip in [false, true] {
            let whole = tokenizer.decode(ids, skipSpecialTokens: skip)
            var stream = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: skip)
            var streamed = ""
            for id in ids { streamed += stream.append(id) }
            streamed += stream.flush()
            if !whole.contains("\u{FFFD}"), streamed != whole {
                oracleFailure("streamed text \(streamed.debugDescription) differs from \(whole.debugDescription) for \(ids)", input: input)
            }
        }
    }
}
