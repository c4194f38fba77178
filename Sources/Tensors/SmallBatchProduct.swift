import CPrefetch

/// `y[m, n] = x[m, :] · w[n, :]` for a handful of rows `m`, streaming `w` from memory once.
///
/// Decoding and verifying a few tokens is bound by how fast the weights can be read, not by
/// arithmetic. OpenBLAS's GEMM re-packs its operands and its GEMV handles one row at a time, so a
/// verification pass of 8 tokens cost it about twice a single token. Here each pair of weight
/// rows is loaded once from memory and multiplied with up to four input rows at a time while it
/// sits in L1, so 4 rows cost about what 1 does and 8 little more.
///
/// The two rows of a pair are taken half the range apart (rows j and j+h), not side by side:
/// each then reads one long sequential stream as j advances, which the hardware prefetchers
/// follow. Measured on this machine's EPYC cores, two such streams per core read 1.5–2× faster
/// than four, and side-by-side rows (2 KiB each for a 576-wide model) were slowest of all.
///
/// With several input rows the arithmetic per weight byte grows, and the hardware prefetchers
/// alone no longer keep the loads ahead: memory and arithmetic then took turns instead of
/// overlapping (8 rows cost ~2x one row). So the multi-row path prefetches, into L2, the pair it
/// will need `prefetchDistance` pairs later, one cache line per 64 bytes it consumes. Measured
/// on the whole SmolLM2 weight set (2 threads, prefetch on and off interleaved in one run,
/// medians): into L2 8 pairs ahead, 4 rows 20% and 8 rows 30% faster; into L1 one or two pairs
/// ahead gained only 7-16%. One row is left to the hardware prefetchers, which do best alone.
///
/// Weights come as float32 or as bfloat16 (`BFloat16Weights`, for matrices whose values are all
/// exact bfloat16s, such as drafts trained and stored in bf16). Widening bf16 to f32 is exact and
/// the accumulation order is the same, so both give bit-identical results; bf16 reads half the
/// bytes, which is what a memory-bound draft pass costs.
public enum SmallBatchProduct {
    /// Sequences contributing at most this many rows (decode and verification chunks) are
    /// computed with this kernel; longer prefill chunks go to BLAS GEMM.
    public static let maxRows = 16

    /// Computes output columns `columns` (weight rows `columns`) for all `rows` inputs.
    ///
    /// Every output element is accumulated in the same order whatever `rows` is and wherever
    /// its row sits in the batch (8-float chunks in sequence into one vector accumulator, then a
    /// fixed horizontal sum, then the scalar tail), so a token's logits are bit-identical whether
    /// it is decoded alone, verified in a chunk of drafts or batched with other sequences. That
    /// is what makes greedy speculative decoding produce exactly the tokens of plain decoding.
    public static func multiply(
        _ x: UnsafePointer<Float>, rows: Int, ldx: Int, weight: UnsafePointer<Float>, k: Int,
        columns: Range<Int>, output: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        multiply(x, rows: rows, ldx: ldx, weight: UnsafeRawPointer(weight), format: Float32Format.self, k: k,
                 columns: columns, output: output, ldy: ldy)
    }

    /// The same product with bfloat16 weights (`k` values per row, 2 bytes each).
    public static func multiply(
        _ x: UnsafePointer<Float>, rows: Int, ldx: Int, weight: UnsafePointer<UInt16>, k: Int,
        columns: Range<Int>, output: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        multiply(x, rows: rows, ldx: ldx, weight: UnsafeRawPointer(weight), format: BFloat16Format.self, k: k,
                 columns: columns, output: output, ldy: ldy)
    }

    @inline(__always)
    static func multiply<F: WeightFormat>(
        _ x: UnsafePointer<Float>, rows: Int, ldx: Int, weight: UnsafeRawPointer, format: F.Type, k: Int,
        columns: Range<Int>, output: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        let half = columns.count / 2
        let base = columns.lowerBound
        let rowBytes = k * F.bytes
        let tilePairs = max(1, tileBytes / (2 * rowBytes))
        let groups = (rows + 3) / 4
        func pair(_ j: Int) -> (UnsafeRawPointer, UnsafeRawPointer) {
            (weight + (base + j) * rowBytes, weight + (base + j + half) * rowBytes)
        }
        var tileStart = 0
        while tileStart < half {
            let tileEnd = min(half, tileStart + tilePairs), tilePairCount = tileEnd - tileStart
            // With one group of rows, the group prefetches a few pairs ahead of itself. With
            // several, the first tile is streamed that way by group 0, and every tile's later
            // groups (all of its groups once the stream runs ahead) prefetch the next tile, so
            // memory keeps reading while the cores compute on a tile already in L2.
            let ownGroups = tileStart == 0 || groups == 1 ? 1 : 0
            let sharers = groups - ownGroups
            var m = 0, group = 0
            while m < rows {
                let take = min(4, rows - m)
                for j in tileStart..<tileEnd {
                    let (w0, w1) = pair(j)
                    var prefetch: (UnsafeRawPointer, UnsafeRawPointer)?
                    if rows > 1 && group < ownGroups {
                        let ahead = (min(j + prefetchDistance, half - 1) - j) * rowBytes
                        prefetch = (w0 + ahead, w1 + ahead)
                    } else if sharers > 0 {
                        let slot = (group - ownGroups) * tilePairCount + (j - tileStart)
                        let next = tileEnd + slot / sharers
                        if slot % sharers == 0 && next < half { prefetch = pair(next) }
                    }
                    if F.callsBlocks {
                        calledPairBlock(x + m * ldx, rows: take, ldx: ldx, w0: w0, w1: w1, format: F.self, k: k,
                                        output: output + m * ldy, columns: (base + j, base + j + half), ldy: ldy,
                                        prefetch: prefetch)
                    } else {
                        pairBlock(x + m * ldx, rows: take, ldx: ldx, w0: w0, w1: w1, format: F.self, k: k,
                                  output: output + m * ldy, columns: (base + j, base + j + half), ldy: ldy,
                                  prefetch: prefetch)
                    }
                }
                m += take
                group += 1
            }
            tileStart = tileEnd
        }
        if columns.count % 2 == 1 {
            let n = columns.upperBound - 1
            for m in 0..<rows { output[m * ldy + n] = dot(x + m * ldx, weight + n * rowBytes, format: F.self, k) }
        }
    }

