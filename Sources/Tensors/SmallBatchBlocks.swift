import CPrefetch

/// One block of `SmallBatchProduct`: up to four input rows against one unit of weight rows.
struct BlockArguments {
    /// The first input row; the others follow `ldx` floats apart.
    var x: UnsafePointer<Float>
    /// Input rows in this block, 1 to 4.
    var rows: Int
    var ldx: Int
    /// The unit's first weight row; its other rows follow `rowStride` bytes apart.
    var weight: UnsafeRawPointer
    var rowStride: Int
    var k: Int
    /// Output row of the first input row; the others follow `ldy` floats apart.
    var output: UnsafeMutablePointer<Float>
    /// The output column of the unit's first weight row; the others follow `columnStride` apart.
    var column: Int
    var columnStride: Int
    var ldy: Int
    /// A unit (same row stride) to prefetch into L2 while this one is computed, one cache line of
    /// each of its rows per 64 bytes consumed: spread through the loop so that only a few misses
    /// are in flight at a time.
    var prefetch: UnsafeRawPointer?
}

/// How many weight rows a block takes at once, and its arithmetic.
///
/// Every output element is accumulated the same way in every block: 8-float chunks in sequence
/// into one vector accumulator, then `SIMD8.sum()`, then the scalar tail in order. So which block
/// computes an element (how many rows came with it) never changes its bits.
protocol ColumnBlock {
    static var width: Int { get }
    static func compute<F: WeightFormat>(_ a: BlockArguments, format: F.Type)
}

/// Two weight rows against up to four input rows: 8 accumulators, 2 weight vectors and an input
/// vector fit the 16 AVX2 registers. Used for passes of up to four rows, which are mostly bound
/// by memory (two long sequential streams per core are what the hardware prefetchers follow best),
/// and for bfloat16 weights, whose widening needs registers the triple block does not have.
enum PairColumns: ColumnBlock {
    static var width: Int { 2 }

    @inline(__always)
    static func compute<F: WeightFormat>(_ a: BlockArguments, format: F.Type) {
        typealias V = SIMD8<Float>
        let x = a.x, ldx = a.ldx, k = a.k, output = a.output, ldy = a.ldy, rows = a.rows
        let w0 = a.weight, w1 = a.weight + a.rowStride
        let n0 = a.column, n1 = a.column + a.columnStride
        let x0 = UnsafeRawPointer(x)
        let x1 = UnsafeRawPointer(x + (rows > 1 ? ldx : 0))
        let x2 = UnsafeRawPointer(x + (rows > 2 ? 2 * ldx : 0))
        let x3 = UnsafeRawPointer(x + (rows > 3 ? 3 * ldx : 0))
        let vectorEnd = k & ~7
        var i = 0
        if rows == 1 {
            var c0 = V(), c1 = V()
            while i < vectorEnd {
                let v = x0.loadUnaligned(fromByteOffset: i * 4, as: V.self)
                c0 = c0.addingProduct(v, F.load8(w0, i))
                c1 = c1.addingProduct(v, F.load8(w1, i))
                i += 8
            }
            var s0 = c0.sum(), s1 = c1.sum()
            while i < k {
                s0 += x[i] * F.load1(w0, i)
                s1 += x[i] * F.load1(w1, i)
                i += 1
            }
            output[n0] = s0
            output[n1] = s1
            return
        }
        let prefetching = a.prefetch != nil
        let p0 = a.prefetch ?? w0, p1 = p0 + a.rowStride
        if rows == 2 {
            // Two rows (a draft's context pass after one accepted token, a 2-token verification)
            // on the four-row path would spend half its multiply-adds on a copy of row 0, and a
            // draft pass, whose weights are small, is bound by exactly that arithmetic.
            var c00 = V(), c01 = V(), c10 = V(), c11 = V()
            while i < vectorEnd {
                let o = i * 4
                if prefetching && (i * F.bytes) & 63 == 0 {
                    speculators_prefetch_l2(p0 + i * F.bytes)
                    speculators_prefetch_l2(p1 + i * F.bytes)
                }
                let v0 = F.load8(w0, i)
                let v1 = F.load8(w1, i)
                let u = x0.loadUnaligned(fromByteOffset: o, as: V.self)
                c00 = c00.addingProduct(u, v0); c01 = c01.addingProduct(u, v1)
                let v = x1.loadUnaligned(fromByteOffset: o, as: V.self)
                c10 = c10.addingProduct(v, v0); c11 = c11.addingProduct(v, v1)
                i += 8
            }
            var sums = (SIMD2(c00.sum(), c01.sum()), SIMD2(c10.sum(), c11.sum()))
            while i < k {
                let weights = SIMD2(F.load1(w0, i), F.load1(w1, i))
                sums.0 += x[i] * weights
                sums.1 += x[ldx + i] * weights
                i += 1
            }
            output[n0] = sums.0[0]; output[n1] = sums.0[1]
            output[ldy + n0] = sums.1[0]; output[ldy + n1] = sums.1[1]
            return
        }
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
        while i < vectorEnd {
            let o = i * 4
            if prefetching && (i * F.bytes) & 63 == 0 {
                speculators_prefetch_l2(p0 + i * F.bytes)
                speculators_prefetch_l2(p1 + i * F.bytes)
            }
            let v0 = F.load8(w0, i)
            let v1 = F.load8(w1, i)
            let u0 = x0.loadUnaligned(fromByteOffset: o, as: V.self)
            c00 = c00.addingProduct(u0, v0); c01 = c01.addingProduct(u0, v1)
            let u1 = x1.loadUnaligned(fromByteOffset: o, as: V.self)
            c10 = c10.addingProduct(u1, v0); c11 = c11.addingProduct(u1, v1)
            let u2 = x2.loadUnaligned(fromByteOffset: o, as: V.self)
            c20 = c20.addingProduct(u2, v0); c21 = c21.addingProduct(u2, v1)
            let u3 = x3.loadUnaligned(fromByteOffset: o, as: V.self)
            c30 = c30.addingProduct(u3, v0); c31 = c31.addingProduct(u3, v1)
            i += 8
        }
        var sums = (SIMD2(c00.sum(), c01.sum()), SIMD2(c10.sum(), c11.sum()),
                    SIMD2(c20.sum(), c21.sum()), SIMD2(c30.sum(), c31.sum()))
        while i < k {
            let weights = SIMD2(F.load1(w0, i), F.load1(w1, i))
            sums.0 += x[i] * weights
            sums.1 += x[ldx + i] * weights
            sums.2 += x[2 * ldx + i] * weights
            if rows > 3 { sums.3 += x[3 * ldx + i] * weights }
            i += 1
        }
        output[n0] = sums.0[0]; output[n1] = sums.0[1]
        output[ldy + n0] = sums.1[0]; output[ldy + n1] = sums.1[1]
        output[2 * ldy + n0] = sums.2[0]; output[2 * ldy + n1] = sums.2[1]
        if rows > 3 { output[3 * ldy + n0] = sums.3[0]; output[3 * ldy + n1] = sums.3[1] }
    }
}

