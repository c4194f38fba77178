/// `y[m, n] = x[m, :] · w[n, :]` for a handful of rows `m`, streaming `w` from memory once.
///
/// Decoding and verifying a few tokens is bound by how fast the weights can be read, not by
/// arithmetic. OpenBLAS's GEMM re-packs its operands and its GEMV handles one row at a time, so a
/// verification pass of 8 tokens cost it about twice a single token. Here each pair of weight
/// rows is loaded once and multiplied with up to four input rows at a time while it sits in L1,
/// so 8 rows cost little more than 1.
///
/// The two rows of a pair are taken half the range apart (rows j and j+h), not side by side:
/// each then reads one long sequential stream as j advances, which the hardware prefetchers
/// follow. Measured on this machine's EPYC cores, two such streams per core read 1.5–2× faster
/// than four, and side-by-side rows (2 KiB each for a 576-wide model) were slowest of all.
public enum SmallBatchProduct {
    /// Inputs with at most this many rows use this kernel; larger batches go to BLAS GEMM.
    public static let maxRows = 16

    /// Computes output columns `columns` (weight rows `columns`) for all `rows` inputs.
    public static func multiply(
        _ x: UnsafePointer<Float>, rows: Int, ldx: Int, weight: UnsafePointer<Float>, k: Int,
        columns: Range<Int>, output: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        let half = columns.count / 2
        let base = columns.lowerBound
        for j in 0..<half {
            let n0 = base + j, n1 = n0 + half
            let w0 = weight + n0 * k, w1 = weight + n1 * k
            if rows == 1 {
                let (s0, s1) = pairDot(x, w0, w1, k)
                output[n0] = s0
                output[n1] = s1
                continue
            }
            var m = 0
            while m < rows {
                let take = min(4, rows - m)
                pairBlock(x + m * ldx, rows: take, ldx: ldx, w0: w0, w1: w1, k: k,
                          output: output + m * ldy, columns: (n0, n1), ldy: ldy)
                m += take
            }
        }
        if columns.count % 2 == 1 {
            let n = columns.upperBound - 1
            for m in 0..<rows { output[m * ldy + n] = dot(x + m * ldx, weight + n * k, k) }
        }
    }

    /// Two weight rows against one input row, unrolled for four independent accumulators.
    @inline(__always)
    private static func pairDot(
        _ x: UnsafePointer<Float>, _ w0: UnsafePointer<Float>, _ w1: UnsafePointer<Float>, _ k: Int
    ) -> (Float, Float) {
        typealias V = SIMD8<Float>
        let xr = UnsafeRawPointer(x), r0 = UnsafeRawPointer(w0), r1 = UnsafeRawPointer(w1)
        var a0 = V(), a1 = V(), b0 = V(), b1 = V()
        var i = 0
        while i + 16 <= k {
            let o = i * 4, p = o + 32
            let xv = xr.loadUnaligned(fromByteOffset: o, as: V.self)
            let xu = xr.loadUnaligned(fromByteOffset: p, as: V.self)
            a0 = a0.addingProduct(xv, r0.loadUnaligned(fromByteOffset: o, as: V.self))
            b0 = b0.addingProduct(xu, r0.loadUnaligned(fromByteOffset: p, as: V.self))
            a1 = a1.addingProduct(xv, r1.loadUnaligned(fromByteOffset: o, as: V.self))
            b1 = b1.addingProduct(xu, r1.loadUnaligned(fromByteOffset: p, as: V.self))
            i += 16
        }
        while i + 8 <= k {
            let o = i * 4
            let xv = xr.loadUnaligned(fromByteOffset: o, as: V.self)
            a0 = a0.addingProduct(xv, r0.loadUnaligned(fromByteOffset: o, as: V.self))
            a1 = a1.addingProduct(xv, r1.loadUnaligned(fromByteOffset: o, as: V.self))
            i += 8
        }
        var s0 = (a0 + b0).sum(), s1 = (a1 + b1).sum()
        while i < k {
            s0 += x[i] * w0[i]
            s1 += x[i] * w1[i]
            i += 1
        }
        return (s0, s1)
    }

    /// Two weight rows against up to four input rows: 8 accumulators of 8 lanes, which with the
    /// two weight vectors and one input vector fits the 16 AVX2 registers without spilling.
    @inline(__always)
    private static func pairBlock(
        _ x: UnsafePointer<Float>, rows: Int, ldx: Int, w0: UnsafePointer<Float>, w1: UnsafePointer<Float>,
        k: Int, output: UnsafeMutablePointer<Float>, columns: (Int, Int), ldy: Int
    ) {
        typealias V = SIMD8<Float>
        let r0 = UnsafeRawPointer(w0), r1 = UnsafeRawPointer(w1)
        // Missing input rows re-read row 0 and are not stored.
        let x0 = UnsafeRawPointer(x)
        let x1 = UnsafeRawPointer(x + (rows > 1 ? ldx : 0))
        let x2 = UnsafeRawPointer(x + (rows > 2 ? 2 * ldx : 0))
        let x3 = UnsafeRawPointer(x + (rows > 3 ? 3 * ldx : 0))
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
        let vectorEnd = k & ~7
        var i = 0
        while i < vectorEnd {
            let o = i * 4
            let v0 = r0.loadUnaligned(fromByteOffset: o, as: V.self)
            let v1 = r1.loadUnaligned(fromByteOffset: o, as: V.self)
            let a = x0.loadUnaligned(fromByteOffset: o, as: V.self)
            c00 = c00.addingProduct(a, v0); c01 = c01.addingProduct(a, v1)
            let b = x1.loadUnaligned(fromByteOffset: o, as: V.self)
            c10 = c10.addingProduct(b, v0); c11 = c11.addingProduct(b, v1)
            let c = x2.loadUnaligned(fromByteOffset: o, as: V.self)
            c20 = c20.addingProduct(c, v0); c21 = c21.addingProduct(c, v1)
            let d = x3.loadUnaligned(fromByteOffset: o, as: V.self)
            c30 = c30.addingProduct(d, v0); c31 = c31.addingProduct(d, v1)
            i += 8
        }
        var sums = (SIMD2(c00.sum(), c01.sum()), SIMD2(c10.sum(), c11.sum()),
                    SIMD2(c20.sum(), c21.sum()), SIMD2(c30.sum(), c31.sum()))
        while i < k {
            let wv = SIMD2(w0[i], w1[i])
            sums.0 += x[i] * wv
            if rows > 1 { sums.1 += x[ldx + i] * wv }
            if rows > 2 { sums.2 += x[2 * ldx + i] * wv }
            if rows > 3 { sums.3 += x[3 * ldx + i] * wv }
            i += 1
        }
        output[columns.0] = sums.0[0]; output[columns.1] = sums.0[1]
        if rows > 1 { output[ldy + columns.0] = sums.1[0]; output[ldy + columns.1] = sums.1[1] }
        if rows > 2 { output[2 * ldy + columns.0] = sums.2[0]; output[2 * ldy + columns.1] = sums.2[1] }
        if rows > 3 { output[3 * ldy + columns.0] = sums.3[0]; output[3 * ldy + columns.1] = sums.3[1] }
    }

    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 8 <= n {
            acc = acc.addingProduct(ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                                    rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            i += 8
        }
        var sum = acc.sum()
        while i < n { sum += a[i] * b[i]; i += 1 }
        return sum
    }
}
