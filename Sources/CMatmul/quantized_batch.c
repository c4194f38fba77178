// The batch-invariant product against GGUF blocks (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K,
// Q6_K) dequantised
// exactly on the fly (see include/quantized_batch.h for the contract). Its structure is small_batch.c's (two weight
// streams per core, groups of rows, L2 tiles for several groups, the same 16-lane accumulation
// order), with the weight loads replaced by the dequantisation of one block of 32 weights: two
// 16-lane vectors, the block's two halves, which are the accumulation's two 16-float chunks.
//
// Measured against the float32 kernel on SmolLM2-135M's matrices (GGUF Q4_1 layers and a Q8_0
// head), 2 threads, one run, memory at 90-94 GB/s: 1/2/4/8/16/32 rows took 2.05/2.40/3.30/5.72/
// 11.2/22.5 ms against 5.9/6.4/7.0/9.5/15.3/27.6 ms. Memory now carries 0.75 to 1.1 bytes per
// weight instead of 4, so one row is bound by the dequantisation's arithmetic, not by memory.
// The AVX2 variant (forced, same run): 1/4/8/16 rows 3.04/8.43/16.4/32.5 ms against AVX-512's
// 2.19/3.43/5.74/11.2, slower than the float32 kernel from about six rows on (Linear then uses
// the float32 weights: QuantizedWeights.fastestUpToRows).
#include "quantized_batch.h"
#include "cpu_isa.h"
#include "kernel_vectors.h"
#include "aligned_rows.h"

typedef uint8_t u8x16 __attribute__((ext_vector_type(16)));
typedef int8_t i8x16 __attribute__((ext_vector_type(16)));

enum {
    /// Packed blocks of 32 weights, the four forms the kernel reads. Every stored format is
    /// repacked into one of them when the model loads, with its scales widened (and for K-quants
    /// multiplied out: d·scale and dmin·min are exact) to float32, so that the kernel broadcasts
    /// them straight from memory: converting half-precision scales in the loop cost about a
    /// quarter of a one-row pass (4.0 against 2.9 cycles per block, in cache).
    /// NIBBLES: float32 d, float32 m, 16 bytes (element j low nibble of byte j, j + 16 its high
    /// nibble); weight fma(d, q, m). Q4_1 (m as stored) and Q4_K (d·scale, −dmin·min: the stored
    /// formula d·q − m rounds once, exactly as fma(d, q, −m)).
    PACKED_NIBBLES = 24,
    /// BYTES: float32 d, 32 signed bytes; weight q·d. Q8_0, and Q4_0 and Q5_0 as q − 8 and q − 16.
    PACKED_BYTES = 36,
    /// BYTES_TWO_SCALES: float32 d for elements 0-15, another for 16-31, 32 signed bytes. Q6_K,
    /// whose scales change every 16 weights (weight (d·scale)·(q − 32), one rounding).
    PACKED_BYTES_TWO_SCALES = 40,
    /// BYTES_OFFSET: float32 d, float32 m, 32 unsigned bytes; weight fma(d, q, m). Q5_1 and Q5_K
    /// (5-bit values; d·q is exact, as for the nibbles).
    PACKED_BYTES_OFFSET = 40,
    /// As in small_batch.c: accumulators for 12 rows of two weight streams fill AVX-512's
    /// registers. AVX2 (whole 16-lane vectors here; a half-vector schedule as small_batch.c's
    /// ran slower, its quarter-block dequantisations costing more than the spills) takes passes
    /// of up to 4 rows in one group and longer ones in groups of 3: in L2 on one core of a Zen 3
    /// EPYC, best of 5, 8/12/16 rows 46/48/46 GFLOP/s against 42 in groups of 4, 1-4 rows as before.
    GROUP_ROWS = 12,
    AVX2_GROUP_ROWS = 3,
    AVX2_ONE_GROUP_ROWS = 4,
    STREAMS = 2,
    /// The first group prefetches into L1 the unit this many units ahead, one line per block:
    /// 1/8/16 rows 2.06/5.72/11.2 ms against 2.08/6.88/12.4 without (2 and 8 units ahead alike).
    PREFETCH_UNITS = 4,
    /// Packed weight bytes per tile of a multi-group pass (see small_batch.c).
    TILE_BYTES = 131072,
    /// As in small_batch.c: blocks of this many accumulators or more reduce them together.
    REDUCE_TOGETHER_FROM = 8,
    /// Units a block of one or two rows takes side by side (`block`).
    MAX_UNITS = 2,
};
_Static_assert(STREAMS * GROUP_ROWS <= 32, "reduce_accumulators takes at most 32 accumulators");

