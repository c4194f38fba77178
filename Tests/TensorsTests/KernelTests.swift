import Foundation
import Testing
import Tensors

/// Small deterministic pseudo-random numbers for test inputs.
struct TestRandom {
    var state: UInt64
    mutating func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: state >> 11) % 2_000_001) / 1_000_000 - 1
    }
    mutating func values(_ count: Int, scale: Float = 1) -> [Float] { (0..<count).map { _ in next() * scale } }
}

func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { abs($0 - $1) / max(1e-6, abs($1)) }.max() ?? 0
}

@Suite("Kernels")
struct KernelTests {
    @Test("The fast exp is within 2 ulp of the C library over the float range")
    func exponential() {
        var worst: Float = 0
        for step in 0..<175_000 {
            let x = Float(-87 + Double(step) * 0.001)
            let expected = Foundation.exp(x)
            worst = max(worst, abs(Kernels.exp(x) - expected) / expected.ulp)
        }
        #expect(worst <= 2)
        #expect(Kernels.exp(0) == 1)
        #expect(Kernels.exp(-200) == 0 && Kernels.exp(-.infinity) == 0)
        #expect(Kernels.exp(200) == .infinity)
    }

    @Test("RMSNorm matches the textbook formula, with and without a weight, in place")
    func rmsNorm() {
        var random = TestRandom(state: 1)
        let rows = 3, dim = 37
        let x = random.values(rows * dim, scale: 3)
        let w = random.values(dim)
        var out = [Float](repeating: 0, count: rows * dim)
        Kernels.rmsNorm(x, weight: w, eps: 1e-5, rows: rows, dim: dim, into: &out)
        var expected: [Float] = []
        for r in 0..<rows {
            let row = Array(x[r * dim..<(r + 1) * dim])
            let ms = row.map { Double($0) * Double($0) }.reduce(0, +) / Double(dim)
            let inv = 1 / (ms + 1e-5).squareRoot()
            expected += row.enumerated().map { Float(Double(w[$0.offset]) * Double($0.element) * inv) }
        }
        #expect(maxRelativeError(out, expected) < 1e-5)
        var inPlace = x
        inPlace.withUnsafeMutableBufferPointer { buffer in
            Kernels.rmsNorm(buffer.baseAddress!, weight: w, eps: 1e-5, rows: rows, dim: dim, into: buffer.baseAddress!)
        }
        #expect(inPlace == out)
    }

    @Test("Softmax sums to one, is shift invariant and handles -inf entries")
    func softmax() {
        var values: [Float] = [1, 2, 3, -Float.infinity, 0.5, 100, 99, 98, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        let expectedMax = values.max()!
        let reference = values.map { Foundation.exp(Double($0 - expectedMax)) }
        let total = reference.reduce(0, +)
        Kernels.softmax(&values, count: values.count)
        #expect(abs(values.reduce(0, +) - 1) < 1e-6)
        #expect(maxRelativeError(values.filter { $0 > 1e-30 }, reference.map { Float($0 / total) }.filter { $0 > 1e-30 }) < 1e-5)
        #expect(values[3] == 0)
    }

    @Test("SwiGLU multiplies silu(gate) by up for every row")
    func swiglu() {
        var random = TestRandom(state: 7)
        let rows = 2, inner = 35
        let gateUp = random.values(rows * 2 * inner, scale: 6)
        var out = [Float](repeating: 0, count: rows * inner)
        Kernels.siluMultiply(gateUp, rows: rows, inner: inner, into: &out)
        var expected: [Float] = []
        for r in 0..<rows {
            for i in 0..<inner {
                let g = Double(gateUp[r * 2 * inner + i]), u = Double(gateUp[r * 2 * inner + inner + i])
                expected.append(Float(g / (1 + Foundation.exp(-g)) * u))
            }
        }
        #expect(zip(out, expected).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) })
    }

    @Test("The top softmax probability equals a float64 softmax's maximum, for any length and with -inf entries")
    func topProbability() {
        var random = TestRandom(state: 11)
        for count in [1, 15, 16, 17, 100, 8192] {
            var values = random.values(count, scale: 8)
            if count > 2 { values[1] = -.infinity }
            let top = Double(values.max() ?? 0)
            let expected = 1 / values.reduce(0.0) { $0 + Foundation.exp(Double($1) - top) }
            let got = Kernels.topProbability(values, count: count)
            #expect(abs(Double(got) - expected) <= 1e-5 * expected, "\(count) logits: \(got) against \(expected)")
        }
        #expect(Kernels.topProbability([3, 3], count: 2) == 0.5)
        #expect(Kernels.topProbability([-.infinity, -.infinity], count: 2) == 0, "no finite logit: no confidence")
    }

    @Test("Argmax returns the first of equal maxima, as torch does, never a NaN, and 0 when nothing is finite")
    func argmax() {
        #expect(Kernels.argmax([1, 5, 5, 2], count: 4) == 1)
        #expect(Kernels.argmax([-3, -2, -9], count: 3) == 1)
        #expect(Kernels.argmax([.nan, 1, .nan, 3, 3], count: 5) == 3)
        #expect(Kernels.argmax([-.infinity, .nan, -.infinity], count: 3) == 0)
        // Long rows: the vector lanes, their tail, ties across lanes, the screened head's -infinity rows.
        var random = TestRandom(state: 77)
        for count in [7, 8, 9, 49152, 49153] {
            var row = random.values(count)
            row[count / 3] = 9
            row[count - 1] = 9
            #expect(Kernels.argmax(row, count: count) == count / 3)
            var screened = [Float](repeating: -.infinity, count: count)
            screened[count - 1] = -4
            #expect(Kernels.argmax(screened, count: count) == count - 1)
        }
    }
}

@Suite("Linear")
struct LinearTests {
    func reference(_ x: [Float], rows: Int, _ w: [Float], out: Int, inner: Int, bias: [Float]?) -> [Float] {
        var result = [Float](repeating: 0, count: rows * out)
        for r in 0..<rows {
            for o in 0..<out {
                var sum = 0.0
                for k in 0..<inner { sum += Double(x[r * inner + k]) * Double(w[o * inner + k]) }
                result[r * out + o] = Float(sum) + (bias?[o] ?? 0)
            }
        }
        return result
    }

