import ArgumentParser
import Foundation
import Training

/// `speculators vocab`: supervised-token counts over a generated dataset and the draft vocabulary mapping
/// (`d2t`/`t2d`) for a chosen size, built as the Python library builds it.
struct VocabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vocab",
        abstract: "Count supervised tokens of a datagen dataset and build the d2t/t2d draft vocabulary mapping.")

    @Option(help: "Dataset directory written by `speculators datagen` (repeatable: counts over all, in order).")
    var data: [String] = []
    @Option(help: "Draft vocabulary size.") var draftVocabSize = 8192
    @Option(help: "Mapping file (default: <first data>/vocab-<size>.safetensors); the summary goes beside it as .json.")
    var output: String?
    @Option(help: "Count only the leading conversations that fit in this many tokens (as `train --max-data-tokens`).")
    var maxDataTokens: Int?
    @Option(help: "The verifier's vocabulary size, for --data folders in the Python library's layout (which do not record it).")
    var vocabSize: Int?

    func validate() throws {
        try requireOption(!data.isEmpty, "--data is required: a folder written by `speculators datagen`")
        try requireOption((maxDataTokens ?? 1) >= 1, "--max-data-tokens must be at least 1, got \(maxDataTokens ?? 0)")
        try requireOption((vocabSize ?? 1) >= 1, "--vocab-size must be at least 1, got \(vocabSize ?? 0)")
    }

    func run() throws {
        let directories = data.map { URL(fileURLWithPath: $0) }
        guard let directory = directories.first else { throw ValidationError("--data is required") }
        let counts = try TokenCounts.count(datasets: directories, maxTokens: maxDataTokens, libraryVocabularySize: vocabSize)
        guard counts.total > 0 else {
            throw CommandFailure("\(data.joined(separator: ", ")): no supervised token to count\(maxDataTokens.map { " within --max-data-tokens \($0)" } ?? ""); no mapping written")
        }
        let mapping = try VocabularyMapping.build(counts: counts, draftVocabularySize: draftVocabSize)
        let url = output.map { URL(fileURLWithPath: $0) } ?? directory.appendingPathComponent("vocab-\(draftVocabSize).safetensors")
        try mapping.write(to: url, counts: counts)
        let summary = VocabularySummary(dataset: directories.map(\.path).joined(separator: ", "), mapping: mapping, counts: counts)
        let summaryURL = url.deletingPathExtension().appendingPathExtension("json")
        try summary.jsonData().write(to: summaryURL, options: .atomic)
        print("vocab: \(counts.total) supervised tokens, \(counts.distinct) distinct ids; draft vocabulary \(draftVocabSize) of \(counts.vocabularySize) covers \(String(format: "%.4f", summary.coverage)) of supervised tokens")
        print("vocab: wrote \(url.path) and \(summaryURL.path)")
    }
}