    /// How many pairs ahead the multi-row path prefetches: well beyond DRAM latency (a pair of
    /// 576-float rows takes ~100-200 ns to compute for 4-8 rows); L2 holds the lines meanwhile.
    @inline(__always) static var prefetchDistance: Int { 8 }

    /// Weight bytes per tile. Rows are taken four at a time; the first four stream a tile of
    /// weights from memory and the next fours find it in L2 (1 MiB per core here), so each group
    /// keeps its own input rows in L1 instead of re-reading every input row for every pair.
    /// While the later groups compute on a tile, they prefetch the next one, so reading memory
    /// overlaps with arithmetic instead of taking turns with it. Measured with `bench kernel`
    /// (whole SmolLM2 weight set, 2 threads, variants interleaved in one run, medians of 9):
    /// tiling alone made 16 and 32 rows 10-25% faster than untiled; streaming the next tile then
    /// took 8 rows from 21.9 to 19.0 ms (1.0 row: 15.6 ms), 16 rows from 33.6 to 30.5 ms, and
    /// 128 KiB tiles did best for 8 rows (256 KiB: 20.3 ms; 64 and 192 KiB within noise of 128).
    public static let tileBytes = 131_072

    /// `pairBlock` as a function of its own. For bfloat16 weights the block inlined into the tile
    /// loop ran 2-3 times slower than called (measured on the draft: a 4-row pass 1.75 vs 0.77
    /// ms); for float32 the inlined block is about 10% faster (`bench kernel --cached`).
    @inline(never)
    private static func calledPairBlock<F: WeightFormat>(
        _ x: UnsafePointer<Float>, rows: Int, ldx: Int, w0: UnsafeRawPointer, w1: UnsafeRawPointer, format: F.Type,
        k: Int, output: UnsafeMutablePointer<Float>, columns: (Int, Int), ldy: Int,
        prefetch: (UnsafeRawPointer, UnsafeRawPointer)?
    ) {
        pairBlock(x, rows: rows, ldx: ldx, w0: w0, w1: w1, format: format, k: k, output: output, columns: columns,
                  ldy: ldy, prefetch: prefetch)
    }

