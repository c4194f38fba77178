/// `y = x · Wᵀ (+ b)` for a batch of rows, with the output features split across the pool.
///
/// Splitting the *output features* (rows of `W`) means each thread streams a disjoint half of
/// the weights: decoding is bound by memory bandwidth, and this is what keeps both cores'
/// loads busy.
public struct Linear: Sendable {
    /// The float32 weights `[outFeatures, inFeatures]`; nil for a layer made from quantised
    /// blocks alone (`init(blocks:bias:)`: serving a GGUF verifier, a fifth of the memory).
    public let weight: Tensor?
    public let bias: Tensor?
    /// The same weights as bfloat16, when they are all exact bfloat16 values (see
    /// `preferringBFloat16()`): the streaming kernel then reads half the bytes for the same result.
    public let halfWeight: BFloat16Weights?
    /// The weights packed as bfloat16 for bf16 batched rows (`packingBFloat16()`; data generation).
    public let packedHalf: BFloat16PackedWeights?
    /// The same weights in the GGUF blocks they were stored in (`usingQuantized(_:)`):
    /// float32 rows then read a fifth of the bytes for bit-identical results (passes of more rows
    /// than `QuantizedWeights.fastestUpToRows` still use the float32 weights when there are any).
    public let quantized: QuantizedWeights?
    public let outFeatures: Int
    public let inFeatures: Int

    public init(weight: Tensor, bias: Tensor? = nil) {
        precondition(weight.shape.count == 2, "Linear weight must be 2-D")
        precondition(bias == nil || bias?.count == weight.shape[0], "Linear bias size mismatch")
        self.weight = weight
        self.bias = bias
        halfWeight = nil
        packedHalf = nil
        quantized = nil
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
    }

    /// A layer that computes every row from `blocks` alone, with no float32 weights: the same
    /// bits (`QuantizedWeights`) from 0.75-1.25 bytes a weight instead of 4. On CPUs without
    /// AVX-512 passes of more than `QuantizedWeights.fastestUpToRows` rows would be faster from
    /// float32 weights; they take the blocks' kernel too.
    public init(blocks: QuantizedWeights, bias: Tensor? = nil) {
        precondition(bias == nil || bias?.count == blocks.rows, "Linear bias size mismatch")
        self.init(weight: nil, bias: bias, halfWeight: nil, packedHalf: nil, quantized: blocks,
                  outFeatures: blocks.rows, inFeatures: blocks.columns)
    }

    private init(weight: Tensor?, bias: Tensor?, halfWeight: BFloat16Weights?, packedHalf: BFloat16PackedWeights?,
                 quantized: QuantizedWeights?, outFeatures: Int, inFeatures: Int) {
        self.weight = weight
        self.bias = bias
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.halfWeight = halfWeight
        self.packedHalf = packedHalf
        self.quantized = quantized
    }

    /// This layer computing its float32 rows from `blocks` (nil: from the float32 weights again).
    /// `blocks` must hold these very weights (the loader makes both from one tensor); a matrix of
    /// another shape is ignored, and so is nil for a layer made from blocks alone.
    public func usingQuantized(_ blocks: QuantizedWeights?) -> Linear {
        if let blocks, blocks.rows != outFeatures || blocks.columns != inFeatures { return self }
        if blocks == nil, weight == nil { return self }
        return Linear(weight: weight, bias: bias, halfWeight: halfWeight, packedHalf: packedHalf, quantized: blocks,
                      outFeatures: outFeatures, inFeatures: inFeatures)
    }

    /// Row `row` of the weights (output feature `row`), from the float32 weights or, for a layer
    /// made from blocks alone, from the blocks: the same values either way.
    public func copyRow(_ row: Int, to destination: UnsafeMutablePointer<Float>) {
        precondition(row >= 0 && row < outFeatures, "row \(row) out of 0..<\(outFeatures)")
        if let weight {
            destination.update(from: weight.base + row * inFeatures, count: inFeatures)
        } else if let quantized {
            quantized.dequantizeRow(row, into: destination)
        }
    }

