// The batch-invariant weight-streaming product (see include/small_batch.h for the contract and
// Tensors/SmallBatchProduct.swift for how the engine uses it and what was measured).
//
// One body, written with clang's vector extensions, is compiled three times: for AVX-512 (a
// 16-lane accumulator is one register, and the server cores this runs on multiply 16 lanes at
// the rate AVX2 multiplies 8), for AVX2 with FMA (each accumulator is two 8-lane halves) and for
// any CPU. The arithmetic is the same fused multiply-adds and additions in the same order in all
// three, so they give the same bits; only the speed differs.
#include "small_batch.h"
#include "cpu_isa.h"
#include "kernel_vectors.h"
#include "aligned_rows.h"
#include "prefetch_tuner.h"

enum {
    /// Input rows one block multiplies with each weight vector it loads: 24 accumulators, two
    /// weight vectors and an input vector fit AVX-512's 32 registers. A pass of more rows is cut
    /// into groups of equal size (16 rows: two of 8).
    GROUP_ROWS = 12,
    /// The same for AVX2 (`block_halves`), whose 16 registers of 8 lanes hold a 16-lane
    /// accumulator as two halves: three rows of two streams are 12 accumulator halves, two weight
    /// halves and an input half. Passes of up to AVX2_ONE_GROUP_ROWS rows are one group (four rows
    /// spill a few accumulators, but when memory is the bound one pass over the weights beats a
    /// second group reading them from L2). Measured on an AVX2-only EPYC (Zen 3, 2 cores under
    /// KVM, 30-36 GB/s; SmolLM2's matrices, best of 4 alternating `bench kernel` runs): 1/4/8/16
    /// rows 13.3/16.1/25.0/38.6 ms, against 16.3/17.3/27.1/46.2 for the earlier groups of 4 in
    /// whole 16-lane vectors, which the compiler spilled to the stack; in L2 on one core, 8 rows
    /// 83 against 53 GFLOP/s (peak about 105). The portable variant keeps `block` in groups of 3.
    AVX2_GROUP_ROWS = 3,
    AVX2_ONE_GROUP_ROWS = 4,
    AVX2_STREAMS = 2,
    /// Weight rows a block streams at once, half the column range apart, so that each is one long
    /// sequential read the hardware prefetchers follow (two streams per core read fastest here).
    STREAMS = 2,
    /// Passes that prefetch in software (all of more than TUNED_ROWS rows, fewer when their
    /// thread's `prefetch_tuner` finds it pays) ask for the unit this many units ahead into L1
    /// (`prefetcht0`), one line per 64 weight bytes consumed: 8 rows 9.4-10.0 ms; 4 and 8 units
    /// ahead or L2 instead of L1 were 10.1-11.6, and no software prefetch 14.4.
    PREFETCH_DISTANCE = 2,
    /// Weight bytes per tile of a multi-group pass: the first group streams a tile from memory,
    /// the later ones find it in L2 (1 MiB per core here). Later groups that also prefetched
    /// the next tile into L2 (the earlier design) made memory and arithmetic compete: SmolLM2's
    /// matrices, 2 threads, alternating binaries, 13/16/32 rows took 15.3/17.0/27.9 ms that way
    /// and 13.4/15.3/27.6 without. 64 KiB tiles were 4% slower, 256 KiB alike.
    TILE_BYTES = 131072,
    /// Input bytes a group may hold: wide inputs (an MLP's down projection, 1536 floats for
    /// SmolLM2) in groups of 12 rows no longer fit L1 beside the weights and were re-read from L2
    /// for every pair of weight rows (one core, in cache: 142 GFLOP/s against 215 for 576-wide
    /// rows). Smaller groups for them: 32/64/128 rows 4-5% faster over SmolLM2's matrices
    /// (alternating binaries), 8-16 rows alike. The quantised kernel gains nothing from it (each
    /// group dequantises the tile again).
    GROUP_INPUT_BYTES = 32768,
    /// Blocks with at least this many accumulators reduce them sixteen at a time
    /// (`reduce_accumulators`); fewer are cheaper one by one.
    REDUCE_TOGETHER_FROM = 8,
};
_Static_assert(STREAMS * GROUP_ROWS <= 32, "reduce_accumulators takes at most 32 accumulators");

