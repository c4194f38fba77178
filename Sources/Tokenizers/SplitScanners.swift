// Hand-written scanners for the split patterns of GPT-2 and Llama-3 / Qwen2 byte-level tokenizers.
//
// They find exactly the matches that the regex engines of the Hugging Face tokenizers library (Oniguruma)
// find for these patterns, one left-to-right pass with one character of look-ahead, instead of running a
// backtracking regex per piece of text.

enum SplitScanners {
    private static let apostrophe: UInt32 = 0x27
    private static let space: UInt32 = 0x20
    private static let carriageReturn: UInt32 = 0x0D
    private static let lineFeed: UInt32 = 0x0A

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    /// (the GPT-2 pattern, also what the ByteLevel pre-tokenizer applies when `use_regex` is true).
    /// Appends the byte ranges of the matches; every character belongs to exactly one match.
    static func gpt2(_ text: ScalarBuffer, into matches: inout [Range<Int>]) {
        let values = text.values, classes = text.classes, count = text.count
        var index = 0
        while index < count {
            var end = contraction(values, at: index, caseInsensitive: false)
            if end < 0 {
                // ` ?X+` where X is letters, numbers or "other" (not whitespace, letter or number).
                var first = index
                if values[index] == space, index + 1 < count, classes[index + 1] != .whitespace { first = index + 1 }
                let kind = classes[first]
                if kind != .whitespace {
                    end = first + 1
                    while end < count, classes[end] == kind { end += 1 }
                }
            }
            if end < 0 { end = whitespaceRun(classes, from: index) }
            matches.append(text.offsets[index]..<text.offsets[end])
            index = end
        }
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    /// (Llama-3) or, with `maxDigits` 1, the same with `\p{N}` alone (Qwen2).
    static func llama3(_ text: ScalarBuffer, maxDigits: Int, into matches: inout [Range<Int>]) {
        let values = text.values, classes = text.classes, count = text.count
        var index = 0
        while index < count {
            let value = values[index], kind = classes[index]
            var end = contraction(values, at: index, caseInsensitive: true)
            if end < 0 {
                // `[^\r\n\p{L}\p{N}]?\p{L}+`
                var first = -1
                if kind == .letter {
                    first = index
                } else if kind != .number, value != carriageReturn, value != lineFeed,
                          index + 1 < count, classes[index + 1] == .letter {
                    first = index + 1
                }
                if first >= 0 {
                    end = first + 1
                    while end < count, classes[end] == .letter { end += 1 }
                }
            }
            if end < 0, kind == .number {
                // `\p{N}{1,3}`
                end = index + 1
                while end < count, end - index < maxDigits, classes[end] == .number { end += 1 }
            }
            if end < 0 {
                // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
                var first = index
                if value == space, index + 1 < count, classes[index + 1] == .other { first = index + 1 }
                if classes[first] == .other {
                    end = first + 1
                    while end < count, classes[end] == .other { end += 1 }
                    while end < count, values[end] == carriageReturn || values[end] == lineFeed { end += 1 }
                }
            }
            if end < 0 {
                // Whitespace. `\s*[\r\n]+` ends right after the last CR or LF of the run, if it has one.
                let runEnd = runOfWhitespace(classes, from: index)
                var lastNewline = runEnd - 1
                while lastNewline >= index, values[lastNewline] != carriageReturn, values[lastNewline] != lineFeed {
                    lastNewline -= 1
                }
                end = lastNewline >= index ? lastNewline + 1 : whitespaceRun(classes, from: index)
            }
            matches.append(text.offsets[index]..<text.offsets[end])
            index = end
        }
    }

    /// End (scalar index) of the contraction starting at `index`, or -1. With `caseInsensitive` the letters
    /// match under Unicode case folding, as Oniguruma's `(?i:...)` does (so U+017F LONG S matches `s`).
    @inline(__always)
    private static func contraction(_ values: [UInt32], at index: Int, caseInsensitive: Bool) -> Int {
        guard values[index] == apostrophe, index + 1 < values.count else { return -1 }
        let first = caseInsensitive ? folded(values[index + 1]) : values[index + 1]
        switch first {
        case 0x73, 0x74, 0x6D, 0x64: return index + 2  // s t m d
        case 0x72, 0x76, 0x6C:                          // r(e) v(e) l(l)
            guard index + 2 < values.count else { return -1 }
            let second = caseInsensitive ? folded(values[index + 2]) : values[index + 2]
            let wanted: UInt32 = first == 0x6C ? 0x6C : 0x65
            return second == wanted ? index + 3 : -1
        default: return -1
        }
    }

    /// Simple case folding for the letters the contractions use.
    @inline(__always)
    private static func folded(_ value: UInt32) -> UInt32 {
        if (0x41...0x5A).contains(value) { return value + 0x20 }
        if value == 0x17F { return 0x73 }  // LATIN SMALL LETTER LONG S folds to s
        return value
    }

    @inline(__always)
    private static func runOfWhitespace(_ classes: [CharacterClass], from index: Int) -> Int {
        var end = index + 1
        while end < classes.count, classes[end] == .whitespace { end += 1 }
        return end
    }

    /// `\s+(?!\S)|\s+` at a whitespace character: the run, minus its last character when a non-space follows
    /// and the run is longer than one (that last space then starts the next word).
    @inline(__always)
    private static func whitespaceRun(_ classes: [CharacterClass], from index: Int) -> Int {
        let end = runOfWhitespace(classes, from: index)
        if end == classes.count { return end }
        return end - 1 > index ? end - 1 : end
    }
}
