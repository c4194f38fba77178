import CMatmul
import Testing
import Tensors

/// The streaming kernel's contract: one accumulation order for every element, whatever the row
/// count, the group a row lands in, the column range, the input's alignment or the instruction
/// set the CPU runs.
@Suite("Small-batch product")
struct SmallBatchProductTests {
    /// The order the kernel promises, written out: 16-lane chunks with fused multiply-adds, the
    /// lanes summed by halves (i + 8, then + 4, + 2, + 1), the leftover elements fused in order.
    static func contractDot(_ x: ArraySlice<Float>, _ w: ArraySlice<Float>) -> Float {
        let k = x.count, x0 = x.startIndex, w0 = w.startIndex
        var lanes = [Float](repeating: 0, count: 16)
        var i = 0
        while i + 16 <= k {
            for lane in 0..<16 { lanes[lane] = lanes[lane].addingProduct(x[x0 + i + lane], w[w0 + i + lane]) }
            i += 16
        }
        var width = 8
        while width >= 1 {
            for lane in 0..<width { lanes[lane] = lanes[lane] + lanes[lane + width] }
            width /= 2
        }
        var sum = lanes[0]
        while i < k { sum = sum.addingProduct(x[x0 + i], w[w0 + i]); i += 1 }
        return sum
    }

    /// `rows` input rows of `k` values stored `ldx` apart, starting one float into the buffer
    /// when `misaligned` (so the kernel's aligned copy is exercised).
    struct Inputs {
        var storage: [Float]
        let offset: Int, ldx: Int
        init(rows: Int, k: Int, misaligned: Bool, random: inout TestRandom) {
            offset = misaligned ? 1 : 0
            ldx = misaligned ? k + 3 : k
            storage = [Float](repeating: .nan, count: offset + rows * ldx)
            for r in 0..<rows { for i in 0..<k { storage[offset + r * ldx + i] = random.next() } }
        }
        func row(_ r: Int, k: Int) -> ArraySlice<Float> { storage[(offset + r * ldx)..<(offset + r * ldx + k)] }
    }

    static func product(_ inputs: Inputs, rows: Int, weight: [Float], halves: [UInt16]?, k: Int,
                        columns: Range<Int>, out: Int, isa: SmallBatchProduct.InstructionSet) -> [Float] {
        var y = [Float](repeating: .nan, count: rows * out)
        inputs.storage.withUnsafeBufferPointer { xs in
            y.withUnsafeMutableBufferPointer { ys in
                let x = xs.baseAddress! + inputs.offset
                if let halves {
                    halves.withUnsafeBufferPointer {
                        SmallBatchProduct.multiply(x, rows: rows, ldx: inputs.ldx, weight: $0.baseAddress!, k: k,
                                                   columns: columns, output: ys.baseAddress!, ldy: out, using: isa)
                    }
                } else {
                    weight.withUnsafeBufferPointer {
                        SmallBatchProduct.multiply(x, rows: rows, ldx: inputs.ldx, weight: $0.baseAddress!, k: k,
                                                   columns: columns, output: ys.baseAddress!, ldy: out, using: isa)
                    }
                }
            }
        }
        return y
    }