long speculators_small_batch_tile_bytes(void) { return TILE_BYTES; }

/// Sixteen weights from element `i` of a row: float32 as stored, bfloat16 widened exactly (its
/// bits are the upper half of the float32's).
INLINE v16 load_w(const char *row, long i, const int bf16) {
    if (bf16) {
        h16 h;
        memcpy(&h, row + 2 * i, sizeof h);
        u16 bits = __builtin_convertvector(h, u16) << 16;
        return __builtin_bit_cast(v16, bits);
    }
    v16 v;
    memcpy(&v, row + 4 * i, sizeof v);
    return v;
}

INLINE float load_w1(const char *row, long i, const int bf16) {
    if (bf16) {
        uint16_t h;
        memcpy(&h, row + 2 * i, 2);
        return __builtin_bit_cast(float, (uint32_t)h << 16);
    }
    float f;
    memcpy(&f, row + 4 * i, 4);
    return f;
}

/// `s` plus the products of elements `from` to `k` - 1 (the ones after the last whole 16-float
/// chunk), one fused multiply-add each, in order.
INLINE float add_tail(float s, const float *x, const char *w, long from, long k, const int bf16) {
    for (long j = from; j < k; j++) s = __builtin_fmaf(x[j], load_w1(w, j, bf16), s);
    return s;
}

/// Asks for the next cache line of each of the W weight rows of the unit at `prefetch` once per
/// 64 weight bytes consumed (`block`'s and `block_halves`'s prefetch).
INLINE void prefetch_unit(const char *prefetch, long row_stride, long i, long element_bytes, const int W) {
    if (prefetch && ((i * element_bytes) & 63) == 0)
        for (int c = 0; c < W; c++) __builtin_prefetch(prefetch + c * row_stride + i * element_bytes, 0, 3);
}

INLINE float dot_body(const float *x, const char *w, long k, const int bf16) {
    v16 acc = (v16)(0.0f);
    const long vector_end = k & ~(long)(LANES - 1);
    long i = 0;
    for (; i < vector_end; i += LANES) acc = __builtin_elementwise_fma(load16(x + i), load_w(w, i, bf16), acc);
    return add_tail(reduce16(acc), x, w, i, k, bf16);
}

/// `R` input rows (`ldx` apart) against `W` weight rows (`row_stride` bytes apart), writing
/// output columns `column + c · column_stride`. With `prefetch`, one cache line of each of the W
/// rows of that unit is asked for (into L1) per 64 weight bytes consumed,
/// so that only a few misses are in flight at a time.
INLINE void block(const float *x, long ldx, const char *w, long row_stride, long k, float *y, long ldy,
                  long column, long column_stride, const char *prefetch, const int W, const int R,
                  const int bf16) {
    v16 acc[STREAMS][GROUP_ROWS];
    for (int c = 0; c < W; c++)
        for (int r = 0; r < R; r++) acc[c][r] = (v16)(0.0f);
    const long element_bytes = bf16 ? 2 : 4;
    const long vector_end = k & ~(long)(LANES - 1);
    long i = 0;
    for (; i < vector_end; i += LANES) {
        prefetch_unit(prefetch, row_stride, i, element_bytes, W);
        v16 weights[STREAMS];
        for (int c = 0; c < W; c++) weights[c] = load_w(w + c * row_stride, i, bf16);
        for (int r = 0; r < R; r++) {
            v16 input = load16(x + r * ldx + i);
            for (int c = 0; c < W; c++) acc[c][r] = __builtin_elementwise_fma(input, weights[c], acc[c][r]);
        }
    }
    float sums[32];
    if (R * W >= REDUCE_TOGETHER_FROM) {
        reduce_accumulators(&acc[0][0], GROUP_ROWS, W, R, sums);
    } else {
        for (int r = 0; r < R; r++)
            for (int c = 0; c < W; c++) sums[r * W + c] = reduce16(acc[c][r]);
    }
    for (int r = 0; r < R; r++) {
        for (int c = 0; c < W; c++) {
            y[r * ldy + column + c * column_stride] =
                add_tail(sums[r * W + c], x + r * ldx, w + c * row_stride, vector_end, k, bf16);
        }
    }
}

