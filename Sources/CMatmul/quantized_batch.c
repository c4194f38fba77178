// The batch-invariant product against Q4_1 and Q8_0 blocks dequantised exactly on the fly (see
// include/quantized_batch.h for the contract). Its structure is small_batch.c's (two weight
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
    STORED_Q4_1 = 20,
    STORED_Q8_0 = 34,
    /// Packed blocks widen the half-precision scales to float32 once, when the model loads, so
    /// that the kernel broadcasts them straight from memory: converting them in the loop cost
    /// about a quarter of a one-row pass (4.0 against 2.9 cycles per block, in cache).
    PACKED_Q4_1 = 24,
    PACKED_Q8_0 = 36,
    /// As in small_batch.c: accumulators for 12 rows of two weight streams fill AVX-512's
    /// registers, AVX2's hold 4.
    GROUP_ROWS = 12,
    AVX2_GROUP_ROWS = 4,
    STREAMS = 2,
    /// The first group prefetches into L1 the unit this many units ahead, one line per block:
    /// 1/8/16 rows 2.06/5.72/11.2 ms against 2.08/6.88/12.4 without (2 and 8 units ahead alike).
    PREFETCH_UNITS = 4,
    /// Packed weight bytes per tile of a multi-group pass (see small_batch.c).
    TILE_BYTES = 131072,
};

long speculators_quantized_stored_block_bytes(int format) {
    return format == SPECULATORS_QUANT_Q4_1 ? STORED_Q4_1 : format == SPECULATORS_QUANT_Q8_0 ? STORED_Q8_0 : 0;
}

long speculators_quantized_packed_block_bytes(int format) {
    return format == SPECULATORS_QUANT_Q4_1 ? PACKED_Q4_1 : format == SPECULATORS_QUANT_Q8_0 ? PACKED_Q8_0 : 0;
}

/// A half-precision number widened exactly (subnormals, infinities and NaNs included).
static float widen_half(const unsigned char *p) {
    _Float16 h;
    memcpy(&h, p, 2);
    return (float)h;
}

void speculators_quantized_pack(int format, const void *stored, long blocks, void *packed) {
    const unsigned char *in = stored;
    unsigned char *out = packed;
    for (long b = 0; b < blocks; b++) {
        if (format == SPECULATORS_QUANT_Q8_0) {
            const unsigned char *s = in + STORED_Q8_0 * b;
            unsigned char *o = out + PACKED_Q8_0 * b;
            const float d = widen_half(s);
            memcpy(o, &d, 4);
            memcpy(o + 4, s + 2, 32);
        } else {
            const unsigned char *s = in + STORED_Q4_1 * b;
            unsigned char *o = out + PACKED_Q4_1 * b;
            const float d = widen_half(s), m = widen_half(s + 2);
            memcpy(o, &d, 4);
            memcpy(o + 4, &m, 4);
            memcpy(o + 8, s + 4, 16);
        }
    }
}

/// The two 16-weight halves of packed block `b` of a row, exactly: Q8_0 d·q (an exact product:
/// 11 by 8 significant bits), Q4_1 fma(d, q, m) (d·q exact, so the one rounding of d·q + m).
/// Q4_1 keeps element j in the low nibble of byte j and element j + 16 in its high nibble.
INLINE void dequantize(const unsigned char *row, long b, const int q8, v16 *lo, v16 *hi) {
    if (q8) {
        const unsigned char *block = row + b * PACKED_Q8_0;
        float d;
        memcpy(&d, block, 4);
        i8x16 first, second;
        memcpy(&first, block + 4, 16);
        memcpy(&second, block + 20, 16);
        *lo = __builtin_convertvector(first, v16) * d;
        *hi = __builtin_convertvector(second, v16) * d;
    } else {
        const unsigned char *block = row + b * PACKED_Q4_1;
        float d, m;
        memcpy(&d, block, 4);
        memcpy(&m, block + 4, 4);
        u8x16 bytes;
        memcpy(&bytes, block + 8, 16);
        const u16 q = __builtin_convertvector(bytes, u16);
        *lo = __builtin_elementwise_fma((v16)d, __builtin_convertvector(q & 15, v16), (v16)m);
        *hi = __builtin_elementwise_fma((v16)d, __builtin_convertvector(q >> 4, v16), (v16)m);
    }
}