    /// Rows `selection` of the weights, in that order (`[selection.count, inFeatures]`): a head
    /// restricted to a draft's vocabulary.
    public func rows(_ selection: [Int]) -> Tensor {
        let selected = Tensor(zeros: [selection.count, inFeatures])
        for (slot, row) in selection.enumerated() { copyRow(row, to: selected.base + slot * inFeatures) }
        return selected
    }

    /// The float32 weights, or an error saying that `purpose` needs them when the layer has only
    /// blocks.
    public func requireFloat32(for purpose: String) throws -> Tensor {
        guard let weight else { throw Float32WeightsUnavailable(purpose: purpose) }
        return weight
    }

    /// This layer with a bfloat16 copy of its weights for the streaming kernel, if every weight
    /// is exactly a bfloat16 (otherwise unchanged: nothing is ever rounded). Results are
    /// bit-identical either way; decode and verification rows read half the bytes. Used for
    /// drafts, whose checkpoints are usually bf16 and whose passes are bound by memory.
    public func preferringBFloat16() -> Linear {
        guard halfWeight == nil, let weight, let half = BFloat16Weights(exactly: weight) else { return self }
        return Linear(weight: weight, bias: bias, halfWeight: half, packedHalf: packedHalf, quantized: quantized,
                      outFeatures: outFeatures, inFeatures: inFeatures)
    }

    /// This layer with its weights also packed as bfloat16 for `gemmPrecision` bf16 rows (half
    /// the float32 weights' memory again). Unchanged on a CPU without AVX-512 BF16.
    public func packingBFloat16() -> Linear {
        guard packedHalf == nil, let weight, let packed = BFloat16PackedWeights(weight: weight) else { return self }
        return Linear(weight: weight, bias: bias, halfWeight: halfWeight, packedHalf: packed, quantized: quantized,
                      outFeatures: outFeatures, inFeatures: inFeatures)
    }

