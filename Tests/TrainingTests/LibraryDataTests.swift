import Foundation
import Testing
import Tensors
import Training

/// Offline data in the Python library's layout, read as it is: the fixture
/// (Fixtures/library-data-generate.py) holds values the tests recompute.
@Suite("Training data in the Python library's layout")
struct LibraryDataTests {
    static let folder = TrainerFixtures.root.appendingPathComponent("library-data")
    static let lengths = [6, 9, 5]

    static func token(_ r: Int, _ t: Int) -> Int { (r * 37 + t * 11) % 384 }
    static func state(_ r: Int, _ t: Int, _ l: Int, _ h: Int) -> Float { Float((r * 5 + t * 7 + l * 3 + h) % 64) / 16 }

    @Test("Its Arrow columns read as the library wrote them")
    func arrowColumns() throws {
        let arrow = try ArrowStream(url: Self.folder.appendingPathComponent("data-00000-of-00001.arrow"))
        #expect(arrow.rowCount == 3)
        #expect(arrow.columns["seq_len"] == .integers(Self.lengths.map(Int64.init)))
        let ids = Self.lengths.enumerated().map { r, n in (0..<n).map { Int64(Self.token(r, $0)) } }
        #expect(arrow.columns["input_ids"] == .integerLists(ids))
        let masks = Self.lengths.map { n in (0..<n).map { Int64($0 % 3 != 0 ? 1 : 0) } }
        #expect(arrow.columns["loss_mask"] == .integerLists(masks))
    }

    @Test("A batch holds the library's tokens, masks and states after the EAGLE-3 shift, as a datagen folder's would")
    func batches() throws {
        let dataset = try TrainingDataset(folder: Self.folder, libraryAuxLayerIds: [1, 2, 3])
        #expect(dataset.hiddenSize == 64 && dataset.featureWidth == 192)
        #expect(dataset.conversations.map(\.count) == Self.lengths)
        let batch = try dataset.batch([1], maxRows: 100)
        let n = Self.lengths[1] - 1
        #expect(batch.tokens == (1...n).map { Self.token(1, $0) })
        #expect(batch.lossMask == (1...n).map { $0 % 3 != 0 })
        // Row t pairs input token t + 1 with the aux states of t and the last state of t + 1.
        for t in 0..<n {
            for l in 0..<3 {
                for h in 0..<64 {
                    #expect(batch.features.base[t * 192 + l * 64 + h] == Self.state(1, t, l, h))
                }
            }
            for h in 0..<64 { #expect(batch.lastHidden.base[t * 64 + h] == Self.state(1, t + 1, 3, h)) }
        }
    }

    @Test("Supervised tokens are counted from its Arrow rows, given the vocabulary size it does not record")
    func tokenCounts() throws {
        var expected = [Int64](repeating: 0, count: 384)
        for (r, n) in Self.lengths.enumerated() { for t in 0..<n where t % 3 != 0 { expected[Self.token(r, t)] += 1 } }
        #expect(try TokenCounts.count(datasets: [Self.folder], libraryVocabularySize: 384).counts == expected)
        // A budget stops before the first conversation that does not fit (6 + 9 tokens fit in 15).
        var budget = [Int64](repeating: 0, count: 384)
        for (r, n) in Self.lengths.prefix(2).enumerated() { for t in 0..<n where t % 3 != 0 { budget[Self.token(r, t)] += 1 } }
        #expect(try TokenCounts.count(datasets: [Self.folder], maxTokens: 15, libraryVocabularySize: 384).counts == budget)
        #expect(throws: DataGenerationError.self) { try TokenCounts.count(datasets: [Self.folder]) }
    }

    @Test("Without aux layer ids, or with a count its states do not hold, the folder is refused by name")
    func refusals() throws {
        #expect {
            _ = try TrainingDataset(folder: Self.folder)
        } throws: { error in
            "\(error)".contains("does not record its aux layer ids")
        }
        #expect {
            _ = try TrainingDataset(folder: Self.folder, libraryAuxLayerIds: [1, 2])
        } throws: { error in
            "\(error)".contains("hs_0.safetensors")
        }
    }

    @Test("A truncated or corrupt Arrow file is an error that names it, never a crash")
    func corruptArrow() throws {
        let original = try Data(contentsOf: Self.folder.appendingPathComponent("data-00000-of-00001.arrow"))
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("arrow-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        var random = SystemRandomNumberGenerator()
        for cut in stride(from: 0, to: original.count, by: 7) {
            try original.prefix(cut).write(to: scratch)
            _ = try? ArrowStream(url: scratch)
        }
        for _ in 0..<300 {
            var bytes = [UInt8](original)
            for _ in 0..<4 { bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random) }
            try Data(bytes).write(to: scratch)
            _ = try? ArrowStream(url: scratch)
        }
        #expect(throws: ArrowStream.Failure.self) { try ArrowStream(url: URL(fileURLWithPath: "/nonexistent.arrow")) }
    }
}
