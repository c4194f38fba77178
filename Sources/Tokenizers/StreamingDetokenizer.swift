/// Turns a stream of generated token ids into text deltas, one request at a time.
///
/// A byte-level token can hold part of a UTF-8 character (an emoji is often three or four tokens), so bytes
/// that might still become a character are held back until the next token completes them. Concatenating
/// every delta and the final `flush()` gives exactly `tokenizer.decode(allIds, skipSpecialTokens:)`,
/// including U+FFFD for bytes that can never be valid.
public struct StreamingDetokenizer: Sendable {
    public let tokenizer: Tokenizer
    public let skipSpecialTokens: Bool
    /// Bytes received but not yet returned: at most an incomplete character (three bytes).
    private var pending: [UInt8] = []

    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool = true) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
        pending.reserveCapacity(64)
    }

    /// Adds one token and returns the text it completes (often empty while a character is incomplete).
    public mutating func append(_ id: Int) -> String {
        tokenizer.appendBytes(of: id, skipSpecialTokens: skipSpecialTokens, to: &pending)
        let ready = UTF8Boundary.completePrefixLength(pending)
        guard ready > 0 else { return "" }
        let text = String(decoding: pending[0..<ready], as: UTF8.self)
        pending.removeFirst(ready)
        return text
    }

    /// Adds several tokens (for example the accepted tokens of one speculative step).
    public mutating func append<S: Sequence>(contentsOf ids: S) -> String where S.Element == Int {
        var text = ""
        for id in ids { text += append(id) }
        return text
    }

    /// Returns whatever is held back, with incomplete characters replaced by U+FFFD. Call at the end.
    public mutating func flush() -> String {
        defer { pending.removeAll(keepingCapacity: true) }
        return String(decoding: pending, as: UTF8.self)
    }

    /// True when bytes are held back waiting for the rest of a character.
    public var hasPendingBytes: Bool { !pending.isEmpty }
}

enum UTF8Boundary {
    /// Length of the longest prefix of `bytes` that can be converted now without changing the result of
    /// converting everything later: all but a trailing sequence that is a valid beginning of a character.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let count = bytes.count
        // An incomplete character is at most 3 bytes, so only the last few bytes need checking.
        var start = max(0, count - 3)
        while start < count {
            if isIncompleteCharacter(bytes, from: start) { return start }
            start += 1
        }
        return count
    }

    /// True when `bytes[start...]` is a proper prefix of some well-formed UTF-8 character.
    private static func isIncompleteCharacter(_ bytes: [UInt8], from start: Int) -> Bool {
        let lead = bytes[start]
        let needed: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: needed = 2
        case 0xE0: needed = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: needed = 3
        case 0xED: needed = 3; secondRange = 0x80...0x9F
        case 0xF0: needed = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: needed = 4
        case 0xF4: needed = 4; secondRange = 0x80...0x8F
        default: return false
        }
        let available = bytes.count - start
        guard available < needed else { return false }
        for offset in 1..<available {
            let byte = bytes[start + offset]
            let allowed = offset == 1 ? secondRange : 0x80...0xBF
            if !allowed.contains(byte) { return false }
        }
        return true
    }
}