/// Three weight rows against up to four input rows: 12 accumulators and 3 weight vectors, the
/// input vector loaded once for its three multiply-adds. Per 12 multiply-adds it loads 7
/// vectors (the pair block loads 6 per 8), and 12 independent accumulators leave the FMA pipes
/// slack through their latency where 8 left none.
enum TripleColumns: ColumnBlock {
    static var width: Int { 3 }

    @inline(__always)
    static func compute<F: WeightFormat>(_ a: BlockArguments, format: F.Type) {
        if a.rows <= 2 {
            // The last group of a pass of 5, 6, 9 or 10 rows: no multiply-add on a copied row.
            computeShort(a, format: F.self)
            return
        }
        typealias V = SIMD8<Float>
        let x = a.x, ldx = a.ldx, k = a.k, output = a.output, ldy = a.ldy, rows = a.rows
        let w0 = a.weight, w1 = a.weight + a.rowStride, w2 = a.weight + 2 * a.rowStride
        let x0 = UnsafeRawPointer(x)
        let x1 = UnsafeRawPointer(x + ldx)
        let x2 = UnsafeRawPointer(x + 2 * ldx)
        let x3 = UnsafeRawPointer(x + (rows > 3 ? 3 * ldx : 0))
        let prefetching = a.prefetch != nil
        let p0 = a.prefetch ?? w0, p1 = p0 + a.rowStride, p2 = p1 + a.rowStride
        let vectorEnd = k & ~7
        var i = 0
        var c00 = V(), c01 = V(), c02 = V(), c10 = V(), c11 = V(), c12 = V()
        var c20 = V(), c21 = V(), c22 = V(), c30 = V(), c31 = V(), c32 = V()
        while i < vectorEnd {
            let o = i * 4
            if prefetching && (i * F.bytes) & 63 == 0 {
                speculators_prefetch_l2(p0 + i * F.bytes)
                speculators_prefetch_l2(p1 + i * F.bytes)
                speculators_prefetch_l2(p2 + i * F.bytes)
            }
            let v0 = F.load8(w0, i), v1 = F.load8(w1, i), v2 = F.load8(w2, i)
            let u0 = x0.loadUnaligned(fromByteOffset: o, as: V.self)
            c00 = c00.addingProduct(u0, v0); c01 = c01.addingProduct(u0, v1); c02 = c02.addingProduct(u0, v2)
            let u1 = x1.loadUnaligned(fromByteOffset: o, as: V.self)
            c10 = c10.addingProduct(u1, v0); c11 = c11.addingProduct(u1, v1); c12 = c12.addingProduct(u1, v2)
            let u2 = x2.loadUnaligned(fromByteOffset: o, as: V.self)
            c20 = c20.addingProduct(u2, v0); c21 = c21.addingProduct(u2, v1); c22 = c22.addingProduct(u2, v2)
            let u3 = x3.loadUnaligned(fromByteOffset: o, as: V.self)
            c30 = c30.addingProduct(u3, v0); c31 = c31.addingProduct(u3, v1); c32 = c32.addingProduct(u3, v2)
            i += 8
        }
        var sums = (SIMD3(c00.sum(), c01.sum(), c02.sum()), SIMD3(c10.sum(), c11.sum(), c12.sum()),
                    SIMD3(c20.sum(), c21.sum(), c22.sum()), SIMD3(c30.sum(), c31.sum(), c32.sum()))
        while i < k {
            let u0 = F.load1(w0, i), u1 = F.load1(w1, i), u2 = F.load1(w2, i)
            let weights = SIMD3(u0, u1, u2)
            sums.0 += x[i] * weights
            sums.1 += x[ldx + i] * weights
            sums.2 += x[2 * ldx + i] * weights
            if rows > 3 { sums.3 += x[3 * ldx + i] * weights }
            i += 1
        }
        let n = (a.column, a.column + a.columnStride, a.column + 2 * a.columnStride)
        func store(_ s: SIMD3<Float>, _ row: Int) {
            output[row * ldy + n.0] = s[0]; output[row * ldy + n.1] = s[1]; output[row * ldy + n.2] = s[2]
        }
        store(sums.0, 0); store(sums.1, 1); store(sums.2, 2)
        if rows > 3 { store(sums.3, 3) }
    }