/// Eight weights from element `i` of a row (`load_w`'s half).
INLINE v8 load_w8(const char *row, long i, const int bf16) {
    if (bf16) {
        uint16_t h[8];
        memcpy(h, row + 2 * i, sizeof h);
        typedef uint16_t h8 __attribute__((ext_vector_type(8)));
        typedef uint32_t u8v __attribute__((ext_vector_type(8)));
        h8 v;
        memcpy(&v, h, sizeof v);
        u8v bits = __builtin_convertvector(v, u8v) << 16;
        return __builtin_bit_cast(v8, bits);
    }
    v8 v;
    memcpy(&v, row + 4 * i, sizeof v);
    return v;
}

INLINE v8 load8(const float *p) {
    v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

/// `block` for AVX2, whose 16 registers of 8 lanes hold a 16-lane accumulator as two halves.
///
/// The sums are the same: lanes 0-7 of an accumulator take elements 0-7 of every 16-float chunk
/// and lanes 8-15 elements 8-15, each by the same fused multiply-adds in the same order, and the
/// reduction starts by adding the two halves. Only the schedule differs: each half of a chunk is
/// finished before the next, so a block keeps 2·W·R eight-lane accumulators, W weight halves and
/// one input half live (15 of the 16 registers for W = 2, R = 3). Written with whole 16-lane
/// vectors (as `block`), the compiler kept both halves of everything live and spilled to the stack.
INLINE void block_halves(const float *x, long ldx, const char *w, long row_stride, long k, float *y, long ldy,
                         long column, long column_stride, const char *prefetch, const int W, const int R,
                         const int bf16) {
    v8 lo[AVX2_STREAMS][AVX2_ONE_GROUP_ROWS], hi[AVX2_STREAMS][AVX2_ONE_GROUP_ROWS];
    for (int c = 0; c < W; c++)
        for (int r = 0; r < R; r++) lo[c][r] = hi[c][r] = (v8)(0.0f);
    const long element_bytes = bf16 ? 2 : 4;
    const long vector_end = k & ~(long)(LANES - 1);
    long i = 0;
    for (; i < vector_end; i += LANES) {
        prefetch_unit(prefetch, row_stride, i, element_bytes, W);
        v8 weights[AVX2_STREAMS];
        for (int c = 0; c < W; c++) weights[c] = load_w8(w + c * row_stride, i, bf16);
        for (int r = 0; r < R; r++) {
            const v8 input = load8(x + r * ldx + i);
            for (int c = 0; c < W; c++) lo[c][r] = __builtin_elementwise_fma(input, weights[c], lo[c][r]);
        }
        for (int c = 0; c < W; c++) weights[c] = load_w8(w + c * row_stride, i + 8, bf16);
        for (int r = 0; r < R; r++) {
            const v8 input = load8(x + r * ldx + i + 8);
            for (int c = 0; c < W; c++) hi[c][r] = __builtin_elementwise_fma(input, weights[c], hi[c][r]);
        }
    }
    for (int r = 0; r < R; r++) {
        for (int c = 0; c < W; c++) {
            const v16 whole = __builtin_shufflevector(lo[c][r], hi[c][r], 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                                      14, 15);
            y[r * ldy + column + c * column_stride] =
                add_tail(reduce16(whole), x + r * ldx, w + c * row_stride, vector_end, k, bf16);
        }
    }
}

#define BLOCK(R)                                                                                  \
    do {                                                                                          \
        if (halves)                                                                               \
            block_halves(xs, ldx, unit, row_stride, k, ys, ldy, begin + j, units, prefetch, W,    \
                         (R) < AVX2_ONE_GROUP_ROWS ? (R) : AVX2_ONE_GROUP_ROWS, bf16);            \
        else                                                                                      \
            block(xs, ldx, unit, row_stride, k, ys, ldy, begin + j, units, prefetch, W, R, bf16); \
    } while (0)

/// The whole product for one column range: tiles of weight units (STREAMS rows each, `units`
/// columns apart), each tile against every group of up to GROUP_ROWS input rows, then the
/// columns left over when the range does not divide by STREAMS, as single dot products.
INLINE void product(const float *x, long rows, long ldx, const char *weight, long k, long begin, long end,
                    float *y, long ldy, const int bf16, const long group_limit, const int W, const int halves,
                    const long prefetch_from) {
    x = aligned_input(x, rows, &ldx, k);
    const long element_bytes = bf16 ? 2 : 4;
    const long row_bytes = k * element_bytes;
    const long units = (end - begin) / W;
    const long row_stride = units * row_bytes;
    const char *first = weight + begin * row_bytes;
    long tile_units = TILE_BYTES / (W * row_bytes);
    if (tile_units < 1) tile_units = 1;
    long limit = group_limit;
    while (limit > 4 && limit * k * (long)sizeof(float) > GROUP_INPUT_BYTES) limit--;
    const long groups = (rows + limit - 1) / limit;
    const long group_rows = (rows + groups - 1) / groups;
    for (long tile_start = 0; tile_start < units; tile_start += tile_units) {
        const long tile_end = tile_start + tile_units < units ? tile_start + tile_units : units;
        // Group 0 streams the tile from memory (prefetching a few units ahead of itself when
        // it has more than `prefetch_from` rows); the later groups find the tile in L2 and
        // prefetch nothing.
        for (long g = 0; g < groups; g++) {
            const long m = g * group_rows;
            const long take = rows - m < group_rows ? rows - m : group_rows;
            if (take <= 0) break;
            const float *xs = x + m * ldx;
            float *ys = y + m * ldy;
            for (long j = tile_start; j < tile_end; j++) {
                const char *prefetch = 0;
                if (g == 0 && rows > prefetch_from) {
                    const long ahead = j + PREFETCH_DISTANCE < units ? j + PREFETCH_DISTANCE : units - 1;
                    prefetch = first + ahead * row_bytes;
                }
                const char *unit = first + j * row_bytes;
                FOR_ROW_COUNT(take, BLOCK);
            }
        }
    }
    for (long n = begin + units * W; n < end; n++)
        for (long r = 0; r < rows; r++) y[r * ldy + n] = dot_body(x + r * ldx, weight + n * row_bytes, k, bf16);
}

#define VARIANT(NAME, ATTRIBUTES, GROUP_LIMIT, W, HALVES)                                                         \
    ATTRIBUTES static void NAME(const float *x, long rows, long ldx, const void *weight, int bf16, long k,          \
                                long begin, long end, float *y, long ldy, long from) {                             \
        if (bf16) product(x, rows, ldx, (const char *)weight, k, begin, end, y, ldy, 1, GROUP_LIMIT, W, HALVES, from); \
        else product(x, rows, ldx, (const char *)weight, k, begin, end, y, ldy, 0, GROUP_LIMIT, W, HALVES, from);  \
    }                                                                                                      \
    ATTRIBUTES static float NAME##_dot(const float *x, const void *w, int bf16, long k) {                  \
        return bf16 ? dot_body(x, (const char *)w, k, 1) : dot_body(x, (const char *)w, k, 0);             \
    }

