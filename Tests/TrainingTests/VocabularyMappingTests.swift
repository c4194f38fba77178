import Foundation
import Testing
import Training

@Suite("Vocabulary mapping") struct VocabularyMappingTests {
    struct Golden: Decodable {
        struct Case: Decodable {
            let name: String
            let draft_vocab_size: Int
            let target_vocab_size: Int
            let counts: [[Int]]
            let d2t: [Int64]
            let t2d_true_ids: [Int]
        }
        let cases: [Case]
    }

    static func golden() throws -> Golden {
        try JSONDecoder().decode(Golden.self, from: Data(contentsOf: TrainingFixtures.url("vocab-golden.json")))
    }

    static func counts(_ item: Golden.Case) -> TokenCounts {
        var counts = TokenCounts(vocabularySize: item.target_vocab_size)
        for pair in item.counts { counts.counts[pair[0]] = Int64(pair[1]) }
        return counts
    }

    @Test("d2t and t2d equal the Python library's build_vocab_mappings_from_distribution on every golden case")
    func goldens() throws {
        let golden = try Self.golden()
        #expect(golden.cases.count == 7)
        for item in golden.cases {
            let mapping = try VocabularyMapping.build(counts: Self.counts(item), draftVocabularySize: item.draft_vocab_size)
            #expect(mapping.d2t == item.d2t, "\(item.name): d2t")
            #expect(mapping.t2d.indices.filter { mapping.t2d[$0] } == item.t2d_true_ids, "\(item.name): t2d")
            #expect(mapping.t2d.count == item.target_vocab_size)
        }
    }

    @Test("Coverage is the supervised share of the draft vocabulary")
    func coverage() throws {
        var counts = TokenCounts(vocabularySize: 10)
        counts.counts[1] = 6
        counts.counts[4] = 3
        counts.counts[7] = 1
        let mapping = try VocabularyMapping.build(counts: counts, draftVocabularySize: 2)
        #expect((0..<2).map(mapping.targetId) == [1, 4])
        #expect(abs(mapping.coverage(of: counts) - 0.9) < 1e-12)
        let summary = VocabularySummary(dataset: "d", mapping: mapping, counts: counts)
        #expect(summary.distinctSupervisedTokens == 3 && summary.supervisedTokens == 10 && summary.paddedIds == 0)
        let json = String(decoding: try summary.jsonData(), as: UTF8.self)
        #expect(json.contains("\"coverage\" : 0.9"))
        #expect(json.contains("\"draft_vocab_size\" : 2"))
    }

    @Test("Sizes outside 1...V are refused")
    func badSizes() {
        let counts = TokenCounts(vocabularySize: 10)
        #expect(throws: VocabularyMapping.MappingError.invalidSize(draft: 0, target: 10)) {
            try VocabularyMapping.build(counts: counts, draftVocabularySize: 0)
        }
        #expect(throws: VocabularyMapping.MappingError.invalidSize(draft: 11, target: 10)) {
            try VocabularyMapping.build(counts: counts, draftVocabularySize: 11)
        }
    }

    @Test("The mapping file round-trips with I64 d2t, BOOL t2d and the counts")
    func fileRoundTrip() throws {
        let golden = try Self.golden()
        let item = golden.cases[5]
        let counts = Self.counts(item)
        let mapping = try VocabularyMapping.build(counts: counts, draftVocabularySize: item.draft_vocab_size)
        let directory = try TrainingFixtures.temporaryDirectory("vocab")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("vocab.safetensors")
        try mapping.write(to: url, counts: counts)
        #expect(try VocabularyMapping.load(url) == mapping)
    }

    @Test("A mapping file whose d2t and t2d disagree is refused, naming the file")
    func inconsistentFile() throws {
        let directory = try TrainingFixtures.temporaryDirectory("vocab-bad")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("bad.safetensors")
        // d2t says ids 0 and 3, t2d marks 0 and 2.
        try VocabularyMapping(d2t: [0, 2], t2d: [true, false, true, false]).write(to: url, counts: TokenCounts(vocabularySize: 4))
        let error = #expect(throws: VocabularyMapping.MappingError.self) { try VocabularyMapping.load(url) }
        #expect(error?.description.contains("bad.safetensors") == true)
    }

    @Test("Token counts over a generated dataset count exactly the supervised tokens")
    func datasetCounts() throws {
        let output = try TrainingFixtures.temporaryDirectory("counts")
        defer { try? FileManager.default.removeItem(at: output) }
        let generator = try DataGenerator(verifier: try TrainingFixtures.tinyVerifier(), renderer: ByteRenderer(),
                                          eosTokenIds: ByteRenderer.stops, pool: TrainingFixtures.pool,
                                          options: DataGenerationPipelineTests.options(output))
        let index = try generator.run(DataGenerationPipelineTests.conversations, source: "test")
        let counts = try TokenCounts.count(dataset: output)
        #expect(counts.vocabularySize == 384)
        #expect(counts.total == Int64(index.supervisedTokens))
        var expected = [Int64](repeating: 0, count: 384)
        for entry in index.shards {
            let shard = try TrainingShard(url: output.appendingPathComponent(entry.file), hiddenSize: 64, auxLayerCount: 2)
            for (id, supervised) in zip(shard.inputIds, shard.lossMask) where supervised { expected[id] += 1 }
        }
        #expect(counts.counts == expected)
        #expect(throws: DataGenerationError.self) { try TokenCounts.count(dataset: output.appendingPathComponent("missing")) }

        // A token budget counts the leading conversations that fit in it, whole.
        let first = try TrainingShard(url: output.appendingPathComponent(index.shards[0].file), hiddenSize: 64, auxLayerCount: 2)
        let firstLength = first.offsets[1] - first.offsets[0]
        let budgeted = try TokenCounts.count(dataset: output, maxTokens: firstLength)
        let firstSupervised = first.lossMask[first.offsets[0]..<first.offsets[1]].filter { $0 }.count
        #expect(budgeted.total == Int64(firstSupervised))
        #expect(try TokenCounts.count(dataset: output, maxTokens: firstLength - 1).total == 0)
        #expect(try TokenCounts.count(dataset: output, maxTokens: Int.max / 2) == counts)
    }
}
