import Testing
import Tensors

/// The quantised product's contract: the weights it computes are exactly the float32 values the
/// formats define, and every output has the bits the float32 streaming product gives for them.
/// Q4_1 and Q8_0 here, from generated blocks with extreme scales; every format, from blocks
/// gguf-py wrote, in CheckpointsTests (`QuantizedBlocksTests`).
@Suite("Exactly dequantised Q4_1 and Q8_0 products")
struct QuantizedWeightsTests {
    /// Stored GGUF blocks of `rows × k` weights with varied scales: ordinary, negative, tiny
    /// (subnormal in half precision), zero, and half precision's extremes.
    static func storedBlocks(_ format: QuantizedWeights.Format, rows: Int, k: Int, random: inout TestRandom) -> [UInt8] {
        let blocks = rows * k / 32
        var bytes: [UInt8] = []
        let specialScales: [Float16] = [0, -0.0, Float16(bitPattern: 0x0001), Float16(bitPattern: 0x03FF), 65504, -65504,
                                        Float16(bitPattern: 0x0400)]
        func append(_ half: Float16) { bytes += [UInt8(half.bitPattern & 0xFF), UInt8(half.bitPattern >> 8)] }
        for index in 0..<blocks {
            let d = index % 5 == 4 ? specialScales[(index / 5) % specialScales.count] : Float16(random.next() * 0.05)
            append(d)
            switch format {
            case .q4_1:
                append(index % 7 == 6 ? specialScales[(index / 7) % specialScales.count] : Float16(random.next() * 0.4))
                for _ in 0..<16 { bytes.append(UInt8(truncatingIfNeeded: Int((random.next() + 1) * 128))) }
            default:
                for _ in 0..<32 { bytes.append(UInt8(truncatingIfNeeded: Int((random.next() + 1) * 128))) }
            }
        }
        return bytes
    }

    /// The formats' definitions, written out: Q4_1 element j is d·(low nibble of byte j) + m and
    /// element j + 16 uses the high nibble; Q8_0 element j is d·(signed byte j). Each is one
    /// float32 operation of exact operands.
    static func dequantized(_ format: QuantizedWeights.Format, _ bytes: [UInt8], count: Int) -> [Float] {
        func half(_ at: Int) -> Float { Float(Float16(bitPattern: UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8)) }
        var values = [Float](repeating: 0, count: count)
        for block in 0..<(count / 32) {
            let base = block * format.storedBlockBytes
            let d = half(base)
            switch format {
            case .q4_1:
                let m = half(base + 2)
                for j in 0..<16 {
                    let byte = bytes[base + 4 + j]
                    values[block * 32 + j] = d * Float(byte & 0x0F) + m
                    values[block * 32 + j + 16] = d * Float(byte >> 4) + m
                }
            default:
                for j in 0..<32 { values[block * 32 + j] = d * Float(Int8(bitPattern: bytes[base + 2 + j])) }
            }
        }
        return values
    }

