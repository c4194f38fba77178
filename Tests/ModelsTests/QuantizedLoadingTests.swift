import Checkpoints
import Foundation
import Models
import Tensors
import Testing

/// Serving reads a GGUF verifier's layer matrices as blocks alone (`blocksOnly`), never as
/// float32. On two tiny models that mix the formats real files use (see
/// scripts/fixtures/make_mixed_gguf_models.py), that model must compute every logit with the bits
/// of the same model dequantised to float32, keep float32 exactly where no exact on-the-fly form
/// exists, and undo llama.cpp's q/k row permutation in the blocks as in the float32 rows.
@Suite("Verifiers loaded from quantised blocks alone")
struct QuantizedLoadingTests {
    /// Per layer, which of `qkv, output, gateUp, down` the fixture stores in blocks that stack to
    /// one packed form (the others stay float32).
    static let expectedBlocks: [String: [[Bool]]] = [
        // Layer 1: q/k Q4_K with v Q6_K do not stack; Q3_K and Q2_K stay float32; Q5_0 and Q8_0 stack.
        "tiny-llama-mixed-gguf.bin": [[true, true, true, true], [false, false, true, false]],
        "tiny-qwen2-mixed-gguf.bin": [[true, true, true, true], [true, true, true, true]],
    ]

    @Test("Every logit has the float32 model's bits, prefill, verification and decode rows alike, and float32 stays where no exact form exists",
          arguments: ["tiny-llama-mixed-gguf.bin", "tiny-qwen2-mixed-gguf.bin"])
    func blocksOnly(file: String) throws {
        let url = Fixtures.root.appendingPathComponent(file)
        let float32 = try TransformerModel.load(gguf: GGUFFile(url: url))
        let lean = try TransformerModel.load(gguf: GGUFFile(url: url), blocksOnly: true)
        let expected = try #require(Self.expectedBlocks[file])
        let kernelTakesAllPasses = QuantizedWeights.fastestUpToRows == Int.max
        #expect(lean.usesQuantizedWeights && !float32.usesQuantizedWeights)
        for (index, layer) in lean.layers.enumerated() {
            let linears = [layer.qkv, layer.output, layer.gateUp, layer.down]
            #expect(linears.map { $0.quantized != nil } == expected[index], "layer \(index)")
            // Without AVX-512 the float32 rows stay beside the blocks.
            #expect(linears.map { $0.weight == nil } == expected[index].map { $0 && kernelTakesAllPasses }, "layer \(index)")
        }
        #expect(lean.hasBlocksOnlyLayers == kernelTakesAllPasses)
        #expect(lean.head.quantized != nil && lean.head.weight != nil, "the head keeps float32 rows for drafts")

        let vocab = float32.config.vocabSize
        let a = try float32.makeCache(capacity: 32), b = try lean.makeCache(capacity: 32)
        for chunk in [[1, 7, 30, 2, 44, 19, 5, 11, 40, 3], [8, 9, 10, 47], [0]] {
            let request = { (cache: KVCache) in TransformerModel.Request(cache: cache, tokens: chunk, logits: .all) }
            let x = try float32.forward([request(a)], pool: Fixtures.pool)
            let y = try lean.forward([request(b)], pool: Fixtures.pool)
            for row in chunk.indices {
                let expectedRow = rowArray(x.logits(request: 0, row: row), vocab)
                let finite = expectedRow.allSatisfy { $0.isFinite }
                #expect(finite, "chunk of \(chunk.count), row \(row)")
                #expect(rowArray(y.logits(request: 0, row: row), vocab).map(\.bitPattern) == expectedRow.map(\.bitPattern),
                        "chunk of \(chunk.count), row \(row)")
            }
        }
    }
}
