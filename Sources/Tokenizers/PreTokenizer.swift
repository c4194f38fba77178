import Foundation

/// Splits text into the pieces that byte-level BPE encodes one at a time, like the Hugging Face
/// `pre_tokenizer` of a tokenizer.json: a sequence of steps, each splitting every piece the previous one made.
///
/// The patterns that byte-level models use (GPT-2's, Llama-3's, Qwen2's) run on hand-written scanners;
/// any other `Split` regex runs on `NSRegularExpression`, compiled once when the tokenizer loads.
public struct PreTokenizer: Sendable {
    let steps: [PreTokenizerStep]

    init(steps: [PreTokenizerStep]) { self.steps = steps }

    /// GPT-2: the ByteLevel pre-tokenizer with its built-in regex.
    public static let gpt2 = PreTokenizer(steps: [.byteLevel(addPrefixSpace: false, useRegex: true)])
    /// SmolLM / StarCoder: every numeric character on its own, then the GPT-2 regex.
    public static let digitsThenGPT2 = PreTokenizer(steps: [.digits(individual: true),
                                                            .byteLevel(addPrefixSpace: false, useRegex: true)])
    /// Llama-3: its split regex (numbers in groups of up to three), then byte-level mapping without a regex.
    public static let llama3 = PreTokenizer(steps: [.split(.llama3(maxDigits: 3), .isolated, invert: false),
                                                    .byteLevel(addPrefixSpace: false, useRegex: false)])
    /// Qwen2 / Qwen3: the Llama-3 regex with single-digit numbers.
    public static let qwen2 = PreTokenizer(steps: [.split(.llama3(maxDigits: 1), .isolated, invert: false),
                                                   .byteLevel(addPrefixSpace: false, useRegex: false)])

    /// The pieces of `text` (before byte-level mapping). For diagnostics and tests; encoding uses the
    /// allocation-free path.
    public func split(_ text: String) -> [String] {
        var buffer = Array(text.utf8)
        var scratch = PreTokenizerScratch()
        var pieces: [Range<Int>] = []
        split(&buffer, 0..<buffer.count, scratch: &scratch, into: &pieces)
        return pieces.map { String(decoding: buffer[$0], as: UTF8.self) }
    }

    /// Appends the pieces of `buffer[range]` to `pieces`. A ByteLevel step with `add_prefix_space` may append
    /// a spaced copy of a piece to `buffer`, so pieces index into the buffer as it is afterwards.
    func split(_ buffer: inout [UInt8], _ range: Range<Int>, scratch: inout PreTokenizerScratch,
               into pieces: inout [Range<Int>]) {
        guard !range.isEmpty else { return }
        if steps.isEmpty { pieces.append(range); return }
        scratch.current.removeAll(keepingCapacity: true)
        scratch.current.append(range)
        for (stepIndex, step) in steps.enumerated() {
            let isLast = stepIndex == steps.count - 1
            scratch.next.removeAll(keepingCapacity: true)
            for piece in scratch.current {
                var piece = piece
                if case .byteLevel(true, _) = step, buffer[piece.lowerBound] != 0x20 {
                    let start = buffer.count
                    buffer.append(0x20)
                    buffer.append(contentsOf: buffer[piece])
                    piece = start..<buffer.count
                }
                buffer.withUnsafeBufferPointer { bytes in
                    step.split(bytes, piece, scratch: &scratch.step, into: &scratch.next)
                }
            }
            if isLast {
                pieces.append(contentsOf: scratch.next)
            } else {
                swap(&scratch.current, &scratch.next)
            }
        }
    }
}

/// Buffers reused between calls so that pre-tokenizing does not allocate per piece.
struct PreTokenizerScratch {
    var current: [Range<Int>] = []
    var next: [Range<Int>] = []
    var step = StepScratch()
}

struct StepScratch {
    var scalars = ScalarBuffer()
    var matches: [Range<Int>] = []
    var flagged: [(range: Range<Int>, isMatch: Bool)] = []
}

/// How a split step treats the matches of its pattern (Hugging Face `SplitDelimiterBehavior`).
enum SplitBehavior: String, Sendable {
    case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"
}

/// What a split step looks for.
enum SplitPattern: @unchecked Sendable {
    // @unchecked: NSRegularExpression is immutable after creation and documented as safe to share.
    case gpt2
    case llama3(maxDigits: Int)
    case literal([UInt8])
    case regex(NSRegularExpression)

    /// The exact pattern strings that have a hand-written scanner.
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// A scanner for the known patterns, otherwise the regex compiled once.
    static func forRegex(_ pattern: String) throws -> SplitPattern {
        switch pattern {
        case gpt2Pattern: return .gpt2
        case llama3Pattern: return .llama3(maxDigits: 3)
        case qwen2Pattern: return .llama3(maxDigits: 1)
        default:
            do { return .regex(try NSRegularExpression(pattern: pattern)) } catch {
                throw TokenizerError.unsupported("split regex \(pattern.debugDescription) does not compile: \(error)")
            }
        }
    }

