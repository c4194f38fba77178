import Testing
import Tensors

/// `BFloat16Product` against a float64 reference over the same bfloat16-rounded operands, so the
/// only difference left is float32 summation (bounded here by 1e-5 of the sum of |terms|).
@Suite("The bfloat16 matrix product")
struct BFloat16ProductTests {
    struct Shape: Sendable, CustomStringConvertible {
        let m, n, k: Int
        let transposeA, transposeB: Bool
        let beta: Float
        var description: String { "\(m)x\(n)x\(k) A\(transposeA ? "ᵀ" : "") B\(transposeB ? "ᵀ" : "") beta \(beta)" }
    }

    /// Edges of every kind: sizes below, at and past the register tile (12 x 32), the packed
    /// blocks (96 rows, 1024 columns, 384 k values), odd k, and every operand layout.
    static let shapes = [
        Shape(m: 1, n: 1, k: 1, transposeA: false, transposeB: false, beta: 0),
        Shape(m: 13, n: 33, k: 7, transposeA: false, transposeB: true, beta: 0),
        Shape(m: 25, n: 70, k: 385, transposeA: true, transposeB: false, beta: 1),
        Shape(m: 100, n: 1030, k: 800, transposeA: false, transposeB: false, beta: 0.5),
        Shape(m: 12, n: 32, k: 2, transposeA: true, transposeB: true, beta: 0),
        Shape(m: 97, n: 47, k: 1001, transposeA: false, transposeB: true, beta: 1),
        Shape(m: 200, n: 64, k: 96, transposeA: true, transposeB: true, beta: -2),
    ]

    static func rounded(_ x: Float) -> Double { Double(BFloat16.widen(BFloat16.rounded(x))) }

