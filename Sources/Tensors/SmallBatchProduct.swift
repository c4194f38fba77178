/// `y[m, n] = x[m, :] · w[n, :]` for a handful of rows `m`, streaming `w` from memory once.
///
/// Decoding and verifying a few tokens is bound by how fast the weights can be read, not by
/// arithmetic. OpenBLAS's GEMM re-packs its operands and its GEMV handles one row at a time, so a
/// verification pass of 8 tokens cost it about twice a single token. Here each pair of weight
/// rows is loaded once from memory and multiplied with every input row while it sits in L1, so
/// 8 rows cost little more than 1.
///
/// The two rows of a pair are taken half the range apart (rows j and j+h), not side by side:
/// each then reads one long sequential stream as j advances, which the hardware prefetchers
/// follow. Measured on this machine's EPYC cores, two such streams per core read 1.5–2× faster
/// than four, and side-by-side rows (2 KiB each for a 576-wide model) were slowest of all.
public enum SmallBatchProduct {
    /// Sequences contributing at most this many rows (decode and verification chunks) are
    /// computed with this kernel; longer prefill chunks go to BLAS GEMM.
    public static let maxRows = 16

    /// Computes output columns `columns` (weight rows `columns`) for all `rows` inputs.
    ///
    /// Every output element is accumulated in the same order whatever `rows` is and wherever
    /// its row sits in the batch, so a token's logits are bit-identical whether it is decoded
    /// alone, verified in a chunk of drafts or batched with other sequences. That is what makes
    /// greedy speculative decoding produce exactly the tokens of plain greedy decoding.
    public static func multiply(
        _ x: UnsafePointer<Float>, rows: Int, ldx: Int, weight: UnsafePointer<Float>, k: Int,
        columns: Range<Int>, output: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        let half = columns.count / 2
        let base = columns.lowerBound
        for j in 0..<half {
            let n0 = base + j, n1 = n0 + half
            let w0 = weight + n0 * k, w1 = weight + n1 * k
            var m = 0
            while m < rows {
                let two = m + 1 < rows
                pairBlock(x + m * ldx, x + (two ? m + 1 : m) * ldx, twoRows: two, w0: w0, w1: w1, k: k,
                          output: output + m * ldy, columns: (n0, n1), ldy: ldy)
                m += two ? 2 : 1
            }
        }
        if columns.count % 2 == 1 {
            let n = columns.upperBound - 1
            for m in 0..<rows {
                let r = x + m * ldx
                output[m * ldy + n] = dot(r, weight + n * k, k)
            }
        }
    }

    /// Two weight rows against one or two input rows. Each (input, weight) pair has two
    /// accumulators (even and odd 8-float chunks), so the loads of the four weight and input
    /// streams overlap; 8 accumulators + 4 weight vectors + 2 inputs fit the 16 AVX2 registers.
    @inline(__always)
    private static func pairBlock(
        _ xa: UnsafePointer<Float>, _ xb: UnsafePointer<Float>, twoRows: Bool,
        w0: UnsafePointer<Float>, w1: UnsafePointer<Float>, k: Int,
        output: UnsafeMutablePointer<Float>, columns: (Int, Int), ldy: Int
    ) {
        typealias V = SIMD8<Float>
        let r0 = UnsafeRawPointer(w0), r1 = UnsafeRawPointer(w1)
        let a = UnsafeRawPointer(xa), b = UnsafeRawPointer(xb)
        var a0e = V(), a0o = V(), a1e = V(), a1o = V()
        var b0e = V(), b0o = V(), b1e = V(), b1o = V()
        var i = 0
        while i + 16 <= k {
            let e = i * 4, o = e + 32
            let v0e = r0.loadUnaligned(fromByteOffset: e, as: V.self)
            let v0o = r0.loadUnaligned(fromByteOffset: o, as: V.self)
            let v1e = r1.loadUnaligned(fromByteOffset: e, as: V.self)
            let v1o = r1.loadUnaligned(fromByteOffset: o, as: V.self)
            let xe = a.loadUnaligned(fromByteOffset: e, as: V.self)
            let xo = a.loadUnaligned(fromByteOffset: o, as: V.self)
            a0e = a0e.addingProduct(xe, v0e); a0o = a0o.addingProduct(xo, v0o)
            a1e = a1e.addingProduct(xe, v1e); a1o = a1o.addingProduct(xo, v1o)
            if twoRows {
                let ye = b.loadUnaligned(fromByteOffset: e, as: V.self)
                let yo = b.loadUnaligned(fromByteOffset: o, as: V.self)
                b0e = b0e.addingProduct(ye, v0e); b0o = b0o.addingProduct(yo, v0o)
                b1e = b1e.addingProduct(ye, v1e); b1o = b1o.addingProduct(yo, v1o)
            }
            i += 16
        }
        if i + 8 <= k {
            let e = i * 4
            let v0e = r0.loadUnaligned(fromByteOffset: e, as: V.self)
            let v1e = r1.loadUnaligned(fromByteOffset: e, as: V.self)
            let xe = a.loadUnaligned(fromByteOffset: e, as: V.self)
            a0e = a0e.addingProduct(xe, v0e); a1e = a1e.addingProduct(xe, v1e)
            if twoRows {
                let ye = b.loadUnaligned(fromByteOffset: e, as: V.self)
                b0e = b0e.addingProduct(ye, v0e); b1e = b1e.addingProduct(ye, v1e)
            }
            i += 8
        }
        var sa0 = (a0e + a0o).sum(), sa1 = (a1e + a1o).sum()
        var sb0 = (b0e + b0o).sum(), sb1 = (b1e + b1o).sum()
        while i < k {
            sa0 += xa[i] * w0[i]; sa1 += xa[i] * w1[i]
            sb0 += xb[i] * w0[i]; sb1 += xb[i] * w1[i]
            i += 1
        }
        output[columns.0] = sa0
        output[columns.1] = sa1
        if twoRows {
            output[ldy + columns.0] = sb0
            output[ldy + columns.1] = sb1
        }
    }

    /// A dot product of `k` floats, accumulated in exactly the order `pairBlock` uses.
    @inline(__always)
    public static func dot(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ k: Int) -> Float {
        typealias V = SIMD8<Float>
        let r = UnsafeRawPointer(w), a = UnsafeRawPointer(x)
        var even = V(), odd = V()
        var i = 0
        while i + 16 <= k {
            let e = i * 4, o = e + 32
            even = even.addingProduct(a.loadUnaligned(fromByteOffset: e, as: V.self), r.loadUnaligned(fromByteOffset: e, as: V.self))
            odd = odd.addingProduct(a.loadUnaligned(fromByteOffset: o, as: V.self), r.loadUnaligned(fromByteOffset: o, as: V.self))
            i += 16
        }
        if i + 8 <= k {
            let e = i * 4
            even = even.addingProduct(a.loadUnaligned(fromByteOffset: e, as: V.self), r.loadUnaligned(fromByteOffset: e, as: V.self))
            i += 8
        }
        var sum = (even + odd).sum()
        while i < k { sum += x[i] * w[i]; i += 1 }
        return sum
    }
}
