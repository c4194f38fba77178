import Checkpoints
import Foundation

/// The draft vocabulary of an EAGLE-3 speculator: which verifier tokens the draft can propose.
///
/// Built as the Python library's `build_vocab_mappings_from_distribution` does (training.md §5.1): token ids
/// sorted by count (descending, ties by smaller id), the first `Vd` taken; when fewer than `Vd` ids were ever
/// supervised, the smallest unused ids `0, 1, 2, …` fill the rest; the selection sorted ascending is `S`.
/// Then `d2t[i] = S[i] - i` (draft index → offset to the verifier id) and `t2d[S[i]] = true`.
public struct VocabularyMapping: Sendable, Equatable {
    public let d2t: [Int64]
    public let t2d: [Bool]

    public init(d2t: [Int64], t2d: [Bool]) {
        self.d2t = d2t
        self.t2d = t2d
    }

    public var draftVocabularySize: Int { d2t.count }
    public var targetVocabularySize: Int { t2d.count }

    /// Verifier id of draft index `i`.
    public func targetId(_ draftIndex: Int) -> Int { draftIndex + Int(d2t[draftIndex]) }

    public enum MappingError: Error, CustomStringConvertible, Equatable {
        case invalidSize(draft: Int, target: Int)
        case invalidFile(file: String, problem: String)
        public var description: String {
            switch self {
            case let .invalidSize(draft, target): return "draft vocabulary size \(draft) must be in 1...\(target) (the verifier's vocabulary)"
            case let .invalidFile(file, problem): return "\(file): \(problem)"
            }
        }
    }

    /// The mapping for `draftVocabularySize` tokens from supervised-token counts.
    public static func build(counts: TokenCounts, draftVocabularySize: Int) throws -> VocabularyMapping {
        let target = counts.vocabularySize
        guard draftVocabularySize >= 1, draftVocabularySize <= target else {
            throw MappingError.invalidSize(draft: draftVocabularySize, target: target)
        }
        let seen = counts.counts.indices.filter { counts.counts[$0] > 0 }
        let ranked = seen.sorted { counts.counts[$0] != counts.counts[$1] ? counts.counts[$0] > counts.counts[$1] : $0 < $1 }
        var selected = Array(ranked.prefix(draftVocabularySize))
        if selected.count < draftVocabularySize {
            let taken = Set(selected)
            for id in 0..<draftVocabularySize where !taken.contains(id) {
                selected.append(id)
                if selected.count == draftVocabularySize { break }
            }
        }
        selected.sort()
        var t2d = [Bool](repeating: false, count: target)
        for id in selected { t2d[id] = true }
        return VocabularyMapping(d2t: selected.enumerated().map { Int64($0.element - $0.offset) }, t2d: t2d)
    }

    /// Fraction of supervised token occurrences the draft vocabulary covers.
    public func coverage(of counts: TokenCounts) -> Double {
        let total = counts.total
        guard total > 0 else { return 0 }
        var covered: Int64 = 0
        for (id, count) in counts.counts.enumerated() where id < t2d.count && t2d[id] { covered += count }
        return Double(covered) / Double(total)
    }

    /// Writes `d2t` (I64 [Vd]), `t2d` (BOOL [V]) and `token_counts` (I64 [V]) to one safetensors file.
    public func write(to url: URL, counts: TokenCounts) throws {
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        try writer.add("d2t", shape: [d2t.count], int64: d2t)
        try writer.add("t2d", shape: [t2d.count], bool: t2d)
        try writer.add("token_counts", shape: [counts.counts.count], int64: counts.counts)
        try writer.write(to: url)
    }

    /// Reads a mapping file written by `write(to:counts:)` (or any safetensors with `d2t` and `t2d`), checking
    /// that the two agree: every `d2t` target is a `t2d` id, in increasing order, and their counts match.
    public static func load(_ url: URL) throws -> VocabularyMapping {
        let file = try SafetensorsFile(url: url)
        let mapping = VocabularyMapping(d2t: try file.loadInt64("d2t"), t2d: try file.loadBool("t2d"))
        var previous = -1
        for i in 0..<mapping.draftVocabularySize {
            let id = mapping.targetId(i)
            guard id > previous, id < mapping.targetVocabularySize, mapping.t2d[id] else {
                throw MappingError.invalidFile(file: url.path, problem: "d2t[\(i)] maps to verifier id \(id), which is not an increasing t2d id")
            }
            previous = id
        }
        guard mapping.t2d.filter({ $0 }).count == mapping.draftVocabularySize else {
            throw MappingError.invalidFile(file: url.path, problem: "t2d marks a different number of ids than d2t has entries")
        }
        return mapping
    }
}

/// The JSON summary `speculators vocab` writes beside the mapping.
public struct VocabularySummary: Codable, Sendable, Equatable {
    public var dataset: String
    public var draftVocabSize: Int
    public var targetVocabSize: Int
    public var supervisedTokens: Int64
    public var distinctSupervisedTokens: Int
    /// Fraction of supervised token occurrences whose id is in the draft vocabulary.
    public var coverage: Double
    /// Draft slots filled with unseen ids because fewer distinct ids were supervised.
    public var paddedIds: Int

    public init(dataset: String, mapping: VocabularyMapping, counts: TokenCounts) {
        self.dataset = dataset
        draftVocabSize = mapping.draftVocabularySize
        targetVocabSize = mapping.targetVocabularySize
        supervisedTokens = counts.total
        distinctSupervisedTokens = counts.distinct
        coverage = mapping.coverage(of: counts)
        paddedIds = max(0, mapping.draftVocabularySize - counts.distinct)
    }

    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data([0x0A])
    }
}