    /// Writes `rows × outFeatures` values to `output` (leading dimension `ldOutput`).
    ///
    /// Float32 rows all go through the streaming kernel (`SmallBatchProduct`, or its quantised
    /// twin with `quantized` blocks), prefill chunks included: its arithmetic for a row does not
    /// depend on the batch, and in groups of rows against L2-resident weight tiles it beats OpenBLAS's GEMM here (SmolLM2's matrices, 64 rows:
    /// 53.9 ms against 92.4 with the Haswell kernels this machine's environment pins and 60.1
    /// with SkylakeX; 128 rows 103 against 164 and 98). With `gemmPrecision` bf16 (data
    /// generation only, never serving), the rows after the first `invariantRows` (default: all of
    /// them when there are at most `SmallBatchProduct.maxRows`, else none) use bfloat16 products
    /// instead, one call per range of `gemmSegments` (default: one call).
    public func apply(
        _ input: UnsafePointer<Float>, rows: Int, ldInput: Int? = nil,
        into output: UnsafeMutablePointer<Float>, ldOutput: Int? = nil, pool: ThreadPool,
        invariantRows: Int? = nil, gemmSegments: [Range<Int>]? = nil, gemmPrecision: MatmulPrecision = .float32
    ) {
        let n = outFeatures, k = inFeatures
        let lda = ldInput ?? k, ldc = ldOutput ?? n
        // A layer made from blocks alone takes the blocks' kernel for every row.
        let bfloat16Rows = gemmPrecision.effective == .bfloat16 && weight != nil
        let small = bfloat16Rows ? min(rows, invariantRows ?? (rows <= SmallBatchProduct.maxRows ? rows : 0)) : rows
        if small == rows, let (weights, form) = streamingWeights(rows: rows) {
            // Every row through the streaming kernel, the loop's values in a struct on this stack:
            // a closure's context would be allocated on every call, and the pointers spare the
            // workers reference counting on objects both cores touch.
            var job = StreamingJob(input: input, rows: rows, lda: lda, output: output, ldc: ldc, k: k, weights: weights,
                                   form: form, bias: bias.map { UnsafePointer($0.base) })
            pool.parallelRanges(n, alignment: 16, state: &job) { raw, lower, upper in
                StreamingJob.run(raw.assumingMemoryBound(to: StreamingJob.self), columns: lower..<upper)
            }
            return
        }
        // Data generation's bfloat16 GEMM rows after the first `small` (a closure: not a hot path).
        let streamed = small > 0 ? streamingWeights(rows: small) : nil
        pool.parallelRanges(n, alignment: rows > small ? 32 : 16) { range in
            if let (weights, form) = streamed {
                var job = StreamingJob(input: input, rows: small, lda: lda, output: output, ldc: ldc, k: k, weights: weights,
                                       form: form, bias: nil)
                StreamingJob.run(&job, columns: range)
            }
            if rows > small, let weight {
                let w = UnsafePointer(weight.base)
                for segment in gemmSegments ?? [small..<rows] where !segment.isEmpty {
                    let x = input + segment.lowerBound * lda
                    if let packedHalf {
                        packedHalf.multiply(x, rows: segment.count, ldx: lda, columns: range, into: output + segment.lowerBound * ldc,
                                            ldy: ldc)
                    } else {
                        BFloat16Product.multiply(m: segment.count, n: range.count, k: k, a: x, aRow: lda, aColumn: 1,
                                                 b: w + range.lowerBound * k, bRow: 1, bColumn: k,
                                                 c: output + segment.lowerBound * ldc + range.lowerBound, ldc: ldc)
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

extension Linear {
    /// The weights the streaming kernel reads for `rows` rows, and their form: the quantised
    /// blocks up to `QuantizedWeights.fastestUpToRows` (or always, without float32 weights), else
    /// the exact bfloat16 copy, else the float32 weights.
    func streamingWeights(rows: Int) -> (UnsafeRawPointer, StreamingJob.Form)? {
        if let quantized, rows <= QuantizedWeights.fastestUpToRows || weight == nil {
            return (quantized.kernelBlocks, .blocks(kind: quantized.format.kind))
        }
        if let halfWeight { return (UnsafeRawPointer(halfWeight.base), .bfloat16) }
        if let weight { return (UnsafeRawPointer(weight.base), .float32) }
        return nil
    }
}

/// One streaming product of `Linear.apply`, for the pieces of its loop.
struct StreamingJob {
    enum Form { case blocks(kind: Int32), bfloat16, float32 }
    let input: UnsafePointer<Float>
    let rows: Int, lda: Int
    let output: UnsafeMutablePointer<Float>
    let ldc: Int, k: Int
    let weights: UnsafeRawPointer
    let form: Form
    let bias: UnsafePointer<Float>?

    /// Output columns `columns` of every row, then the bias.
    static func run(_ job: UnsafeMutablePointer<StreamingJob>, columns: Range<Int>) {
        let j = job.pointee
        switch j.form {
        case .blocks(let kind):
            QuantizedWeights.multiply(blocks: j.weights, kind: kind, columnsPerRow: j.k, j.input, rows: j.rows, ldx: j.lda,
                                      columns: columns, output: j.output, ldy: j.ldc)
        case .bfloat16:
            SmallBatchProduct.multiply(j.input, rows: j.rows, ldx: j.lda, weight: j.weights.assumingMemoryBound(to: UInt16.self),
                                       k: j.k, columns: columns, output: j.output, ldy: j.ldc)
        case .float32:
            SmallBatchProduct.multiply(j.input, rows: j.rows, ldx: j.lda, weight: j.weights.assumingMemoryBound(to: Float.self),
                                       k: j.k, columns: columns, output: j.output, ldy: j.ldc)
        }
        if let b = j.bias {
            for r in 0..<j.rows {
                let row = j.output + r * j.ldc
                for c in columns { row[c] += b[c] }
            }
        }
    }
}

/// Float32 weights were asked of a layer that has only its quantised blocks
/// (`Linear.init(blocks:bias:)`).
public struct Float32WeightsUnavailable: Error, CustomStringConvertible {
    public let purpose: String
    public var description: String {
        "\(purpose) needs float32 weights, but this model keeps its matrices only as quantised blocks; load it with float32 weights (--no-quantized-weights)"
    }
}