long speculators_quantized_block_weights(int format) {
    switch (format) {
    case SPECULATORS_QUANT_Q4_1: case SPECULATORS_QUANT_Q8_0: case SPECULATORS_QUANT_Q4_0:
    case SPECULATORS_QUANT_Q5_0: case SPECULATORS_QUANT_Q5_1: return 32;
    case SPECULATORS_QUANT_Q4_K: case SPECULATORS_QUANT_Q6_K: case SPECULATORS_QUANT_Q5_K: return 256;
    default: return 0;
    }
}

long speculators_quantized_stored_block_bytes(int format) {
    switch (format) {
    case SPECULATORS_QUANT_Q4_1: return 20;
    case SPECULATORS_QUANT_Q8_0: return 34;
    case SPECULATORS_QUANT_Q4_0: return 18;
    case SPECULATORS_QUANT_Q4_K: return 144;
    case SPECULATORS_QUANT_Q6_K: return 210;
    case SPECULATORS_QUANT_Q5_0: return 22;
    case SPECULATORS_QUANT_Q5_1: return 24;
    case SPECULATORS_QUANT_Q5_K: return 176;
    default: return 0;
    }
}

int speculators_quantized_kind(int format) {
    switch (format) {
    case SPECULATORS_QUANT_Q4_1: case SPECULATORS_QUANT_Q4_K: return SPECULATORS_PACKED_NIBBLES;
    case SPECULATORS_QUANT_Q8_0: case SPECULATORS_QUANT_Q4_0: case SPECULATORS_QUANT_Q5_0: return SPECULATORS_PACKED_BYTES;
    case SPECULATORS_QUANT_Q6_K: return SPECULATORS_PACKED_BYTES_TWO_SCALES;
    case SPECULATORS_QUANT_Q5_1: case SPECULATORS_QUANT_Q5_K: return SPECULATORS_PACKED_BYTES_OFFSET;
    default: return -1;
    }
}

long speculators_quantized_packed_block_bytes(int kind) {
    switch (kind) {
    case SPECULATORS_PACKED_NIBBLES: return PACKED_NIBBLES;
    case SPECULATORS_PACKED_BYTES: return PACKED_BYTES;
    case SPECULATORS_PACKED_BYTES_TWO_SCALES: return PACKED_BYTES_TWO_SCALES;
    case SPECULATORS_PACKED_BYTES_OFFSET: return PACKED_BYTES_OFFSET;
    default: return 0;
    }
}

/// A half-precision number widened exactly (subnormals, infinities and NaNs included).
static float widen_half(const unsigned char *p) {
    _Float16 h;
    memcpy(&h, p, 2);
    return (float)h;
}

/// A nibbles block from 32 values `q` (0..15), `d` and `m`.
static void pack_nibbles(unsigned char *out, float d, float m, const unsigned char *q) {
    memcpy(out, &d, 4);
    memcpy(out + 4, &m, 4);
    for (int j = 0; j < 16; j++) out[8 + j] = (unsigned char)(q[j] | q[j + 16] << 4);
}

/// A bytes block from 32 signed values `q` and `d`.
static void pack_bytes(unsigned char *out, float d, const signed char *q) {
    memcpy(out, &d, 4);
    memcpy(out + 4, q, 32);
}

