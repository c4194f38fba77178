import Testing
import Tensors

@Suite("bfloat16 bits and attention kernels")
struct BFloat16AndAttentionKernelTests {
    @Test("bfloat16 rounds to nearest with ties to even, keeps NaN quiet and widens exactly")
    func bfloat16Rounding() {
        #expect(BFloat16.rounded(1.0) == 0x3F80)
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even pattern, 0x3F80.
        #expect(BFloat16.rounded(Float(bitPattern: 0x3F80_8000)) == 0x3F80)
        // 1 + 3·2^-8 is halfway between 0x3F81 and 0x3F82: the even one wins.
        #expect(BFloat16.rounded(Float(bitPattern: 0x3F81_8000)) == 0x3F82)
        #expect(BFloat16.rounded(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(BFloat16.rounded(-Float.infinity) == 0xFF80)
        #expect(BFloat16.widen(BFloat16.rounded(.nan)).isNaN)
        #expect(BFloat16.exactly(Float(bitPattern: 0x4049_0000)) == 0x4049)
        #expect(BFloat16.exactly(Float(bitPattern: 0x4049_0001)) == nil)
        for bits in stride(from: 0, through: 0xFFFF, by: 7) where !BFloat16.widen(UInt16(bits)).isNaN {
            #expect(BFloat16.rounded(BFloat16.widen(UInt16(bits))) == UInt16(bits))
        }
    }

    @Test("Softmax equals exp(x - max) summed in index order, bit for bit, at every length")
    func softmaxMatchesItsDefinition() {
        var random = TestRandom(state: 11)
        for count in [1, 2, 7, 8, 9, 31, 64, 333] {
            var values = random.values(count, scale: 12)
            if count > 8 { values[3] = -.infinity }
            var expected = values
            let maxValue = values.max() ?? 0
            var sum: Float = 0
            for i in expected.indices {
                expected[i] = Kernels.exp(expected[i] - maxValue)
                sum += expected[i]
            }
            for i in expected.indices { expected[i] *= 1 / sum }
            let returned = values.withUnsafeMutableBufferPointer { Kernels.softmax($0.baseAddress!, count: count) }
            #expect(values == expected, "length \(count)")
            #expect(returned == sum)
        }
        var allMasked: [Float] = [-.infinity, -.infinity]
        #expect(allMasked.withUnsafeMutableBufferPointer { Kernels.softmax($0.baseAddress!, count: 2) } == 0)
    }

    @Test("The weighted sum of value rows accumulates every column in row order, bit for bit, at every width")
    func weightedSumMatchesItsDefinition() {
        var random = TestRandom(state: 5)
        for (count, width) in [(1, 64), (5, 64), (300, 64), (17, 40), (9, 8), (3, 7), (12, 100)] {
            let rows = random.values(count * width), weights = random.values(count)
            var expected = [Float](repeating: 0, count: width)
            for column in 0..<width {
                // Each column's sum is a chain of fused multiply-adds in row order (8-lane
                // columns) or of plain products and sums (the scalar tail).
                var sum: Float = 0
                for j in 0..<count {
                    sum = column < width & ~7 ? sum.addingProduct(weights[j], rows[j * width + column])
                                              : sum + weights[j] * rows[j * width + column]
                }
                expected[column] = sum
            }
            var out = [Float](repeating: .nan, count: width)
            rows.withUnsafeBufferPointer { r in
                weights.withUnsafeBufferPointer { w in
                    out.withUnsafeMutableBufferPointer {
                        Kernels.weightedSum(of: r.baseAddress!, weights: w.baseAddress!, count: count, width: width,
                                            into: $0.baseAddress!)
                    }
                }
            }
            #expect(out == expected, "\(count) rows of width \(width)")
        }
    }
}

@Suite("Attention scores")
struct AttentionScoreTests {
    @Test("Scaled dots of a query with many keys equal one dot product at a time, bit for bit")
    func scaledDotsMatchSingleDots() {
        var random = TestRandom(state: 23)
        for (count, dim) in [(1, 64), (3, 64), (4, 64), (259, 64), (13, 20), (9, 5), (8, 128)] {
            let query = random.values(dim), keys = random.values(count * dim)
            var scores = [Float](repeating: .nan, count: count)
            query.withUnsafeBufferPointer { q in
                keys.withUnsafeBufferPointer { k in
                    scores.withUnsafeMutableBufferPointer {
                        Kernels.scaledDots(query: q.baseAddress!, keys: k.baseAddress!, count: count, dim: dim,
                                           scale: 0.125, into: $0.baseAddress!)
                    }
                    for j in 0..<count {
                        let single = Kernels.attentionDot(q.baseAddress!, k.baseAddress! + j * dim, dim) * 0.125
                        #expect(scores[j] == single, "key \(j) of \(count), width \(dim)")
                    }
                }
            }
        }
    }
}