    @Test("A linear layer equals the naive product for 1 to 9 rows, with and without bias, on 1 to 3 threads",
          arguments: [1, 2, 3])
    func matchesNaiveProduct(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        var random = TestRandom(state: UInt64(threads))
        let inner = 70, out = 53
        let weight = Tensor(shape: [out, inner], values: random.values(out * inner))
        let bias = Tensor(shape: [out], values: random.values(out))
        for rows in [1, 2, 3, 4, 5, 6, 7, 9] {
            let x = random.values(rows * inner)
            for useBias in [false, true] {
                let linear = Linear(weight: weight, bias: useBias ? bias : nil)
                var y = [Float](repeating: .nan, count: rows * out)
                y.withUnsafeMutableBufferPointer { linear.apply(x, rows: rows, into: $0.baseAddress!, pool: pool) }
                let expected = reference(x, rows: rows, weight.array, out: out, inner: inner,
                                         bias: useBias ? bias.array : nil)
                #expect(zip(y, expected).allSatisfy { abs($0 - $1) < 1e-4 })
            }
        }
    }

    @Test("bfloat16 weights give bit-identical outputs to their float32 values for 1 to 16 rows")
    func bfloat16WeightsAreBitIdentical() throws {
        let pool = ThreadPool(threadCount: 2)
        var random = TestRandom(state: 7)
        // 70 inputs: a vector part and a scalar tail; 53 outputs: an odd column.
        let inner = 70, out = 53
        let rounded = random.values(out * inner).map { Float(bitPattern: $0.bitPattern & 0xFFFF_0000) }
        let full = Linear(weight: Tensor(shape: [out, inner], values: rounded))
        let half = full.preferringBFloat16()
        let halfWeight = try #require(half.halfWeight)
        #expect(halfWeight.count == out * inner && halfWeight[5] == rounded[5])
        for rows in [1, 2, 3, 4, 5, 8, 16] {
            let x = random.values(rows * inner)
            var a = [Float](repeating: .nan, count: rows * out), b = a
            a.withUnsafeMutableBufferPointer { full.apply(x, rows: rows, into: $0.baseAddress!, pool: pool) }
            b.withUnsafeMutableBufferPointer { half.apply(x, rows: rows, into: $0.baseAddress!, pool: pool) }
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "rows \(rows)")
        }
    }

    @Test("A row's outputs are bit-identical whatever else is in the batch, across several weight tiles",
          arguments: [1, 2])
    func rowsAreBatchInvariantAcrossTiles(threads: Int) {
        let pool = ThreadPool(threadCount: threads)
        var random = TestRandom(state: 11)
        // 9,001 outputs (not a multiple of the column blocks' widths) of 70 inputs (a vector part
        // and a scalar tail): several tiles of `SmallBatchProduct.tileBytes` per thread.
        let inner = 70, out = 9001
        #expect(out * inner * 4 / threads > 2 * SmallBatchProduct.tileBytes)
        let linear = Linear(weight: Tensor(shape: [out, inner], values: random.values(out * inner)))
        // One group, two groups of 7 and 6 or 8 and 8 rows.
        for rows in [2, 3, 6, 13, 16] {
            let x = random.values(rows * inner)
            var batched = [Float](repeating: .nan, count: rows * out)
            batched.withUnsafeMutableBufferPointer { linear.apply(x, rows: rows, into: $0.baseAddress!, pool: pool) }
            for r in 0..<rows {
                var alone = [Float](repeating: .nan, count: out)
                alone.withUnsafeMutableBufferPointer {
                    linear.apply(Array(x[(r * inner)..<((r + 1) * inner)]), rows: 1, into: $0.baseAddress!, pool: pool)
                }
                #expect(alone.map(\.bitPattern) == batched[(r * out)..<((r + 1) * out)].map(\.bitPattern),
                        "row \(r) of \(rows)")
            }
        }
    }

    @Test("Weights that are not exact bfloat16 values keep their float32 form")
    func inexactWeightsStayFloat32() {
        let weight = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 1.0 + 1.0 / 1024])
        #expect(BFloat16Weights(exactly: weight) == nil)
        #expect(Linear(weight: weight).preferringBFloat16().halfWeight == nil)
        #expect(BFloat16Weights(exactly: Tensor(shape: [2], values: [1, -2.5]))?[1] == -2.5)
    }
}
