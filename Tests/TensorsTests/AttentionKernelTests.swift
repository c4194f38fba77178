import Foundation
import Testing
import Tensors

@Suite("Attention kernel")
struct AttentionKernelTests {
    /// Runs the kernel for `heads` query heads (`hd` apart) and returns their outputs.
    static func attend(query: [Float], heads: Int, firstHead: Int = 0, keys: [Float], values: [Float], count: Int, hd: Int,
                       isa: SmallBatchProduct.InstructionSet = .best) -> [Float] {
        var output = [Float](repeating: .nan, count: heads * hd)
        var scratch = [Float](repeating: .nan, count: AttentionKernel.scratchCount(heads: heads, count: count))
        query.withUnsafeBufferPointer { q in
            keys.withUnsafeBufferPointer { k in
                values.withUnsafeBufferPointer { v in
                    AttentionKernel.attend(query: q.baseAddress! + firstHead * hd, queryHeadStride: hd, heads: heads,
                                           keys: k.baseAddress!, values: v.baseAddress!, count: count, headDim: hd,
                                           scale: 1 / Float(hd).squareRoot(), scratch: &scratch, output: &output,
                                           outputHeadStride: hd, using: isa)
                }
            }
        }
        return output
    }

    @Test("A head's output is the float64 softmax attention within 2e-6, alone or beside other heads, with the same bits in every instruction set",
          arguments: [(1, 64), (5, 64), (16, 64), (17, 64), (40, 16), (300, 64), (33, 128), (70, 48)])
    func matchesReferenceAndIsInvariant(count: Int, hd: Int) {
        var random = TestRandom(state: UInt64(count * 131 + hd))
        let heads = 3
        let query = random.values(heads * hd, scale: 2), keys = random.values(count * hd), values = random.values(count * hd)
        let together = Self.attend(query: query, heads: heads, keys: keys, values: values, count: count, hd: hd)
        for head in 0..<heads {
            // float64 reference
            let scale = 1 / Double(hd).squareRoot()
            let scores = (0..<count).map { j in
                (0..<hd).reduce(0.0) { $0 + Double(query[head * hd + $1]) * Double(keys[j * hd + $1]) } * scale
            }
            let top = scores.max() ?? 0
            let weights = scores.map { Foundation.exp($0 - top) }
            let total = weights.reduce(0, +)
            for d in 0..<hd {
                let expected = (0..<count).reduce(0.0) { $0 + weights[$1] / total * Double(values[$1 * hd + d]) }
                #expect(abs(Double(together[head * hd + d]) - expected) < 2e-6, "head \(head), element \(d)")
            }
            // The same bits alone and from every instruction set.
            let alone = Self.attend(query: query, heads: 1, firstHead: head, keys: keys, values: values, count: count, hd: hd)
            #expect(alone.map(\.bitPattern) == together[(head * hd)..<((head + 1) * hd)].map(\.bitPattern), "head \(head) alone")
            for isa in SmallBatchProduct.InstructionSet.all {
                let other = Self.attend(query: query, heads: 1, firstHead: head, keys: keys, values: values, count: count,
                                        hd: hd, isa: isa)
                #expect(other.map(\.bitPattern) == alone.map(\.bitPattern), "head \(head), \(isa.name)")
            }
        }
        #expect(AttentionKernel.supports(headDim: hd))
    }

    @Test("Rows of a causal chunk attended together get the bits each gets alone, in every instruction set",
          arguments: [(1, 1, 64, 3), (1, 8, 64, 3), (15, 4, 64, 3), (16, 3, 64, 3), (30, 8, 64, 3), (250, 8, 64, 3),
                      (33, 5, 128, 3), (7, 2, 16, 3), (20, 5, 64, 1), (9, 4, 64, 2), (40, 3, 128, 1), (12, 6, 128, 2)])
    func rowsTogetherMatchRowsAlone(firstCount: Int, rows: Int, hd: Int, heads: Int) {
        var random = TestRandom(state: UInt64(firstCount * 977 + rows * 31 + hd + heads))
        let qWidth = heads * hd + 7  // rows of queries and outputs with padding between them
        let count = firstCount + rows - 1
        let queries = random.values(rows * qWidth, scale: 2), keys = random.values(count * hd), values = random.values(count * hd)
        for isa in SmallBatchProduct.InstructionSet.all {
            var output = [Float](repeating: .nan, count: rows * qWidth)
            var scratch = [Float](repeating: .nan, count: AttentionKernel.scratchCount(heads: heads, count: count, rows: rows))
            queries.withUnsafeBufferPointer { q in
                keys.withUnsafeBufferPointer { k in
                    values.withUnsafeBufferPointer { v in
                        AttentionKernel.attendRows(query: q.baseAddress!, queryRowStride: qWidth, queryHeadStride: hd, heads: heads,
                                                   rows: rows, keys: k.baseAddress!, values: v.baseAddress!,
                                                   firstCount: firstCount, headDim: hd, scale: 1 / Float(hd).squareRoot(),
                                                   scratch: &scratch, output: &output, outputRowStride: qWidth,
                                                   outputHeadStride: hd, using: isa)
                    }
                }
            }
            for r in 0..<rows {
                let alone = Self.attend(query: Array(queries[(r * qWidth)..<(r * qWidth + heads * hd)]), heads: heads,
                                        keys: keys, values: values, count: firstCount + r, hd: hd)
                #expect(output[(r * qWidth)..<(r * qWidth + heads * hd)].map(\.bitPattern) == alone.map(\.bitPattern),
                        "row \(r), \(isa.name)")
                #expect(output[(r * qWidth + heads * hd)..<((r + 1) * qWidth)].allSatisfy { $0.isNaN }, "padding left alone")
            }
        }
    }

    @Test("Scores of -infinity get no weight, and head widths that are not a multiple of 16 are not taken")
    func edgeCases() {
        // A key of huge negative score (query and key opposed) next to ordinary ones: its weight is exactly 0.
        let hd = 16
        let query = [Float](repeating: 1e19, count: hd)
        let keys = [Float](repeating: -1e19, count: hd) + [Float](repeating: 0, count: hd)
        let values = [Float](repeating: 7, count: hd) + [Float](repeating: 3, count: hd)
        let out = Self.attend(query: query, heads: 1, keys: keys, values: values, count: 2, hd: hd)
        #expect(out == [Float](repeating: 3, count: hd))
        #expect(!AttentionKernel.supports(headDim: 8) && !AttentionKernel.supports(headDim: 20))
    }
}
