import CMatmul

/// `y[m, n] = x[m, :] · w[n, :]` for a handful of rows `m`, streaming `w` from memory once.
///
/// Decoding and verifying a few tokens is bound by how fast the weights can be read, not by
/// arithmetic. OpenBLAS's GEMM re-packs its operands and its GEMV handles one row at a time, so a
/// verification pass of 8 tokens cost it about twice a single token. Here (C, `small_batch.c`)
/// each pair of weight rows is loaded once from memory and multiplied with up to twelve input rows
/// (four with AVX2) while it sits in L1.
///
/// **Why C and AVX-512.** The cores this runs on (AMD Zen 5 EPYC) execute two 16-lane float32
/// multiply-adds per cycle, and AVX2 code, 8 lanes wide, gets half of that: the same kernel in
/// Swift (compiled for Haswell so the binary runs on any x86-64 server) topped out at 176
/// GFLOP/s on two cores, in cache, and an 8-token verification pass was bound by that arithmetic
/// (13.1 ms against 6.0 for one token). The C body is compiled for AVX-512, for AVX2 and for any
/// CPU, and picked at run time; all three do the same operations in the same order. (On CPUs
/// without AVX-512 the 16-lane order costs two 8-lane registers per accumulator; the AVX2
/// variant schedules the halves separately so that they stay in registers, see
/// `AVX2_GROUP_ROWS`.)
///
/// **Streams.** The two rows of a pair are taken half the range apart (rows j and j+h), not side
/// by side: each then reads one long sequential stream as j advances, which the hardware
/// prefetchers follow. Two such streams per core read 1.5–2× faster than four here, and
/// side-by-side rows (2 KiB each for a 576-wide model) were slowest of all.
///
/// **Prefetch.** With several input rows the arithmetic per weight byte grows, and the hardware
/// prefetchers alone no longer keep the loads ahead, so passes of more than four rows prefetch
/// into L1 the pair they will need two pairs later, one cache line per 64 bytes consumed (8 rows:
/// 9.4-10.0 ms with it, 14.4 without). Up to four rows it depends on the machine and the minute:
/// with quiet memory the hardware prefetchers did 11-13% better alone, with memory loaded by
/// other tenants 4 rows took 1.4-1.6 times one row without software prefetch. Each thread
/// therefore times both ways on such passes (one call in 16 runs the way not chosen) and keeps
/// the cheaper (`prefetch_tuner.h`); both give the same bits. Same runs, alternating binaries,
/// loaded memory: 1/2/4 rows 11.8-13.0/11.9-12.6/12.4-14.2 ms tuned against
/// 12.3-13.7/12.8-14.1/13.4-15.1 with the hardware prefetchers alone.
///
/// **Tiles.** Passes of more rows than a group holds (a batch of sequences verifying drafts) are
/// cut into equal groups and take the weights in tiles of `tileBytes`: the first group streams a
/// tile from memory, the later ones find it in L2 (and prefetch nothing: prefetching the next
/// tile from there slowed 13-16-row passes by 10-15%).
///
/// **Reductions.** A block of eight rows ends with sixteen 16-lane accumulators to sum. One by
/// one that took about a tenth of its arithmetic; reduced sixteen at a time, with shuffles across
/// pairs of vectors in the same halving tree (`reduce16x16`), it takes a third as many operations
/// and gives the same bits: 8 and 16 rows in cache ran 9-14% faster (367 to 399, 375 to 410
/// GFLOP/s), passes of 8-16 rows from the model's weights 3-4% faster.
///
/// Weights come as float32 or as bfloat16 (`BFloat16Weights`, for matrices whose values are all
/// exact bfloat16s, such as drafts trained and stored in bf16). Widening bf16 to f32 is exact and
/// the accumulation order is the same, so both give bit-identical results; bf16 reads half the
/// bytes, which is what a memory-bound draft pass costs.
public enum SmallBatchProduct {
    /// Sequences contributing at most this many rows (decode and verification chunks) are
    /// computed with this kernel; longer prefill chunks go to BLAS GEMM.
    public static let maxRows = 16

    /// Weight bytes per tile of a pass of several row groups (64 to 512 KiB measured alike).
    public static var tileBytes: Int { speculators_small_batch_tile_bytes() }

    /// The instruction set the kernel runs with on this CPU: "AVX-512", "AVX2" or "portable".
    public static var instructionSet: String { InstructionSet.best.name }

    /// Computes output columns `columns` (weight rows `columns`) for all `rows` inputs.
    ///
    /// Every output element is accumulated in the same order whatever `rows` is and wherever
    /// its row sits in the batch (16-float chunks in sequence into one 16-lane accumulator with
    /// fused multiply-adds, the lanes summed by halves, then the leftover elements in order), so
    /// a token's logits are bit-identical whether it is decoded alone, verified in a chunk of
    /// drafts or batched with other sequences. That is what makes greedy speculative decoding
    /// produce exactly the tokens of plain decoding.
    @inline(__always)
    public static func multiply(
        _ x: UnsafePointer<Float>, rows: Int, ldx: Int, weight: UnsafePointer<Float>, k: Int,
        columns: Range<Int>, output: UnsafeMutablePointer<Float>, ldy: Int, using isa: InstructionSet = .best
    ) {
        speculators_small_batch_using(isa.rawValue, x, rows, ldx, weight, 0, k, columns.lowerBound,
                                      columns.upperBound, output, ldy)
    }

    /// The same product with bfloat16 weights (`k` values per row, 2 bytes each).
    @inline(__always)
    public static func multiply(
        _ x: UnsafePointer<Float>, rows: Int, ldx: Int, weight: UnsafePointer<UInt16>, k: Int,
        columns: Range<Int>, output: UnsafeMutablePointer<Float>, ldy: Int, using isa: InstructionSet = .best
    ) {
        speculators_small_batch_using(isa.rawValue, x, rows, ldx, weight, 1, k, columns.lowerBound,
                                      columns.upperBound, output, ldy)
    }

    /// A dot product of `k` floats, accumulated in exactly the order `multiply` uses: what it
    /// computes for one output element.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ k: Int,
                           using isa: InstructionSet = .best) -> Float {
        speculators_small_batch_dot_using(isa.rawValue, a, b, 0, k)
    }

    /// Makes the C kernels (this product and `AttentionKernel`) use at most `isa` from now on, in
    /// the whole process; `.avx512` lets them use the best the CPU has again. For benchmarks that
    /// compare the variants in one run: every variant gives the same bits.
    public static func limitInstructionSet(to isa: InstructionSet) {
        speculators_kernels_limit_isa(isa.rawValue)
    }

    /// The code variants of the kernel. A request for one the CPU lacks runs the best it has.
    public struct InstructionSet: Sendable, Hashable {
        public let rawValue: Int32
        init(rawValue: Int32) { self.rawValue = rawValue }
        public static let portable = InstructionSet(rawValue: 0)
        public static let avx2 = InstructionSet(rawValue: 1)
        public static let avx512 = InstructionSet(rawValue: 2)
        /// The best this CPU runs.
        public static var best: InstructionSet { InstructionSet(rawValue: speculators_small_batch_isa()) }
        public static let all = [portable, avx2, avx512]

        public var name: String { ["portable", "AVX2", "AVX-512"][Int(rawValue)] }

        /// The variant named `name` ("avx512", "avx2" or "portable", any case), if any.
        public init?(named name: String) {
            switch String(name.lowercased().filter { $0 != "-" }) {
            case "avx512": self = .avx512
            case "avx2": self = .avx2
            case "portable": self = .portable
            default: return nil
            }
        }
    }
}
