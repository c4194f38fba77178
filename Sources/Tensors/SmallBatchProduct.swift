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
/// From five rows on, float32 weight rows are taken three at a time (`TripleColumns`): 12
/// accumulators instead of 8 and fewer loads per multiply-add, for passes whose arithmetic
/// shows (16 and 32 rows: a batch of eight verifying). Measured with both blocks in one process
/// (`bench verifier`, whole SmolLM2, 2 threads, three runs): 8 sequences x 2 rows 3.5-5.7% and
/// x 4 rows 1.5-4.5% faster. In cache both blocks reach 160-180 GFLOP/s on 4 to 32 rows, so
/// what they differ in is how memory and arithmetic overlap. Up to four rows the pass is still
/// mostly a stream of weights, and two streams per core beat three: on a day this machine read
/// 85 GB/s, `bench kernel` (three interleaved runs each) gave 4 rows 7.5-7.8 ms with pairs
/// against 9.0-9.1 with triples (a verification of three drafts), 8 rows within noise of each
/// other (12.4-13.2 ms), 16 rows 23.5 against 21.9 ms. (Runs of two binaries a minute apart disagreed by up to 1.8x on the
/// same code: this machine's speed drifts, so only comparisons within one process, or
/// interleaved runs, count.)
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
        if rows <= 4 || !F.prefersTriples {
            multiply(x, rows: rows, ldx: ldx, weight: weight, format: F.self, k: k, columns: columns,
                     output: output, ldy: ldy, block: PairColumns.self)
        } else {
            multiply(x, rows: rows, ldx: ldx, weight: weight, format: F.self, k: k, columns: columns,
                     output: output, ldy: ldy, block: TripleColumns.self)
        }
    }

    /// The tiled stream of weight units (`B.width` rows each, `units` apart) against groups of at
    /// most four input rows. Columns left over when the range does not divide by the width are
    /// plain dot products at the end.
    @inline(__always)
    static func multiply<F: WeightFormat, B: ColumnBlock>(
        _ x: UnsafePointer<Float>, rows: Int, ldx: Int, weight: UnsafeRawPointer, format: F.Type, k: Int,
        columns: Range<Int>, output: UnsafeMutablePointer<Float>, ldy: Int, block: B.Type
    ) {
        let units = columns.count / B.width
        let base = columns.lowerBound
        let rowBytes = k * F.bytes
        let rowStride = units * rowBytes
        let tileUnits = max(1, tileBytes / (B.width * rowBytes))
        let groups = (rows + 3) / 4
        func unit(_ j: Int) -> UnsafeRawPointer { weight + (base + j) * rowBytes }
        var tileStart = 0
        while tileStart < units {
            let tileEnd = min(units, tileStart + tileUnits), tileUnitCount = tileEnd - tileStart
            // With one group of rows, the group prefetches a few units ahead of itself. With
            // several, the first tile is streamed that way by group 0, and every tile's later
            // groups (all of its groups once the stream runs ahead) prefetch the next tile, so
            // memory keeps reading while the cores compute on a tile already in L2.
            let ownGroups = tileStart == 0 || groups == 1 ? 1 : 0
            let sharers = groups - ownGroups
            var m = 0, group = 0
            while m < rows {
                let take = min(4, rows - m)
                for j in tileStart..<tileEnd {
                    var prefetch: UnsafeRawPointer?
                    if rows > 1 && group < ownGroups {
                        prefetch = unit(min(j + prefetchDistance, units - 1))
                    } else if sharers > 0 {
                        let slot = (group - ownGroups) * tileUnitCount + (j - tileStart)
                        let next = tileEnd + slot / sharers
                        if slot % sharers == 0 && next < units { prefetch = unit(next) }
                    }
                    let arguments = BlockArguments(x: x + m * ldx, rows: take, ldx: ldx, weight: unit(j),
                                                   rowStride: rowStride, k: k, output: output + m * ldy,
                                                   column: base + j, columnStride: units, ldy: ldy, prefetch: prefetch)
                    if F.callsBlocks {
                        calledBlock(arguments, format: F.self, block: B.self)
                    } else {
                        B.compute(arguments, format: F.self)
                    }
                }
                m += take
                group += 1
            }
            tileStart = tileEnd
        }
        for n in (base + units * B.width)..<columns.upperBound {
            for m in 0..<rows { output[m * ldy + n] = dot(x + m * ldx, weight + n * rowBytes, format: F.self, k) }
        }
    }

    /// How many units ahead the multi-row path prefetches: well beyond DRAM latency (a unit of
    /// 576-float rows takes ~100-300 ns to compute for 4-8 rows); L2 holds the lines meanwhile.
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

    /// The block as a function of its own. For bfloat16 weights the block inlined into the tile
    /// loop ran 2-3 times slower than called (measured on the draft: a 4-row pass 1.75 vs 0.77
    /// ms); for float32 the inlined block is about 10% faster (`bench kernel --cached`).
    @inline(never)
    private static func calledBlock<F: WeightFormat, B: ColumnBlock>(
        _ arguments: BlockArguments, format: F.Type, block: B.Type
    ) {
        B.compute(arguments, format: F.self)
    }

    /// A dot product of `k` floats, accumulated in exactly the order the column blocks use.
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
    /// Whether the kernel calls its block instead of inlining it (see `calledBlock`).
    static var callsBlocks: Bool { get }
    /// Whether passes of five or more rows take weight rows three at a time (`TripleColumns`).
    static var prefersTriples: Bool { get }
    static func load8(_ row: UnsafeRawPointer, _ element: Int) -> SIMD8<Float>
    static func load1(_ row: UnsafeRawPointer, _ element: Int) -> Float
}

enum Float32Format: WeightFormat {
    static var bytes: Int { 4 }
    static var callsBlocks: Bool { false }
    static var prefersTriples: Bool { true }
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
    /// Widening three weight vectors needs registers the triple block does not have: measured on
    /// the draft (`bench kernel --speculator`, both blocks in one run), 4 and 8 rows took 1.7x
    /// as long with triples as with pairs.
    static var prefersTriples: Bool { false }
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
