import Checkpoints
import Tensors
import Testing

/// The blocks gguf-py wrote into `tiny-gguf.bin`, kept quantised (`GGUFFile.loadQuantized`): the
/// kernel's weights must be the float32 values the loader dequantises (themselves checked against
/// gguf-py's reference dequantisation), and its products those of the float32 kernel.
@Suite("GGUF blocks kept quantised compute exactly what their float32 dequantisation does")
struct QuantizedBlocksTests {
    let file: GGUFFile
    static let kept = ["quant.q4_0", "quant.q4_1", "quant.q5_0", "quant.q5_1", "quant.q8_0", "quant.q4_k", "quant.q5_k",
                       "quant.q6_k"]

    init() throws { file = try GGUFFile(url: Fixtures.url("tiny-gguf.bin")) }

    @Test("Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K rows have the loader's float32 values, bit for bit",
          arguments: QuantizedBlocksTests.kept)
    func values(name: String) throws {
        let blocks = try #require(try file.loadQuantized(name))
        let floats = try file.loadFloat32(name)
        #expect([blocks.rows, blocks.columns] == floats.shape)
        let expected = floats.array
        for row in 0..<blocks.rows {
            let got = blocks.dequantizedRow(row)
            for i in 0..<blocks.columns where got[i].bitPattern != expected[row * blocks.columns + i].bitPattern {
                Issue.record("\(name) row \(row) element \(i): \(got[i]) != \(expected[row * blocks.columns + i])")
            }
        }
    }

    @Test("Their products have the float32 kernel's bits for 1 to 13 rows in every instruction set",
          arguments: QuantizedBlocksTests.kept)
    func products(name: String) throws {
        let blocks = try #require(try file.loadQuantized(name))
        let floats = try file.loadFloat32(name).array
        let out = blocks.rows, k = blocks.columns
        for rows in [1, 2, 5, 13] {
            let x = (0..<(rows * k)).map { Float(($0 * 7919) % 2001) / 1000 - 1 }
            var expected = [Float](repeating: .nan, count: rows * out)
            x.withUnsafeBufferPointer { xs in
                floats.withUnsafeBufferPointer { w in
                    expected.withUnsafeMutableBufferPointer {
                        SmallBatchProduct.multiply(xs.baseAddress!, rows: rows, ldx: k, weight: w.baseAddress!, k: k,
                                                   columns: 0..<out, output: $0.baseAddress!, ldy: out)
                    }
                }
            }
            for isa in SmallBatchProduct.InstructionSet.all {
                var y = [Float](repeating: .nan, count: rows * out)
                x.withUnsafeBufferPointer { xs in
                    y.withUnsafeMutableBufferPointer {
                        blocks.multiply(xs.baseAddress!, rows: rows, ldx: k, columns: 0..<out, output: $0.baseAddress!,
                                        ldy: out, using: isa)
                    }
                }
                #expect(y.map(\.bitPattern) == expected.map(\.bitPattern), "\(name), \(rows) rows, \(isa.name)")
            }
        }
    }

    @Test("Formats without an exact on-the-fly form and non-matrices are not kept quantised")
    func others() throws {
        for name in ["quant.q2_k", "quant.q3_k", "plain.f32"] {
            #expect(try file.loadQuantized(name) == nil, "\(name)")
        }
    }
}