    /// 1536: inputs so wide that passes of more than five rows split into smaller groups.
    @Test("Every element is the contract's sum, bit for bit, in every instruction set, for float32 and bfloat16 weights",
          arguments: [5, 16, 70, 579, 1536])
    func elementsFollowTheContract(k: Int) {
        var random = TestRandom(state: UInt64(k))
        let out = 41
        // bfloat16-exact values, so that the same weights can be given in both formats.
        let weight = random.values(out * k).map { Float(bitPattern: $0.bitPattern & 0xFFFF_0000) }
        let halves = weight.map { UInt16($0.bitPattern >> 16) }
        let columns = 3..<out   // an odd count, not starting at zero
        for rows in [1, 2, 3, 4, 5, 8, 12, 13, 25] {
            for misaligned in [false, true] {
                let inputs = Inputs(rows: rows, k: k, misaligned: misaligned, random: &random)
                var expected = [Float](repeating: .nan, count: rows * out)
                for r in 0..<rows {
                    for n in columns {
                        expected[r * out + n] = Self.contractDot(inputs.row(r, k: k), weight[(n * k)..<((n + 1) * k)])
                    }
                }
                for isa in SmallBatchProduct.InstructionSet.all {
                    for format in [nil, halves] {
                        let y = Self.product(inputs, rows: rows, weight: weight, halves: format, k: k,
                                             columns: columns, out: out, isa: isa)
                        #expect(y.map(\.bitPattern) == expected.map(\.bitPattern),
                                "k \(k), rows \(rows), \(isa.name), \(format == nil ? "float32" : "bfloat16"), misaligned \(misaligned)")
                    }
                }
                weight.withUnsafeBufferPointer { w in
                    inputs.storage.withUnsafeBufferPointer { xs in
                        for isa in SmallBatchProduct.InstructionSet.all {
                            let dot = SmallBatchProduct.dot(xs.baseAddress! + inputs.offset, w.baseAddress! + 7 * k, k, using: isa)
                            #expect(dot.bitPattern == expected[7].bitPattern, "dot, k \(k), \(isa.name)")
                        }
                    }
                }
            }
        }
    }

    @Test("A row gives the same bits alone and in passes of several groups streamed in tiles")
    func rowsAreInvariantAcrossGroupsAndTiles() {
        var random = TestRandom(state: 3)
        // 2,301 outputs of 96 inputs: several 128 KiB tiles, and an odd column left over.
        let k = 96, out = 2301
        #expect(out * k * 4 > 2 * SmallBatchProduct.tileBytes)
        let weight = random.values(out * k)
        for rows in [13, 25, 30] {
            let inputs = Inputs(rows: rows, k: k, misaligned: false, random: &random)
            let batched = Self.product(inputs, rows: rows, weight: weight, halves: nil, k: k, columns: 0..<out, out: out,
                                       isa: .best)
            for r in [0, rows / 2, rows - 1] {
                var single = Inputs(rows: 1, k: k, misaligned: false, random: &random)
                single.storage = Array(inputs.row(r, k: k))
                let alone = Self.product(single, rows: 1, weight: weight, halves: nil, k: k, columns: 0..<out, out: out,
                                         isa: .best)
                #expect(alone.map(\.bitPattern) == batched[(r * out)..<((r + 1) * out)].map(\.bitPattern), "row \(r) of \(rows)")
            }
        }
    }

    @Test("Passes of a few rows give the same bits every call, whichever way their weights are prefetched")
    func fewRowsAreStableAcrossPrefetchPolicies() {
        var random = TestRandom(state: 11)
        let k = 80, out = 37
        let weight = random.values(out * k)
        for rows in 1...4 {
            let inputs = Inputs(rows: rows, k: k, misaligned: false, random: &random)
            let first = Self.product(inputs, rows: rows, weight: weight, halves: nil, k: k, columns: 0..<out, out: out,
                                     isa: .best)
            // One call in 16 takes the way the tuner has not chosen: 40 calls run both.
            for call in 1..<40 {
                let again = Self.product(inputs, rows: rows, weight: weight, halves: nil, k: k, columns: 0..<out, out: out,
                                         isa: .best)
                #expect(again.map(\.bitPattern) == first.map(\.bitPattern), "rows \(rows), call \(call)")
            }
        }
    }

    @Test("The prefetch tuner settles on the cheaper way and keeps trying the other one call in 16")
    func prefetchTunerFollowsTheCheaperPolicy() {
        var software = 0
        // Software prefetch 20% cheaper: the tuner switches to it and stays.
        #expect(speculators_prefetch_tuner_simulate(1.0, 0.8, 1600, &software) == 1)
        #expect(software > 1400)
        // The hardware prefetchers cheaper: only the exploring calls prefetch in software.
        #expect(speculators_prefetch_tuner_simulate(1.0, 1.3, 1600, &software) == 0)
        #expect(software == 100)
        // Within the switching margin (3%): the first way stays, not flipping on noise.
        #expect(speculators_prefetch_tuner_simulate(1.0, 0.99, 1600, &software) == 0)
        #expect(software == 100)
    }

    @Test("The kernel reports which instruction set it runs; a limit caps it and lifting the limit restores it")
    func instructionSetIsNamedAndLimited() {
        let best = SmallBatchProduct.InstructionSet.best
        #expect(["AVX-512", "AVX2", "portable"].contains(SmallBatchProduct.instructionSet))
        // Every variant gives the same bits, so tests running meanwhile are not affected.
        SmallBatchProduct.limitInstructionSet(to: .portable)
        #expect(SmallBatchProduct.InstructionSet.best == .portable)
        SmallBatchProduct.limitInstructionSet(to: .avx512)
        #expect(SmallBatchProduct.InstructionSet.best == best)
        #expect(SmallBatchProduct.InstructionSet(named: "AVX-512") == .avx512)
        #expect(SmallBatchProduct.InstructionSet(named: "avx2") == .avx2 && SmallBatchProduct.InstructionSet(named: "sse") == nil)
    }
}
