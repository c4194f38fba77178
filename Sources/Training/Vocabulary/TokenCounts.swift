import Foundation

/// How often each verifier token id is supervised (loss mask 1) in a generated dataset: the input of the
/// vocabulary mapping, the counterpart of the library's `token_freq.pt`.
public struct TokenCounts: Sendable, Equatable {
    /// `counts[id]` for every id of the verifier vocabulary.
    public var counts: [Int64]

    public init(counts: [Int64]) { self.counts = counts }

    public init(vocabularySize: Int) { counts = [Int64](repeating: 0, count: vocabularySize) }

    public var vocabularySize: Int { counts.count }
    public var total: Int64 { counts.reduce(0, +) }
    public var distinct: Int { counts.reduce(0) { $0 + ($1 > 0 ? 1 : 0) } }

    /// Adds the supervised tokens of one row; ids outside the vocabulary are an error naming `origin`.
    public mutating func add(inputIds: [Int], lossMask: [Bool], origin: String) throws {
        for (id, supervised) in zip(inputIds, lossMask) where supervised {
            guard id >= 0, id < counts.count else {
                throw DataGenerationError.invalidDataset(file: origin, problem: "token id \(id) is outside the vocabulary (0..<\(counts.count))")
            }
            counts[id] += 1
        }
    }

    /// Counts over every shard of the dataset in `directory` (its `index.json` gives the vocabulary size),
    /// or over its leading conversations that fit in `maxTokens` (the rule of `train --max-data-tokens`).
    public static func count(dataset directory: URL, maxTokens: Int? = nil) throws -> TokenCounts {
        try count(datasets: [directory], maxTokens: maxTokens)
    }

    /// The same over several dataset folders taken one after the other (as `train --data A --data B`).
    /// A folder in the Python library's layout records no vocabulary size: `libraryVocabularySize` gives it.
    public static func count(datasets directories: [URL], maxTokens: Int? = nil,
                             libraryVocabularySize: Int? = nil) throws -> TokenCounts {
        var counts: TokenCounts?
        var used = 0
        for directory in directories {
            // The library's layout keeps no index, so neither the vocabulary size nor shards.
            let library = LibraryDataFolder.recognises(directory)
            let index = library ? nil : try DatasetIndex.load(directory: directory)
            guard let size = library ? libraryVocabularySize ?? counts?.vocabularySize : index?.vocabSize, !library || size > 0 else {
                throw DataGenerationError.invalidDataset(file: directory.path, problem: library
                    ? "is in the Python library's layout, which records no vocabulary size; give it (vocab --vocab-size)"
                    : "no \(DatasetIndex.fileName); run `speculators datagen` first")
            }
            if let known = counts?.vocabularySize, known != size {
                throw DataGenerationError.invalidDataset(file: directory.path, problem: "vocabulary size \(size) differs from the first dataset's \(known)")
            }
            var folderCounts = counts ?? TokenCounts(vocabularySize: size)
            let finished = try index.map { try folderCounts.add(dataset: directory, index: $0, maxTokens: maxTokens, used: &used) }
                ?? folderCounts.add(libraryFolder: directory, maxTokens: maxTokens, used: &used)
            counts = folderCounts
            if finished { break }
        }
        return counts ?? TokenCounts(vocabularySize: 0)
    }

    /// Adds one conversation unless it would take the count past `maxTokens`; returns false then.
    private mutating func add(conversation ids: [Int], lossMask: [Bool], origin: String, maxTokens: Int?,
                              used: inout Int) throws -> Bool {
        if let budget = maxTokens, used + ids.count > budget { return false }
        used += ids.count
        try add(inputIds: ids, lossMask: lossMask, origin: origin)
        return true
    }

    /// Adds the supervised tokens of a folder in the Python library's layout (its Arrow rows);
    /// returns true once the token budget is spent.
    private mutating func add(libraryFolder directory: URL, maxTokens: Int?, used: inout Int) throws -> Bool {
        let (ids, masks) = try LibraryDataFolder.tokenRows(folder: directory)
        for (tokens, mask) in zip(ids, masks) {
            guard try add(conversation: tokens.map { Int(clamping: $0) }, lossMask: mask.map { $0 != 0 }, origin: directory.path,
                          maxTokens: maxTokens, used: &used) else { return true }
        }
        return false
    }

    /// Adds one folder's supervised tokens; returns true once the token budget is spent.
    private mutating func add(dataset directory: URL, index: DatasetIndex, maxTokens: Int?, used: inout Int) throws -> Bool {
        for shard in index.shards {
            let url = directory.appendingPathComponent(shard.file)
            let file = try TrainingShard(url: url, hiddenSize: index.hiddenSize, auxLayerCount: index.auxLayerIds.count)
            guard let budget = maxTokens else {
                try add(inputIds: file.inputIds, lossMask: file.lossMask, origin: url.path)
                continue
            }
            for c in 0..<(file.offsets.count - 1) {
                let rows = file.offsets[c]..<file.offsets[c + 1]
                guard try add(conversation: Array(file.inputIds[rows]), lossMask: Array(file.lossMask[rows]), origin: url.path,
                              maxTokens: budget, used: &used) else { return true }
            }
        }
        return false
    }
}