    /// Appends the byte ranges of the matches inside `range`, left to right, without overlaps.
    func findMatches(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, scratch: inout StepScratch) {
        switch self {
        case .gpt2:
            scratch.scalars.load(bytes, range)
            SplitScanners.gpt2(scratch.scalars, into: &scratch.matches)
        case .llama3(let maxDigits):
            scratch.scalars.load(bytes, range)
            SplitScanners.llama3(scratch.scalars, maxDigits: maxDigits, into: &scratch.matches)
        case .literal(let needle):
            guard !needle.isEmpty else { return }
            var index = range.lowerBound
            while index + needle.count <= range.upperBound {
                if bytes[index] == needle[0], (0..<needle.count).allSatisfy({ bytes[index + $0] == needle[$0] }) {
                    scratch.matches.append(index..<(index + needle.count))
                    index += needle.count
                } else {
                    index += 1
                }
            }
        case .regex(let regex):
            // Match offsets are UTF-16 offsets; convert them through the UTF-16 view (which, unlike
            // `Range(_:in:)`, accepts offsets inside a grapheme such as "." followed by a combining mark).
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
            let utf16 = text.utf16, utf8 = text.utf8
            func byteOffset(_ utf16Offset: Int) -> Int {
                utf8.distance(from: utf8.startIndex, to: utf16.index(utf16.startIndex, offsetBy: utf16Offset))
            }
            for match in regex.matches(in: text, range: NSRange(location: 0, length: utf16.count)) where match.range.length > 0 {
                let start = byteOffset(match.range.location), end = byteOffset(match.range.location + match.range.length)
                scratch.matches.append((range.lowerBound + start)..<(range.lowerBound + end))
            }
        }
    }
}

/// One pre-tokenizer of a tokenizer.json (a `Sequence` is flattened into its members).
enum PreTokenizerStep: Sendable {
    /// ByteLevel: optionally a leading space, optionally the GPT-2 regex. The byte-to-character mapping
    /// itself happens in the BPE model.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    /// Digits: numeric characters isolated one by one, or in runs.
    case digits(individual: Bool)
    case split(SplitPattern, SplitBehavior, invert: Bool)

    func split(_ bytes: UnsafeBufferPointer<UInt8>, _ piece: Range<Int>, scratch: inout StepScratch,
               into output: inout [Range<Int>]) {
        scratch.matches.removeAll(keepingCapacity: true)
        let behavior: SplitBehavior
        var invert = false
        switch self {
        case .byteLevel(_, let useRegex):
            guard useRegex else { output.append(piece); return }
            SplitPattern.gpt2.findMatches(bytes, piece, scratch: &scratch)
            behavior = .isolated
        case .digits(let individual):
            var index = piece.lowerBound
            while index < piece.upperBound {
                let (value, length) = decodeScalar(bytes, at: index)
                if UnicodeRules.isNumeric(value) { scratch.matches.append(index..<(index + length)) }
                index += length
            }
            behavior = individual ? .isolated : .contiguous
        case .split(let pattern, let splitBehavior, let inverted):
            pattern.findMatches(bytes, piece, scratch: &scratch)
            behavior = splitBehavior
            invert = inverted
        }
        Self.applyBehavior(behavior, invert: invert, piece: piece, scratch: &scratch, into: &output)
    }

    /// Turns matches into pieces the way `NormalizedString::split` does: gaps and matches in order,
    /// then removed, kept, or glued to a neighbour. Empty pieces are dropped.
    private static func applyBehavior(_ behavior: SplitBehavior, invert: Bool, piece: Range<Int>,
                                      scratch: inout StepScratch, into output: inout [Range<Int>]) {
        if behavior == .isolated, !invert {
            // Fast path: matches and the gaps between them, in order.
            var position = piece.lowerBound
            for match in scratch.matches {
                if match.lowerBound > position { output.append(position..<match.lowerBound) }
                output.append(match)
                position = match.upperBound
            }
            if position < piece.upperBound { output.append(position..<piece.upperBound) }
            return
        }
        scratch.flagged.removeAll(keepingCapacity: true)
        var position = piece.lowerBound
        for match in scratch.matches {
            if match.lowerBound > position { scratch.flagged.append((position..<match.lowerBound, invert)) }
            scratch.flagged.append((match, !invert))
            position = match.upperBound
        }
        if position < piece.upperBound { scratch.flagged.append((position..<piece.upperBound, invert)) }

        var merged: [(range: Range<Int>, remove: Bool)] = []
        switch behavior {
        case .isolated:
            merged = scratch.flagged.map { ($0.range, false) }
        case .removed:
            merged = scratch.flagged.map { ($0.range, $0.isMatch) }
        case .contiguous:
            var previousMatch = false
            for item in scratch.flagged {
                if item.isMatch == previousMatch, let last = merged.last {
                    merged[merged.count - 1] = (last.range.lowerBound..<item.range.upperBound, false)
                } else {
                    merged.append((item.range, false))
                }
                previousMatch = item.isMatch
            }
        case .mergedWithPrevious:
            var previousMatch = false
            for item in scratch.flagged {
                if item.isMatch, !previousMatch, let last = merged.last {
                    merged[merged.count - 1] = (last.range.lowerBound..<item.range.upperBound, false)
                } else {
                    merged.append((item.range, false))
                }
                previousMatch = item.isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            for item in scratch.flagged.reversed() {
                if item.isMatch, !previousMatch, let last = merged.last {
                    merged[merged.count - 1] = (item.range.lowerBound..<last.range.upperBound, false)
                } else {
                    merged.append((item.range, false))
                }
                previousMatch = item.isMatch
            }
            merged.reverse()
        }
        for item in merged where !item.remove && !item.range.isEmpty { output.append(item.range) }
    }
}