VARIANT(portable, , AVX2_GROUP_ROWS, AVX2_STREAMS, 0)
#if defined(__x86_64__)
VARIANT(avx2, SPECULATORS_AVX2, rows <= AVX2_ONE_GROUP_ROWS ? AVX2_ONE_GROUP_ROWS : AVX2_GROUP_ROWS, AVX2_STREAMS, 1)
VARIANT(avx512, SPECULATORS_AVX512, GROUP_ROWS, STREAMS, 0)
#endif

int speculators_isa_limit = 2;

void speculators_kernels_limit_isa(int isa) { __atomic_store_n(&speculators_isa_limit, isa, __ATOMIC_RELAXED); }

int speculators_small_batch_isa(void) { return speculators_isa(); }

/// The product with software prefetch from `from` rows up (0: always), in the code for `code`.
static void product_using(int code, const float *x, long rows, long ldx, const void *weight, int bf16, long k,
                          long column_begin, long column_end, float *y, long ldy, long from) {
#if defined(__x86_64__)
    switch (speculators_isa_for(code)) {
    case 2: avx512(x, rows, ldx, weight, bf16, k, column_begin, column_end, y, ldy, from); return;
    case 1: avx2(x, rows, ldx, weight, bf16, k, column_begin, column_end, y, ldy, from); return;
    default: break;
    }
#endif
    portable(x, rows, ldx, weight, bf16, k, column_begin, column_end, y, ldy, from);
}