    @Test("Products of bfloat16-rounded operands are summed to float32 accuracy",
          .enabled(if: BFloat16Product.isSupported, "needs AVX-512 BF16"), arguments: shapes)
    func matchesReference(shape: Shape) throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(shape.m * 31 + shape.n * 7 + shape.k)
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001) / 1_000_000 - 1
        }
        let (m, n, k) = (shape.m, shape.n, shape.k)
        let a = (0..<(m * k)).map { _ in next() }, b = (0..<(k * n)).map { _ in next() }
        let c0 = (0..<(m * n)).map { _ in next() }
        // A stored [m, k] or, transposed, [k, m]; B stored [k, n] or [n, k].
        let (aRow, aColumn) = shape.transposeA ? (1, m) : (k, 1)
        let (bRow, bColumn) = shape.transposeB ? (1, k) : (n, 1)
        var c = c0
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    BFloat16Product.multiply(m: m, n: n, k: k, a: pa.baseAddress!, aRow: aRow, aColumn: aColumn,
                                             b: pb.baseAddress!, bRow: bRow, bColumn: bColumn, beta: shape.beta,
                                             c: pc.baseAddress!, ldc: n)
                }
            }
        }
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0, magnitude = 0.0
                for p in 0..<k {
                    let term = Self.rounded(a[i * aRow + p * aColumn]) * Self.rounded(b[p * bRow + j * bColumn])
                    sum += term
                    magnitude += abs(term)
                }
                let expected = Double(shape.beta) * Double(c0[i * n + j]) + sum
                worst = max(worst, abs(Double(c[i * n + j]) - expected) / (magnitude + abs(Double(c0[i * n + j])) + 1e-30))
            }
        }
        #expect(worst < 1e-5, "\(shape): worst error \(worst) of the summed magnitudes")
    }

    @Test("With beta 0 the output is overwritten without being read, and rounding is to nearest even",
          .enabled(if: BFloat16Product.isSupported, "needs AVX-512 BF16"))
    func betaZeroAndRounding() throws {
        // 1 + 2^-8 is halfway between bfloat16 1 and 1 + 2^-7: ties to even gives 1.
        // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties to even gives 1 + 2^-6.
        let a: [Float] = [1 + 1.0 / 256, 1 + 3.0 / 256]
        let b: [Float] = [1, 1]
        var c: [Float] = [.nan]
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    BFloat16Product.multiply(m: 1, n: 1, k: 2, a: pa.baseAddress!, aRow: 2, aColumn: 1,
                                             b: pb.baseAddress!, bRow: 1, bColumn: 1, c: pc.baseAddress!, ldc: 1)
                }
            }
        }
        let expected: Float = 1 + (1 + 1.0 / 64)
        #expect(c[0] == expected)
    }

    @Test("Weights packed once give exactly the on-the-fly product, for any 32-aligned column range",
          .enabled(if: BFloat16Product.isSupported, "needs AVX-512 BF16"), arguments: [
        (rows: 5, outFeatures: 100, inFeatures: 1001), (rows: 128, outFeatures: 960, inFeatures: 576), (rows: 17, outFeatures: 64, inFeatures: 7),
    ])
    func packedWeights(shape: (rows: Int, outFeatures: Int, inFeatures: Int)) throws {
        let (m, n, k) = shape
        var state: UInt64 = 99
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001) / 1_000_000 - 1
        }
        let weight = Tensor(shape: [n, k], values: (0..<(n * k)).map { _ in next() })
        let x = (0..<(m * k)).map { _ in next() }
        let packed = try #require(BFloat16PackedWeights(weight: weight))
        var direct = [Float](repeating: 0, count: m * n), viaPacked = [Float](repeating: .nan, count: m * n)
        x.withUnsafeBufferPointer { px in
            direct.withUnsafeMutableBufferPointer { pd in
                BFloat16Product.multiply(m: m, n: n, k: k, a: px.baseAddress!, aRow: k, aColumn: 1, b: weight.base, bRow: 1,
                                         bColumn: k, c: pd.baseAddress!, ldc: n)
            }
            viaPacked.withUnsafeMutableBufferPointer { pp in
                let split = min(n, 32 * ((n / 2 + 31) / 32))
                for columns in [0..<split, split..<n] where !columns.isEmpty {
                    packed.multiply(px.baseAddress!, rows: m, ldx: k, columns: columns, into: pp.baseAddress!, ldy: n)
                }
            }
        }
        #expect(viaPacked == direct)
    }

    @Test("The unblocked few-row product of packed weights sums bfloat16-rounded operands to float32 accuracy",
          .enabled(if: BFloat16Product.isSupported, "needs AVX-512 BF16"), arguments: [
        (rows: 1, outFeatures: 33, inFeatures: 7), (rows: 3, outFeatures: 100, inFeatures: 576), (rows: 12, outFeatures: 64, inFeatures: 1001),
        (rows: 13, outFeatures: 96, inFeatures: 576), (rows: 30, outFeatures: 40, inFeatures: 20),
    ])
    func packedRows(shape: (rows: Int, outFeatures: Int, inFeatures: Int)) throws {
        let (m, n, k) = shape
        var state: UInt64 = 7 &* UInt64(m * 1000 + n)
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001) / 1_000_000 - 1
        }
        let weight = (0..<(n * k)).map { _ in next() }, x = (0..<(m * k)).map { _ in next() }
        let packed = try #require(BFloat16PackedWeights(weight: Tensor(shape: [n, k], values: weight)))
        var y = [Float](repeating: .nan, count: m * n)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                // Two column ranges, as the pool splits them (the second starts on a 32-column panel).
                let split = min(n, 32 * ((n / 2 + 31) / 32))
                for columns in [0..<split, split..<n] where !columns.isEmpty {
                    packed.multiplyRows(px.baseAddress!, rows: m, ldx: k, columns: columns, into: py.baseAddress!, ldy: n)
                }
            }
        }
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0, magnitude = 0.0
                for p in 0..<k {
                    let term = Self.rounded(x[i * k + p]) * Self.rounded(weight[j * k + p])
                    sum += term
                    magnitude += abs(term)
                }
                worst = max(worst, abs(Double(y[i * n + j]) - sum) / (magnitude + 1e-30))
            }
        }
        #expect(worst < 1e-5, "\(shape): worst error \(worst) of the summed magnitudes")
    }

    @Test("bf16 precision falls back to float32 only where the CPU lacks the instructions")
    func effectivePrecision() {
        #expect(MatmulPrecision.float32.effective == .float32)
        #expect(MatmulPrecision.bfloat16.effective == (BFloat16Product.isSupported ? .bfloat16 : .float32))
    }
}