/// A bytes-with-offset block from 32 values `q` (0..31), `d` and `m`.
static void pack_bytes_offset(unsigned char *out, float d, float m, const unsigned char *q) {
    memcpy(out, &d, 4);
    memcpy(out + 4, &m, 4);
    memcpy(out + 8, q, 32);
}

/// The 32 values (0..31) of a Q5_0 or Q5_1 block: element j's low four bits are the low nibble of
/// `nibbles[j]` (j < 16) or the high nibble of `nibbles[j - 16]`, its fifth bit is bit j of the
/// little-endian 32-bit `high_bits`.
static void five_bit_values(const unsigned char *high_bits, const unsigned char *nibbles, unsigned char *q) {
    const uint32_t qh = (uint32_t)high_bits[0] | (uint32_t)high_bits[1] << 8 | (uint32_t)high_bits[2] << 16
        | (uint32_t)high_bits[3] << 24;
    for (int j = 0; j < 16; j++) {
        q[j] = (unsigned char)((nibbles[j] & 0x0F) | ((qh >> j) & 1) << 4);
        q[j + 16] = (unsigned char)((nibbles[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
    }
}

/// Q4_K's 6-bit scale and min of sub-block j (0..7) from its 12 packed bytes.
static void scale_min_k4(int j, const unsigned char *scales, int *scale, int *min) {
    if (j < 4) {
        *scale = scales[j] & 63;
        *min = scales[j + 4] & 63;
    } else {
        *scale = (scales[j + 4] & 0x0F) | ((scales[j - 4] >> 6) << 4);
        *min = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
    }
}

void speculators_quantized_pack_row(int format, const void *stored, long k, void *packed) {
    const unsigned char *in = stored;
    unsigned char *out = packed;
    const long blocks = k / 32;
    unsigned char q[32];
    signed char v[32];
    switch (format) {
    case SPECULATORS_QUANT_Q4_1:
        for (long b = 0; b < blocks; b++) {
            const unsigned char *s = in + 20 * b;
            for (int j = 0; j < 16; j++) q[j] = s[4 + j] & 0x0F, q[j + 16] = s[4 + j] >> 4;
            pack_nibbles(out + PACKED_NIBBLES * b, widen_half(s), widen_half(s + 2), q);
        }
        break;
    case SPECULATORS_QUANT_Q8_0:
        for (long b = 0; b < blocks; b++) {
            memcpy(v, in + 34 * b + 2, 32);
            pack_bytes(out + PACKED_BYTES * b, widen_half(in + 34 * b), v);
        }
        break;
    case SPECULATORS_QUANT_Q4_0:
        for (long b = 0; b < blocks; b++) {
            const unsigned char *s = in + 18 * b;
            for (int j = 0; j < 16; j++) v[j] = (signed char)((s[2 + j] & 0x0F) - 8), v[j + 16] = (signed char)((s[2 + j] >> 4) - 8);
            pack_bytes(out + PACKED_BYTES * b, widen_half(s), v);
        }
        break;
    case SPECULATORS_QUANT_Q5_0:
        for (long b = 0; b < blocks; b++) {
            const unsigned char *s = in + 22 * b;
            five_bit_values(s + 2, s + 6, q);
            for (int j = 0; j < 32; j++) v[j] = (signed char)(q[j] - 16);
            pack_bytes(out + PACKED_BYTES * b, widen_half(s), v);
        }
        break;
    case SPECULATORS_QUANT_Q5_1:
        for (long b = 0; b < blocks; b++) {
            const unsigned char *s = in + 24 * b;
            five_bit_values(s + 4, s + 8, q);
            pack_bytes_offset(out + PACKED_BYTES_OFFSET * b, widen_half(s), widen_half(s + 2), q);
        }
        break;
    case SPECULATORS_QUANT_Q5_K:
        for (long super = 0; super < k / 256; super++) {
            const unsigned char *s = in + 176 * super;
            const float d = widen_half(s), dmin = widen_half(s + 2);
            const unsigned char *qh = s + 16;
            for (int j = 0; j < 8; j++) {
                int scale, min;
                scale_min_k4(j, s + 4, &scale, &min);
                const unsigned char *bytes = s + 48 + 32 * (j / 2);
                for (int l = 0; l < 32; l++)
                    q[l] = (unsigned char)((j % 2 ? bytes[l] >> 4 : bytes[l] & 0x0F) | ((qh[l] >> j) & 1) << 4);
                pack_bytes_offset(out + PACKED_BYTES_OFFSET * (8 * super + j), d * (float)scale, -(dmin * (float)min), q);
            }
        }
        break;
    case SPECULATORS_QUANT_Q4_K:
        for (long super = 0; super < k / 256; super++) {
            const unsigned char *s = in + 144 * super;
            const float d = widen_half(s), dmin = widen_half(s + 2);
            for (int j = 0; j < 8; j++) {
                int scale, min;
                scale_min_k4(j, s + 4, &scale, &min);
                const unsigned char *bytes = s + 16 + 32 * (j / 2);
                for (int l = 0; l < 32; l++) q[l] = j % 2 ? bytes[l] >> 4 : bytes[l] & 0x0F;
                pack_nibbles(out + PACKED_NIBBLES * (8 * super + j), d * (float)scale, -(dmin * (float)min), q);
            }
        }
        break;
    case SPECULATORS_QUANT_Q6_K:
        for (long super = 0; super < k / 256; super++) {
            const unsigned char *s = in + 210 * super;
            const float d = widen_half(s + 208);
            const signed char *scales = (const signed char *)(s + 192);
            for (int half = 0; half < 2; half++) {
                const unsigned char *ql = s + 64 * half, *qh = s + 128 + 32 * half;
                for (int quarter = 0; quarter < 4; quarter++) {
                    unsigned char *o = out + PACKED_BYTES_TWO_SCALES * (8 * super + 4 * half + quarter);
                    const float low = d * (float)scales[8 * half + 2 * quarter];
                    const float high = d * (float)scales[8 * half + 2 * quarter + 1];
                    memcpy(o, &low, 4);
                    memcpy(o + 4, &high, 4);
                    const unsigned char *source = ql + 32 * (quarter & 1);
                    const int nibble_shift = 4 * (quarter >> 1), high_shift = 2 * quarter;
                    for (int l = 0; l < 32; l++) {
                        const int value = (((source[l] >> nibble_shift) & 0x0F) | ((qh[l] >> high_shift) & 3) << 4) - 32;
                        o[8 + l] = (unsigned char)(signed char)value;
                    }
                }
            }
        }
        break;
    default:
        break;
    }
}

/// The two 16-weight halves of packed block `b` of a row, exactly (see the packed forms above):
/// for bytes, q·d is the one rounding of the stored formula (Q8_0's d·q, Q4_0's d·(q − 8), Q6_K's
/// (d·scale)·(q − 32)); for nibbles, fma(d, q, m) that of d·q + m (d·q is exact).
INLINE void dequantize(const unsigned char *row, long b, const int kind, v16 *lo, v16 *hi) {
    if (kind == SPECULATORS_PACKED_NIBBLES) {
        const unsigned char *block = row + b * PACKED_NIBBLES;
        float d, m;
        memcpy(&d, block, 4);
        memcpy(&m, block + 4, 4);
        u8x16 bytes;
        memcpy(&bytes, block + 8, 16);
        const u16 q = __builtin_convertvector(bytes, u16);
        *lo = __builtin_elementwise_fma((v16)d, __builtin_convertvector(q & 15, v16), (v16)m);
        *hi = __builtin_elementwise_fma((v16)d, __builtin_convertvector(q >> 4, v16), (v16)m);
    } else if (kind == SPECULATORS_PACKED_BYTES_OFFSET) {
        const unsigned char *block = row + b * PACKED_BYTES_OFFSET;
        float d, m;
        memcpy(&d, block, 4);
        memcpy(&m, block + 4, 4);
        u8x16 first, second;
        memcpy(&first, block + 8, 16);
        memcpy(&second, block + 24, 16);
        *lo = __builtin_elementwise_fma((v16)d, __builtin_convertvector(first, v16), (v16)m);
        *hi = __builtin_elementwise_fma((v16)d, __builtin_convertvector(second, v16), (v16)m);
    } else {
        const int two = kind == SPECULATORS_PACKED_BYTES_TWO_SCALES;
        const unsigned char *block = row + b * (two ? PACKED_BYTES_TWO_SCALES : PACKED_BYTES);
        float d, e;
        memcpy(&d, block, 4);
        memcpy(&e, block + (two ? 4 : 0), 4);
        const unsigned char *bytes = block + (two ? 8 : 4);
        i8x16 first, second;
        memcpy(&first, bytes, 16);
        memcpy(&second, bytes + 16, 16);
        *lo = __builtin_convertvector(first, v16) * d;
        *hi = __builtin_convertvector(second, v16) * e;
    }
}

INLINE long packed_bytes(const int kind) {
    return kind == SPECULATORS_PACKED_NIBBLES ? PACKED_NIBBLES
         : kind == SPECULATORS_PACKED_BYTES ? PACKED_BYTES
         : kind == SPECULATORS_PACKED_BYTES_TWO_SCALES ? PACKED_BYTES_TWO_SCALES : PACKED_BYTES_OFFSET;
}

/// `R` input rows against `W` weight rows (`row_stride` bytes apart) of each of `U` consecutive
/// units (`row_bytes` apart), as small_batch.c's block.
///
/// Why several units: every output is one chain of fused multiply-adds, two per block (the
/// accumulation order), and a block of one or two input rows and two streams has only two or four
/// chains, too few to hide the multiply-add's latency behind the dequantisation. Two units side by
/// side double them (AVX-512 only, see the variants). SmolLM2's matrices, 2 threads, alternating
/// binaries: one row 2.08-2.19 ms before, 1.98-2.17 after; two rows 2.41-2.51 before, 2.20-2.34
/// after; quantised decode (`bench verifier`) 409-416 tok/s before, 444-446 after. Four units gave
/// 2.13 and 2.27 ms; groups of three rows or more gain nothing. Each stream still reads one
/// sequential range (its units are consecutive rows).
INLINE void block(const float *x, long ldx, const unsigned char *w, long row_stride, long row_bytes, long k, float *y,
                  long ldy, long column, long column_stride, const unsigned char *prefetch, const int U, const int W,
                  const int R, const int kind) {
    v16 acc[MAX_UNITS * STREAMS][GROUP_ROWS];
    for (int s = 0; s < U * W; s++)
        for (int r = 0; r < R; r++) acc[s][r] = (v16)(0.0f);
    const long blocks = k / 32, block_bytes = packed_bytes(kind);
    for (long b = 0; b < blocks; b++) {
        if (prefetch)
            for (int u = 0; u < U; u++)
                for (int c = 0; c < W; c++)
                    __builtin_prefetch(prefetch + u * row_bytes + c * row_stride + b * block_bytes, 0, 3);
        v16 lo[MAX_UNITS * STREAMS], hi[MAX_UNITS * STREAMS];
        for (int u = 0; u < U; u++)
            for (int c = 0; c < W; c++)
                dequantize(w + u * row_bytes + c * row_stride, b, kind, &lo[u * W + c], &hi[u * W + c]);
        for (int r = 0; r < R; r++) {
            const v16 input = load16(x + r * ldx + 32 * b);
            for (int s = 0; s < U * W; s++) acc[s][r] = __builtin_elementwise_fma(input, lo[s], acc[s][r]);
        }
        for (int r = 0; r < R; r++) {
            const v16 input = load16(x + r * ldx + 32 * b + 16);
            for (int s = 0; s < U * W; s++) acc[s][r] = __builtin_elementwise_fma(input, hi[s], acc[s][r]);
        }
    }
    float sums[32];
    if (R * U * W >= REDUCE_TOGETHER_FROM) {
        reduce_accumulators(&acc[0][0], GROUP_ROWS, U * W, R, sums);
    } else {
        for (int r = 0; r < R; r++)
            for (int s = 0; s < U * W; s++) sums[r * U * W + s] = reduce16(acc[s][r]);
    }
    // Accumulator s = u·W + c holds output column `column + u + c · column_stride`.
    for (int r = 0; r < R; r++)
        for (int s = 0; s < U * W; s++) y[r * ldy + column + s / W + (s % W) * column_stride] = sums[r * U * W + s];
}

/// Units per block for a group of `R` rows: enough chains to cover the multiply-add latency.
#define UNITS_FOR(R) ((R) <= 2 ? pair_units : 1)

#define BLOCK(R)                                                                                                 \
    do {                                                                                                         \
        if (j + UNITS_FOR(R) <= tile_end)                                                                         \
            block(xs, ldx, first + j * row_bytes, row_stride, row_bytes, k, ys, ldy, begin + j, units, prefetch,  \
                  UNITS_FOR(R), W, R, kind);                                                                     \
        else                                                                                                     \
            for (long v = j; v < tile_end; v++)                                                                  \
                block(xs, ldx, first + v * row_bytes, row_stride, row_bytes, k, ys, ldy, begin + v, units,        \
                      prefetch, 1, W, R, kind);                                                                  \
        step = UNITS_FOR(R);                                                                                     \
    } while (0)

/// The whole product for one column range, organised as small_batch.c's `product`.
INLINE void product(const float *x, long rows, long ldx, const unsigned char *weight, long k, long begin, long end,
                    float *y, long ldy, const int kind, const long group_limit, const int W, const int pair_units) {
    x = aligned_input(x, rows, &ldx, k);
    const long row_bytes = k / 32 * packed_bytes(kind);
    const long units = (end - begin) / W;
    const long row_stride = units * row_bytes;
    const unsigned char *first = weight + begin * row_bytes;
    long tile_units = TILE_BYTES / (W * row_bytes);
    if (tile_units < 1) tile_units = 1;
    const long groups = (rows + group_limit - 1) / group_limit;
    const long group_rows = (rows + groups - 1) / groups;
    for (long tile_start = 0; tile_start < units; tile_start += tile_units) {
        const long tile_end = tile_start + tile_units < units ? tile_start + tile_units : units;
        for (long g = 0; g < groups; g++) {
            const long m = g * group_rows;
            const long take = rows - m < group_rows ? rows - m : group_rows;
            if (take <= 0) break;
            const float *xs = x + m * ldx;
            float *ys = y + m * ldy;
            for (long j = tile_start, step = 1; j < tile_end; j += step) {
                // A block prefetches MAX_UNITS units from `ahead`: none past the matrix.
                const long last = units > MAX_UNITS ? units - MAX_UNITS : 0;
                const long ahead = j + PREFETCH_UNITS < last ? j + PREFETCH_UNITS : last;
                const unsigned char *prefetch = g == 0 ? first + ahead * row_bytes : 0;
                FOR_ROW_COUNT(take, BLOCK);
            }
        }
    }
    // Columns left over when the range does not divide by W: one stream each.
    for (long n = begin + units * W; n < end; n++) {
        const unsigned char *row = weight + n * row_bytes;
        for (long r = 0; r < rows; r++) {
            v16 acc = (v16)(0.0f);
            for (long b = 0; b < k / 32; b++) {
                v16 lo, hi;
                dequantize(row, b, kind, &lo, &hi);
                acc = __builtin_elementwise_fma(load16(x + r * ldx + 32 * b), lo, acc);
                acc = __builtin_elementwise_fma(load16(x + r * ldx + 32 * b + 16), hi, acc);
            }
            y[r * ldy + n] = reduce16(acc);
        }
    }
}

#define PRODUCT(KIND) product(x, rows, ldx, w, k, begin, end, y, ldy, KIND, group_limit, STREAMS, pair_units)

#define VARIANT(NAME, ATTRIBUTES, GROUP_LIMIT, PAIR_UNITS)                                                    \
    ATTRIBUTES static void NAME(const float *x, long rows, long ldx, const void *w, int kind, long k, long begin, \
                                long end, float *y, long ldy) {                                               \
        const long group_limit = GROUP_LIMIT;                                                                 \
        const int pair_units = PAIR_UNITS;                                                                    \
        switch (kind) {                                                                                       \
        case SPECULATORS_PACKED_NIBBLES: PRODUCT(SPECULATORS_PACKED_NIBBLES); break;                          \
        case SPECULATORS_PACKED_BYTES: PRODUCT(SPECULATORS_PACKED_BYTES); break;                              \
        case SPECULATORS_PACKED_BYTES_TWO_SCALES: PRODUCT(SPECULATORS_PACKED_BYTES_TWO_SCALES); break;        \
        default: PRODUCT(SPECULATORS_PACKED_BYTES_OFFSET); break;                                             \
        }                                                                                                     \
    }

// AVX2's 16 registers cannot hold two units' accumulators and weights: one row 3.10 -> 3.33 ms.
VARIANT(portable, , AVX2_GROUP_ROWS, 1)
#if defined(__x86_64__)
VARIANT(avx2, SPECULATORS_AVX2, rows <= AVX2_ONE_GROUP_ROWS ? AVX2_ONE_GROUP_ROWS : AVX2_GROUP_ROWS, 1)
VARIANT(avx512, SPECULATORS_AVX512, GROUP_ROWS, MAX_UNITS)
#endif

void speculators_quantized_dequantize(int kind, const void *packed, long blocks, float *out) {
    for (long b = 0; b < blocks; b++) {
        v16 lo, hi;
        switch (kind) {
        case SPECULATORS_PACKED_NIBBLES: dequantize(packed, b, SPECULATORS_PACKED_NIBBLES, &lo, &hi); break;
        case SPECULATORS_PACKED_BYTES: dequantize(packed, b, SPECULATORS_PACKED_BYTES, &lo, &hi); break;
        case SPECULATORS_PACKED_BYTES_TWO_SCALES: dequantize(packed, b, SPECULATORS_PACKED_BYTES_TWO_SCALES, &lo, &hi); break;
        default: dequantize(packed, b, SPECULATORS_PACKED_BYTES_OFFSET, &lo, &hi); break;
        }
        store16(out + 32 * b, lo);
        store16(out + 32 * b + 16, hi);
    }
}

void speculators_quantized_batch_using(int isa, const float *x, long rows, long ldx, const void *packed, int kind,
                                       long k, long column_begin, long column_end, float *y, long ldy) {
    if (rows <= 0 || column_end <= column_begin || k <= 0 || k % 32 != 0) return;
    if (kind < SPECULATORS_PACKED_NIBBLES || kind > SPECULATORS_PACKED_BYTES_OFFSET) return;
#if defined(__x86_64__)
    switch (speculators_isa_for(isa)) {
    case 2: avx512(x, rows, ldx, packed, kind, k, column_begin, column_end, y, ldy); return;
    case 1: avx2(x, rows, ldx, packed, kind, k, column_begin, column_end, y, ldy); return;
    default: break;
    }
#endif
    portable(x, rows, ldx, packed, kind, k, column_begin, column_end, y, ldy);
}

void speculators_quantized_batch(const float *x, long rows, long ldx, const void *packed, int kind, long k,
                                 long column_begin, long column_end, float *y, long ldy) {
    speculators_quantized_batch_using(speculators_isa(), x, rows, ldx, packed, kind, k, column_begin, column_end, y,
                                      ldy);
}
