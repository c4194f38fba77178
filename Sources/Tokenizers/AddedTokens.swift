/// A token matched as a whole in the input before any splitting (Hugging Face `added_tokens`): control
/// tokens such as `<|im_start|>` and user-defined ones.
public struct AddedToken: Sendable, Equatable {
    public let id: Int
    public let content: String
    /// Only match when not touching word characters on either side.
    public let singleWord: Bool
    /// Swallow whitespace on the left / right of the match into the token.
    public let lstrip: Bool
    public let rstrip: Bool
    /// Match against normalized text (after the normalizer) rather than the raw input.
    public let normalized: Bool
    /// Special tokens are dropped by `decode(skipSpecialTokens: true)` and only recognised in input text
    /// when `parseSpecialTokens` is true.
    public let special: Bool

    public init(id: Int, content: String, singleWord: Bool = false, lstrip: Bool = false, rstrip: Bool = false,
                normalized: Bool = false, special: Bool = true) {
        self.id = id
        self.content = content
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
        self.special = special
    }
}

/// A stretch of input: either text still to be tokenized (`tokenId` < 0) or one added token.
struct Segment {
    var range: Range<Int>
    var tokenId: Int
}

/// Finds added tokens in text the way the Hugging Face library does: leftmost-longest, non-overlapping
/// matches over the bytes; a match that its flags reject is skipped (scanning resumes after it), and
/// lstrip/rstrip widen a kept match over neighbouring whitespace.
struct AddedTokenMatcher: Sendable {
    private var children: [[UInt8: Int32]] = [[:]]
    private var terminal: [Int32] = [-1]
    private var isFirstByte = [Bool](repeating: false, count: 256)
    private var tokens: [AddedToken] = []

    var isEmpty: Bool { tokens.isEmpty }

    /// `patterns[i]` is the text to look for for `tokens[i]` (its content, normalized for normalized tokens).
    init(tokens: [AddedToken], patterns: [String]) {
        for (token, pattern) in zip(tokens, patterns) where !pattern.isEmpty {
            var node = 0
            for byte in pattern.utf8 {
                if let child = children[node][byte] {
                    node = Int(child)
                } else {
                    children.append([:])
                    terminal.append(-1)
                    children[node][byte] = Int32(children.count - 1)
                    node = children.count - 1
                }
            }
            isFirstByte[Int(pattern.utf8.first ?? 0)] = true
            terminal[node] = Int32(self.tokens.count)
            self.tokens.append(token)
        }
    }

    /// Appends the segments of `bytes[range]` in order. With `skipSpecial`, special tokens are not matched
    /// (their text stays ordinary text), like Hugging Face's `encode_special_tokens`.
    func split(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, skipSpecial: Bool,
               into segments: inout [Segment]) {
        guard !tokens.isEmpty else {
            if !range.isEmpty { segments.append(Segment(range: range, tokenId: -1)) }
            return
        }
        var textStart = range.lowerBound
        var index = range.lowerBound
        while index < range.upperBound {
            guard isFirstByte[Int(bytes[index])], let (matchEnd, token) = longestMatch(bytes, at: index, limit: range.upperBound) else {
                index += 1
                continue
            }
            var start = index, stop = matchEnd
            index = matchEnd  // Non-overlapping: the next search starts after this match, kept or not.
            if skipSpecial && token.special { continue }
            if token.singleWord {
                let wordBefore = start > range.lowerBound && UnicodeRules.isWordCharacter(scalarBefore(bytes, start))
                let wordAfter = stop < range.upperBound && UnicodeRules.isWordCharacter(decodeScalar(bytes, at: stop).value)
                if wordBefore || wordAfter { continue }
            }
            if token.lstrip {
                var newStart = start
                while newStart > range.lowerBound {
                    let previous = previousScalarStart(bytes, newStart)
                    guard UnicodeRules.isWhitespace(decodeScalar(bytes, at: previous).value) else { break }
                    newStart = previous
                }
                start = max(newStart, textStart)
            }
            if token.rstrip {
                while stop < range.upperBound {
                    let (value, length) = decodeScalar(bytes, at: stop)
                    guard UnicodeRules.isWhitespace(value) else { break }
                    stop += length
                }
                index = max(index, stop)
            }
            if textStart < start { segments.append(Segment(range: textStart..<start, tokenId: -1)) }
            segments.append(Segment(range: start..<stop, tokenId: token.id))
            textStart = stop
        }
        if textStart < range.upperBound { segments.append(Segment(range: textStart..<range.upperBound, tokenId: -1)) }
    }

    private func longestMatch(_ bytes: UnsafeBufferPointer<UInt8>, at start: Int, limit: Int) -> (Int, AddedToken)? {
        var node = 0, index = start
        var best: (Int, AddedToken)?
        while index < limit, let child = children[node][bytes[index]] {
            node = Int(child)
            index += 1
            if terminal[node] >= 0 { best = (index, tokens[Int(terminal[node])]) }
        }
        return best
    }

    private func previousScalarStart(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int) -> Int {
        var previous = index - 1
        while previous > 0, bytes[previous] & 0xC0 == 0x80 { previous -= 1 }
        return previous
    }

    private func scalarBefore(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int) -> UInt32 {
        decodeScalar(bytes, at: previousScalarStart(bytes, index)).value
    }
}