/// `R` input rows against `W` weight rows (`row_stride` bytes apart), as small_batch.c's block.
INLINE void block(const float *x, long ldx, const unsigned char *w, long row_stride, long k, float *y, long ldy,
                  long column, long column_stride, const unsigned char *prefetch, const int W, const int R,
                  const int q8) {
    v16 acc[STREAMS][GROUP_ROWS];
    for (int c = 0; c < W; c++)
        for (int r = 0; r < R; r++) acc[c][r] = (v16)(0.0f);
    const long blocks = k / 32, block_bytes = q8 ? PACKED_Q8_0 : PACKED_Q4_1;
    for (long b = 0; b < blocks; b++) {
        if (prefetch)
            for (int c = 0; c < W; c++) __builtin_prefetch(prefetch + c * row_stride + b * block_bytes, 0, 3);
        v16 lo[STREAMS], hi[STREAMS];
        for (int c = 0; c < W; c++) dequantize(w + c * row_stride, b, q8, &lo[c], &hi[c]);
        for (int r = 0; r < R; r++) {
            const v16 input = load16(x + r * ldx + 32 * b);
            for (int c = 0; c < W; c++) acc[c][r] = __builtin_elementwise_fma(input, lo[c], acc[c][r]);
        }
        for (int r = 0; r < R; r++) {
            const v16 input = load16(x + r * ldx + 32 * b + 16);
            for (int c = 0; c < W; c++) acc[c][r] = __builtin_elementwise_fma(input, hi[c], acc[c][r]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int c = 0; c < W; c++) y[r * ldy + column + c * column_stride] = reduce16(acc[c][r]);
}

#define BLOCK(R) block(xs, ldx, first + j * row_bytes, row_stride, k, ys, ldy, begin + j, units, prefetch, W, R, q8)

/// The whole product for one column range, organised as small_batch.c's `product`.
INLINE void product(const float *x, long rows, long ldx, const unsigned char *weight, long k, long begin, long end,
                    float *y, long ldy, const int q8, const long group_limit, const int W) {
    x = aligned_input(x, rows, &ldx, k);
    const long row_bytes = k / 32 * (q8 ? PACKED_Q8_0 : PACKED_Q4_1);
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
            for (long j = tile_start; j < tile_end; j++) {
                const long ahead = j + PREFETCH_UNITS < units ? j + PREFETCH_UNITS : units - 1;
                const unsigned char *prefetch = g == 0 ? first + ahead * row_bytes : 0;
                switch (take) {
                case 1: BLOCK(1); break;
                case 2: BLOCK(2); break;
                case 3: BLOCK(3); break;
                case 4: BLOCK(4); break;
                case 5: BLOCK(5); break;
                case 6: BLOCK(6); break;
                case 7: BLOCK(7); break;
                case 8: BLOCK(8); break;
                case 9: BLOCK(9); break;
                case 10: BLOCK(10); break;
                case 11: BLOCK(11); break;
                default: BLOCK(12); break;
                }
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
                dequantize(row, b, q8, &lo, &hi);
                acc = __builtin_elementwise_fma(load16(x + r * ldx + 32 * b), lo, acc);
                acc = __builtin_elementwise_fma(load16(x + r * ldx + 32 * b + 16), hi, acc);
            }
            y[r * ldy + n] = reduce16(acc);
        }
    }
}

#define VARIANT(NAME, ATTRIBUTES, GROUP_LIMIT)                                                                   \
    ATTRIBUTES static void NAME(const float *x, long rows, long ldx, const void *w, int format, long k, long begin, \
                                long end, float *y, long ldy) {                                                 \
        if (format == SPECULATORS_QUANT_Q8_0) product(x, rows, ldx, w, k, begin, end, y, ldy, 1, GROUP_LIMIT, STREAMS); \
        else product(x, rows, ldx, w, k, begin, end, y, ldy, 0, GROUP_LIMIT, STREAMS);                          \
    }

VARIANT(portable, , AVX2_GROUP_ROWS)
#if defined(__x86_64__)
VARIANT(avx2, SPECULATORS_AVX2, AVX2_GROUP_ROWS)
VARIANT(avx512, SPECULATORS_AVX512, GROUP_ROWS)
#endif

void speculators_quantized_dequantize(int format, const void *packed, long blocks, float *out) {
    const int q8 = format == SPECULATORS_QUANT_Q8_0;
    for (long b = 0; b < blocks; b++) {
        v16 lo, hi;
        if (q8) dequantize(packed, b, 1, &lo, &hi);
        else dequantize(packed, b, 0, &lo, &hi);
        store16(out + 32 * b, lo);
        store16(out + 32 * b + 16, hi);
    }
}

void speculators_quantized_batch_using(int isa, const float *x, long rows, long ldx, const void *packed, int format,
                                       long k, long column_begin, long column_end, float *y, long ldy) {
    if (rows <= 0 || column_end <= column_begin || k <= 0 || k % 32 != 0) return;
    if (format != SPECULATORS_QUANT_Q4_1 && format != SPECULATORS_QUANT_Q8_0) return;
#if defined(__x86_64__)
    switch (speculators_isa_for(isa)) {
    case 2: avx512(x, rows, ldx, packed, format, k, column_begin, column_end, y, ldy); return;
    case 1: avx2(x, rows, ldx, packed, format, k, column_begin, column_end, y, ldy); return;
    default: break;
    }
#endif
    portable(x, rows, ldx, packed, format, k, column_begin, column_end, y, ldy);
}

void speculators_quantized_batch(const float *x, long rows, long ldx, const void *packed, int format, long k,
                                 long column_begin, long column_end, float *y, long ldy) {
    speculators_quantized_batch_using(speculators_isa(), x, rows, ldx, packed, format, k, column_begin, column_end, y,
                                      ldy);
}