    /// One or two input rows against the three weight rows (3 or 6 accumulators).
    @inline(__always)
    private static func computeShort<F: WeightFormat>(_ a: BlockArguments, format: F.Type) {
        typealias V = SIMD8<Float>
        let x = a.x, ldx = a.ldx, k = a.k, output = a.output, ldy = a.ldy, two = a.rows == 2
        let w0 = a.weight, w1 = a.weight + a.rowStride, w2 = a.weight + 2 * a.rowStride
        let x0 = UnsafeRawPointer(x)
        let x1 = UnsafeRawPointer(x + (two ? ldx : 0))
        let prefetching = a.prefetch != nil
        let p0 = a.prefetch ?? w0, p1 = p0 + a.rowStride, p2 = p1 + a.rowStride
        let vectorEnd = k & ~7
        var i = 0
        var c00 = V(), c01 = V(), c02 = V(), c10 = V(), c11 = V(), c12 = V()
        while i < vectorEnd {
            let o = i * 4
            if prefetching && (i * F.bytes) & 63 == 0 {
                speculators_prefetch_l2(p0 + i * F.bytes)
                speculators_prefetch_l2(p1 + i * F.bytes)
                speculators_prefetch_l2(p2 + i * F.bytes)
            }
            let v0 = F.load8(w0, i), v1 = F.load8(w1, i), v2 = F.load8(w2, i)
            let u0 = x0.loadUnaligned(fromByteOffset: o, as: V.self)
            c00 = c00.addingProduct(u0, v0); c01 = c01.addingProduct(u0, v1); c02 = c02.addingProduct(u0, v2)
            if two {
                let u1 = x1.loadUnaligned(fromByteOffset: o, as: V.self)
                c10 = c10.addingProduct(u1, v0); c11 = c11.addingProduct(u1, v1); c12 = c12.addingProduct(u1, v2)
            }
            i += 8
        }
        var sums = (SIMD3(c00.sum(), c01.sum(), c02.sum()), SIMD3(c10.sum(), c11.sum(), c12.sum()))
        while i < k {
            let weights = SIMD3(F.load1(w0, i), F.load1(w1, i), F.load1(w2, i))
            sums.0 += x[i] * weights
            if two { sums.1 += x[ldx + i] * weights }
            i += 1
        }
        let n = (a.column, a.column + a.columnStride, a.column + 2 * a.columnStride)
        output[n.0] = sums.0[0]; output[n.1] = sums.0[1]; output[n.2] = sums.0[2]
        if two { output[ldy + n.0] = sums.1[0]; output[ldy + n.1] = sums.1[1]; output[ldy + n.2] = sums.1[2] }
    }
}
