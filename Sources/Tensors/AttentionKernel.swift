import CMatmul

/// Attention of one query row over a KV cache, for the query heads that share one key/value head
/// (C, `attention.c`: AVX-512, AVX2 or portable code, the same bits from each).
///
/// A head's numbers do not depend on how many heads share the call, on the other rows of the
/// pass or on the CPU, so a token verified among drafts or batched with other sequences attends
/// exactly as it would decoded alone.
public enum AttentionKernel {
    /// Whether the kernel handles heads of `headDim` floats (a multiple of 16).
    public static func supports(headDim: Int) -> Bool { headDim > 0 && headDim % 16 == 0 }

    /// Scratch floats a call needs for `heads` heads over `count` positions (for `attendRows`:
    /// `rows` rows whose last sees `count` positions).
    public static func scratchCount(heads: Int, count: Int, rows: Int = 1) -> Int { rows * heads * ((count + 15) & ~15) }

    /// `output_h = softmax(scale · query_h · keysᵀ) · values` for `heads` query heads, `count`
    /// positions (`keys` and `values`: `count` rows of `headDim` floats).
    @inline(__always)
    public static func attend(
        query: UnsafePointer<Float>, queryHeadStride: Int, heads: Int, keys: UnsafePointer<Float>,
        values: UnsafePointer<Float>, count: Int, headDim: Int, scale: Float, scratch: UnsafeMutablePointer<Float>,
        output: UnsafeMutablePointer<Float>, outputHeadStride: Int,
        using isa: SmallBatchProduct.InstructionSet = .best
    ) {
        speculators_attend_using(isa.rawValue, query, queryHeadStride, heads, keys, values, count, headDim, scale,
                                 scratch, output, outputHeadStride)
    }

    /// `attend` for `rows` consecutive rows of one causal chunk: row r (`queryRowStride` floats
    /// after the previous) over the first `firstCount + r` positions, written `outputRowStride`
    /// apart. Each row gets exactly the numbers `attend` gives it alone; the keys are read once
    /// for all rows instead of once per row.
    @inline(__always)
    public static func attendRows(
        query: UnsafePointer<Float>, queryRowStride: Int, queryHeadStride: Int, heads: Int, rows: Int,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, firstCount: Int, headDim: Int, scale: Float,
        scratch: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, outputRowStride: Int,
        outputHeadStride: Int, using isa: SmallBatchProduct.InstructionSet = .best
    ) {
        speculators_attend_rows_using(isa.rawValue, query, queryRowStride, queryHeadStride, heads, rows, keys, values,
                                      firstCount, headDim, scale, scratch, output, outputRowStride, outputHeadStride)
    }
}