/// Each thread's tuners, by weight type and row count (prefetch_tuner.h).
static _Thread_local prefetch_tuner tuners[2][TUNED_ROWS + 1];

void speculators_small_batch_using(int code, const float *x, long rows, long ldx, const void *weight, int bf16,
                                   long k, long column_begin, long column_end, float *y, long ldy) {
    if (rows <= 0 || column_end <= column_begin) return;
    if (rows > TUNED_ROWS) {
        product_using(code, x, rows, ldx, weight, bf16, k, column_begin, column_end, y, ldy, 0);
        return;
    }
    prefetch_tuner *tuner = &tuners[bf16 ? 1 : 0][rows];
    const int policy = prefetch_tuner_choose(tuner);
    const double start = prefetch_tuner_clock();
    product_using(code, x, rows, ldx, weight, bf16, k, column_begin, column_end, y, ldy, policy ? 0 : TUNED_ROWS);
    const double bytes = (double)(column_end - column_begin) * (double)k * (bf16 ? 2 : 4);
    prefetch_tuner_record(tuner, policy, prefetch_tuner_clock() - start, bytes);
}

int speculators_prefetch_tuner_simulate(double hardware_cost, double software_cost, long calls,
                                        long *software_calls) {
    prefetch_tuner tuner = {0};
    long software = 0;
    for (long call = 0; call < calls; call++) {
        const int policy = prefetch_tuner_choose(&tuner);
        software += policy;
        prefetch_tuner_record(&tuner, policy, (policy ? software_cost : hardware_cost) * 1e6, 1e6);
    }
    if (software_calls) *software_calls = software;
    return tuner.current;
}

void speculators_small_batch(const float *x, long rows, long ldx, const void *weight, int bf16, long k,
                             long column_begin, long column_end, float *y, long ldy) {
    speculators_small_batch_using(speculators_isa(), x, rows, ldx, weight, bf16, k, column_begin, column_end, y, ldy);
}

float speculators_small_batch_dot_using(int code, const float *x, const void *w, int bf16, long k) {
#if defined(__x86_64__)
    switch (speculators_isa_for(code)) {
    case 2: return avx512_dot(x, w, bf16, k);
    case 1: return avx2_dot(x, w, bf16, k);
    default: break;
    }
#endif
    return portable_dot(x, w, bf16, k);
}

float speculators_small_batch_dot(const float *x, const void *w, int bf16, long k) {
    return speculators_small_batch_dot_using(speculators_isa(), x, w, bf16, k);
}