    static func make(_ format: QuantizedWeights.Format, _ bytes: [UInt8], rows: Int, k: Int,
                     rowOrder: ((Int) -> Int)? = nil) throws -> QuantizedWeights {
        try #require(bytes.withUnsafeBytes {
            QuantizedWeights(format: format, rows: rows, columns: k, stored: $0.baseAddress!, rowOrder: rowOrder)
        })
    }

    @Test("The kernel's weights are the formats' float32 values, bit for bit, subnormal and extreme scales included",
          arguments: [QuantizedWeights.Format.q4_1, .q8_0])
    func dequantisation(format: QuantizedWeights.Format) throws {
        var random = TestRandom(state: 11)
        let rows = 9, k = 96
        let bytes = Self.storedBlocks(format, rows: rows, k: k, random: &random)
        let weights = try Self.make(format, bytes, rows: rows, k: k)
        let expected = Self.dequantized(format, bytes, count: rows * k)
        for row in 0..<rows {
            let got = weights.dequantizedRow(row)
            for i in 0..<k {
                #expect(got[i].bitPattern == expected[row * k + i].bitPattern, "row \(row), element \(i)")
            }
        }
        #expect(weights.packedBytes == rows * k / 32 * format.packedBlockBytes)
    }

    @Test("Every output has the float32 product's bits, for any row count, column range, alignment and instruction set",
          arguments: [QuantizedWeights.Format.q4_1, .q8_0])
    func product(format: QuantizedWeights.Format) throws {
        var random = TestRandom(state: 5)
        let out = 37, k = 160
        let bytes = Self.storedBlocks(format, rows: out, k: k, random: &random)
        let weights = try Self.make(format, bytes, rows: out, k: k)
        let floats = Self.dequantized(format, bytes, count: out * k)
        for rows in [1, 2, 3, 5, 8, 12, 13, 25] {
            for misaligned in [false, true] {
                let inputs = SmallBatchProductTests.Inputs(rows: rows, k: k, misaligned: misaligned, random: &random)
                for columns in [0..<out, 3..<30] {
                    let expected = SmallBatchProductTests.product(inputs, rows: rows, weight: floats, halves: nil, k: k,
                                                                  columns: columns, out: out, isa: .best)
                    for isa in SmallBatchProduct.InstructionSet.all {
                        var y = [Float](repeating: .nan, count: rows * out)
                        inputs.storage.withUnsafeBufferPointer { xs in
                            y.withUnsafeMutableBufferPointer { ys in
                                weights.multiply(xs.baseAddress! + inputs.offset, rows: rows, ldx: inputs.ldx, columns: columns,
                                                 output: ys.baseAddress!, ldy: out, using: isa)
                            }
                        }
                        for r in 0..<rows {
                            for n in columns where y[r * out + n].bitPattern != expected[r * out + n].bitPattern {
                                Issue.record("\(format.name) rows \(rows) misaligned \(misaligned) \(isa.name): [\(r), \(n)] \(y[r * out + n]) != \(expected[r * out + n])")
                            }
                        }
                    }
                }
            }
        }
    }

    @Test("Rows are packed in the order asked for, and stacked matrices keep theirs")
    func rowOrderAndStacking() throws {
        var random = TestRandom(state: 3)
        let rows = 6, k = 64
        let bytes = Self.storedBlocks(.q4_1, rows: rows, k: k, random: &random)
        let plain = try Self.make(.q4_1, bytes, rows: rows, k: k)
        let reversed = try Self.make(.q4_1, bytes, rows: rows, k: k, rowOrder: { rows - 1 - $0 })
        for row in 0..<rows { #expect(reversed.dequantizedRow(rows - 1 - row) == plain.dequantizedRow(row)) }
        let stacked = try #require(QuantizedWeights.stacking([plain, reversed]))
        #expect(stacked.rows == 2 * rows && stacked.columns == k)
        for row in 0..<rows {
            #expect(stacked.dequantizedRow(row) == plain.dequantizedRow(row))
            #expect(stacked.dequantizedRow(rows + row) == reversed.dequantizedRow(row))
        }
        let other = try Self.make(.q8_0, Self.storedBlocks(.q8_0, rows: 2, k: k, random: &random), rows: 2, k: k)
        #expect(QuantizedWeights.stacking([plain, other]) == nil, "formats differ")
    }

    @Test("Widths that are not whole blocks and empty matrices are refused")
    func invalidShapes() {
        let bytes = [UInt8](repeating: 0, count: 1024)
        bytes.withUnsafeBytes { raw in
            #expect(QuantizedWeights(format: .q8_0, rows: 2, columns: 48, stored: raw.baseAddress!) == nil)
            #expect(QuantizedWeights(format: .q4_1, rows: 0, columns: 32, stored: raw.baseAddress!) == nil)
            #expect(QuantizedWeights(format: .q4_1, rows: 1, columns: 0, stored: raw.baseAddress!) == nil)
        }
    }

    @Test("A layer computes the same bits from its blocks as from its float32 weights, and ignores blocks of another shape")
    func linear() throws {
        var random = TestRandom(state: 9)
        let out = 40, k = 96, rows = 3
        let bytes = Self.storedBlocks(.q8_0, rows: out, k: k, random: &random)
        let blocks = try Self.make(.q8_0, bytes, rows: out, k: k)
        let plain = Linear(weight: Tensor(shape: [out, k], values: Self.dequantized(.q8_0, bytes, count: out * k)))
        let quantized = plain.usingQuantized(blocks)
        #expect(quantized.quantized != nil)
        let wrongShape = try Self.make(.q8_0, Self.storedBlocks(.q8_0, rows: 2, k: k, random: &random), rows: 2, k: k)
        #expect(plain.usingQuantized(wrongShape).quantized == nil)
        let input = random.values(rows * k)
        var a = [Float](repeating: .nan, count: rows * out), b = a
        let pool = ThreadPool(threadCount: 2)
        input.withUnsafeBufferPointer { x in
            a.withUnsafeMutableBufferPointer { plain.apply(x.baseAddress!, rows: rows, into: $0.baseAddress!, pool: pool) }
            b.withUnsafeMutableBufferPointer { quantized.apply(x.baseAddress!, rows: rows, into: $0.baseAddress!, pool: pool) }
        }
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
    }

    @Test("A layer made from blocks alone computes the same bits for any row count, reads its rows from the blocks, and says what needs float32 weights")
    func blocksAlone() throws {
        var random = TestRandom(state: 10)
        let out = 40, k = 96
        let bytes = Self.storedBlocks(.q4_1, rows: out, k: k, random: &random)
        let values = Self.dequantized(.q4_1, bytes, count: out * k)
        let plain = Linear(weight: Tensor(shape: [out, k], values: values))
        let lean = Linear(blocks: try Self.make(.q4_1, bytes, rows: out, k: k))
        #expect(lean.weight == nil && lean.quantized != nil && lean.outFeatures == out && lean.inFeatures == k)
        #expect(lean.usingQuantized(nil).quantized != nil, "blocks are all a released layer has")
        let pool = ThreadPool(threadCount: 2)
        // Passes of more rows than `QuantizedWeights.fastestUpToRows` take the blocks too.
        for rows in [1, 3, 9, 20] {
            let input = random.values(rows * k)
            var a = [Float](repeating: .nan, count: rows * out), b = a
            input.withUnsafeBufferPointer { x in
                a.withUnsafeMutableBufferPointer { plain.apply(x.baseAddress!, rows: rows, into: $0.baseAddress!, pool: pool) }
                b.withUnsafeMutableBufferPointer { lean.apply(x.baseAddress!, rows: rows, into: $0.baseAddress!, pool: pool) }
            }
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "rows \(rows)")
        }
        var row = [Float](repeating: .nan, count: k)
        for index in [0, 17, out - 1] {
            row.withUnsafeMutableBufferPointer { lean.copyRow(index, to: $0.baseAddress!) }
            #expect(row.map(\.bitPattern) == values[(index * k)..<((index + 1) * k)].map(\.bitPattern))
        }
        let error = #expect(throws: Float32WeightsUnavailable.self) { try lean.requireFloat32(for: "training") }
        #expect(error?.description.hasPrefix("training needs float32 weights") == true)
    }
}