    /// Two weight rows against up to four input rows, each pair with one accumulator: 8
    /// accumulators, 2 weight vectors and an input vector fit the 16 AVX2 registers, so the weight
    /// rows are read from memory once for all four inputs. Missing input rows re-read row 0 and
    /// are not stored.
    @inline(__always)
    private static func pairBlock<F: WeightFormat>(
        _ x: UnsafePointer<Float>, rows: Int, ldx: Int, w0: UnsafeRawPointer, w1: UnsafeRawPointer, format: F.Type,
        k: Int, output: UnsafeMutablePointer<Float>, columns: (Int, Int), ldy: Int,
        prefetch: (UnsafeRawPointer, UnsafeRawPointer)?
    ) {
        typealias V = SIMD8<Float>
        let x0 = UnsafeRawPointer(x)
        let x1 = UnsafeRawPointer(x + (rows > 1 ? ldx : 0))
        let x2 = UnsafeRawPointer(x + (rows > 2 ? 2 * ldx : 0))
        let x3 = UnsafeRawPointer(x + (rows > 3 ? 3 * ldx : 0))
        let vectorEnd = k & ~7
        var i = 0
        if rows == 1 {
            var c0 = V(), c1 = V()
            while i < vectorEnd {
                let a = x0.loadUnaligned(fromByteOffset: i * 4, as: V.self)
                c0 = c0.addingProduct(a, F.load8(w0, i))
                c1 = c1.addingProduct(a, F.load8(w1, i))
                i += 8
            }
            var s0 = c0.sum(), s1 = c1.sum()
            while i < k {
                s0 += x[i] * F.load1(w0, i)
                s1 += x[i] * F.load1(w1, i)
                i += 1
            }
            output[columns.0] = s0
            output[columns.1] = s1
            return
        }
        // One line (64 bytes) of each future row per 64 bytes of the current ones, spread through
        // the loop so that only a few misses are in flight at a time.
        let prefetching = prefetch != nil
        let p0 = prefetch?.0 ?? w0, p1 = prefetch?.1 ?? w1
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
                let a = x0.loadUnaligned(fromByteOffset: o, as: V.self)
                c00 = c00.addingProduct(a, v0); c01 = c01.addingProduct(a, v1)
                let b = x1.loadUnaligned(fromByteOffset: o, as: V.self)
                c10 = c10.addingProduct(b, v0); c11 = c11.addingProduct(b, v1)
                i += 8
            }
            var sums = (SIMD2(c00.sum(), c01.sum()), SIMD2(c10.sum(), c11.sum()))
            while i < k {
                let u0 = F.load1(w0, i), u1 = F.load1(w1, i)
                sums.0[0] += x[i] * u0; sums.0[1] += x[i] * u1
                sums.1[0] += x[ldx + i] * u0; sums.1[1] += x[ldx + i] * u1
                i += 1
            }
            output[columns.0] = sums.0[0]; output[columns.1] = sums.0[1]
            output[ldy + columns.0] = sums.1[0]; output[ldy + columns.1] = sums.1[1]
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
            let u0 = F.load1(w0, i), u1 = F.load1(w1, i)
            sums.0[0] += x[i] * u0; sums.0[1] += x[i] * u1
            if rows > 1 { sums.1[0] += x[ldx + i] * u0; sums.1[1] += x[ldx + i] * u1 }
            if rows > 2 { sums.2[0] += x[2 * ldx + i] * u0; sums.2[1] += x[2 * ldx + i] * u1 }
            if rows > 3 { sums.3[0] += x[3 * ldx + i] * u0; sums.3[1] += x[3 * ldx + i] * u1 }
            i += 1
        }
        output[columns.0] = sums.0[0]; output[columns.1] = sums.0[1]
        if rows > 1 { output[ldy + columns.0] = sums.1[0]; output[ldy + columns.1] = sums.1[1] }
        if rows > 2 { output[2 * ldy + columns.0] = sums.2[0]; output[2 * ldy + columns.1] = sums.2[1] }
        if rows > 3 { output[3 * ldy + columns.0] = sums.3[0]; output[3 * ldy + columns.1] = sums.3[1] }
    }

    /// A dot product of `k` floats, accumulated in exactly the order `pairBlock` uses.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ k: Int) -> Float {
        dot(a, UnsafeRawPointer(b), format: Float32Format.self, k)
    }

    @inline(__always)
    static func dot<F: WeightFormat>(_ a: UnsafePointer<Float>, _ b: UnsafeRawPointer, format: F.Type, _ k: Int) -> Float {
        typealias V = SIMD8<Float>
        let ra = UnsafeRawPointer(a)
        var accumulator = V()
        var i = 0
        while i + 8 <= k {
            accumulator = accumulator.addingProduct(ra.loadUnaligned(fromByteOffset: i * 4, as: V.self), F.load8(b, i))
            i += 8
        }
        var sum = accumulator.sum()
        while i < k { sum += a[i] * F.load1(b, i); i += 1 }
        return sum
    }
}

/// How a weight row is stored: element `i` read as float32, eight at a time or one.
protocol WeightFormat {
    static var bytes: Int { get }
    /// Whether the kernel calls its pair block instead of inlining it (see `calledPairBlock`).
    static var callsBlocks: Bool { get }
    static func load8(_ row: UnsafeRawPointer, _ element: Int) -> SIMD8<Float>
    static func load1(_ row: UnsafeRawPointer, _ element: Int) -> Float
}

enum Float32Format: WeightFormat {
    static var bytes: Int { 4 }
    static var callsBlocks: Bool { false }
    @inline(__always)
    static func load8(_ row: UnsafeRawPointer, _ element: Int) -> SIMD8<Float> {
        row.loadUnaligned(fromByteOffset: element * 4, as: SIMD8<Float>.self)
    }
    @inline(__always)
    static func load1(_ row: UnsafeRawPointer, _ element: Int) -> Float {
        row.loadUnaligned(fromByteOffset: element * 4, as: Float.self)
    }
}

/// bfloat16: the upper 16 bits of a float32, widened back exactly by a shift (eight lanes at a
/// time here, the same operation as `BFloat16.widen`).
enum BFloat16Format: WeightFormat {
    static var bytes: Int { 2 }
    static var callsBlocks: Bool { true }
    @inline(__always)
    static func load8(_ row: UnsafeRawPointer, _ element: Int) -> SIMD8<Float> {
        let halves = row.loadUnaligned(fromByteOffset: element * 2, as: SIMD8<UInt16>.self)
        return unsafeBitCast(SIMD8<UInt32>(truncatingIfNeeded: halves) &<< 16, to: SIMD8<Float>.self)
    }
    @inline(__always)
    static func load1(_ row: UnsafeRawPointer, _ element: Int) -> Float {
        BFloat16.widen(row.loadUnaligned(fromByteOffset: element * 2, as: UInt16.self))
    }
}
