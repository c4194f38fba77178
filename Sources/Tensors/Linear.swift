/// `y = x · Wᵀ (+ b)` for a batch of rows, with the output features split across the pool.
///
/// Splitting the *output features* (rows of `W`) means each thread streams a disjoint half of
/// the weights: decoding is bound by memory bandwidth, and this is what keeps both cores'
/// loads busy. For one row OpenBLAS's matrix-vector kernel is used, otherwise its GEMM.
public struct Linear: Sendable {
    public let weight: Tensor
    public let bias: Tensor?
    /// The same weights as bfloat16, when they are all exact bfloat16 values (see
    /// `preferringBFloat16()`): the streaming kernel then reads half the bytes for the same result.
    public let halfWeight: BFloat16Weights?
    /// The weights packed as bfloat16 for bf16 batched rows (`packingBFloat16()`; data generation).
    public let packedHalf: BFloat16PackedWeights?
    public var outFeatures: Int { weight.shape[0] }
    public var inFeatures: Int { weight.shape[1] }

    public init(weight: Tensor, bias: Tensor? = nil) {
        precondition(weight.shape.count == 2, "Linear weight must be 2-D")
        precondition(bias == nil || bias?.count == weight.shape[0], "Linear bias size mismatch")
        self.weight = weight
        self.bias = bias
        halfWeight = nil
        packedHalf = nil
    }

    private init(weight: Tensor, bias: Tensor?, halfWeight: BFloat16Weights?, packedHalf: BFloat16PackedWeights?) {
        self.weight = weight
        self.bias = bias
        self.halfWeight = halfWeight
        self.packedHalf = packedHalf
    }

    /// This layer with a bfloat16 copy of its weights for the streaming kernel, if every weight
    /// is exactly a bfloat16 (otherwise unchanged: nothing is ever rounded). Results are
    /// bit-identical either way; decode and verification rows read half the bytes. Used for
    /// drafts, whose checkpoints are usually bf16 and whose passes are bound by memory.
    public func preferringBFloat16() -> Linear {
        guard halfWeight == nil, let half = BFloat16Weights(exactly: weight) else { return self }
        return Linear(weight: weight, bias: bias, halfWeight: half, packedHalf: packedHalf)
    }

    /// This layer with its weights also packed as bfloat16 for `gemmPrecision` bf16 rows (half
    /// the float32 weights' memory again). Unchanged on a CPU without AVX-512 BF16.
    public func packingBFloat16() -> Linear {
        guard packedHalf == nil, let packed = BFloat16PackedWeights(weight: weight) else { return self }
        return Linear(weight: weight, bias: bias, halfWeight: halfWeight, packedHalf: packed)
    }

    /// Writes `rows × outFeatures` values to `output` (leading dimension `ldOutput`).
    ///
    /// The first `invariantRows` rows (default: all of them when there are at most
    /// `SmallBatchProduct.maxRows`, else none) go through the batch-invariant streaming kernel:
    /// decode and verification rows, whose results must not depend on what else is in the batch.
    /// The remaining rows (prefill chunks) go through BLAS GEMM, one call per range of
    /// `gemmSegments` (default: one call): OpenBLAS's result for a row depends on where the row
    /// sits in the call, so each sequence's chunk gets a call of its own. With `gemmPrecision`
    /// bf16 those rows use `BFloat16Product` instead (data generation only, never serving).
    public func apply(
        _ input: UnsafePointer<Float>, rows: Int, ldInput: Int? = nil,
        into output: UnsafeMutablePointer<Float>, ldOutput: Int? = nil, pool: ThreadPool,
        invariantRows: Int? = nil, gemmSegments: [Range<Int>]? = nil, gemmPrecision: MatmulPrecision = .float32
    ) {
        let n = outFeatures, k = inFeatures
        let lda = ldInput ?? k, ldc = ldOutput ?? n
        let w = UnsafePointer(weight.base)
        let small = min(rows, invariantRows ?? (rows <= SmallBatchProduct.maxRows ? rows : 0))
        let half = rows > small && gemmPrecision.effective == .bfloat16
        pool.parallelRanges(n, alignment: half ? 32 : 16) { range in
            if small > 0 {
                if let halfWeight {
                    SmallBatchProduct.multiply(input, rows: small, ldx: lda, weight: UnsafePointer(halfWeight.base), k: k,
                                               columns: range, output: output, ldy: ldc)
                } else {
                    SmallBatchProduct.multiply(input, rows: small, ldx: lda, weight: w, k: k, columns: range,
                                               output: output, ldy: ldc)
                }
            }
            if rows > small {
                for segment in gemmSegments ?? [small..<rows] where !segment.isEmpty {
                    let x = input + segment.lowerBound * lda, y = output + segment.lowerBound * ldc + range.lowerBound
                    if half, let packedHalf {
                        packedHalf.multiply(x, rows: segment.count, ldx: lda, columns: range, into: output + segment.lowerBound * ldc,
                                            ldy: ldc)
                    } else if half {
                        BFloat16Product.multiply(m: segment.count, n: range.count, k: k, a: x, aRow: lda, aColumn: 1,
                                                 b: w + range.lowerBound * k, bRow: 1, bColumn: k, c: y, ldc: ldc)
                    } else {
                        BLAS.gemmTransposedB(m: segment.count, n: range.count, k: k, a: x, lda: lda,
                                             b: w + range.lowerBound * k, ldb: k, c: y, ldc: ldc)
                    }
                }
            }
            if let bias {
                let b = bias.base
                for r in 0..<rows {
                    let row = output + r * ldc
                    for j in range { row[j] += b[j] }
                }
            }
        }
    }
}
