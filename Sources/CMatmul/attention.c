// Attention of one query row over a KV cache, for decode and verification (include/attention.h).
//
// Like small_batch.c, one body in clang's vector extensions is compiled for AVX-512, AVX2 and any
// CPU, with the same operations in the same order, so all three give the same bits. The query
// heads that share a key/value head (grouped-query attention) are computed in one call: each
// value row is then loaded once for all of them, and their multiply-add chains run side by side.
//
// What it replaced (Swift, 8 lanes, one head at a time) took 0.58 ms of a 6.2 ms SmolLM2 decode
// step at 256 cached tokens, and 3.4 of 13.2 ms for eight sequences of 128.
#include "attention.h"
#include "cpu_isa.h"
#include "kernel_vectors.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum {
    /// Accumulators the weighted sum keeps at once (heads × 16-float chunks of a head).
    SUM_ACCUMULATORS = 24,
};

INLINE v16 choose(i16 mask, v16 yes, v16 no) {
    u16 m = __builtin_bit_cast(u16, mask);
    return __builtin_bit_cast(v16, (__builtin_bit_cast(u16, yes) & m) | (__builtin_bit_cast(u16, no) & ~m));
}

/// `e^x` lane by lane, operation for operation `Kernels.exp` (Cody–Waite reduction, degree-6
/// polynomial, the power of two from the exponent bits; below -87.3 gives 0, above 88.7 +inf).
INLINE v16 exp16(v16 x) {
    const v16 low = (v16)(-87.33654f), high = (v16)(88.72283f);
    v16 clamped = choose(x < low, low, x);
    clamped = choose(x > high, high, clamped);
    v16 shifted = clamped * 1.44269504088896341f;
    shifted = shifted + 12582912.0f;
    const v16 n = shifted - 12582912.0f;
    v16 r = clamped - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    v16 p = (v16)(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const v16 polynomial = p * (r * r) + r + 1.0f;
    const u16 exponent = (__builtin_bit_cast(u16, shifted) - 0x4B400000u + 127u) << 23;
    v16 result = polynomial * __builtin_bit_cast(v16, exponent);
    result = choose(x > high, (v16)(__builtin_inff()), result);
    return choose(x < low, (v16)(0.0f), result);
}

/// One score's multiply-add chain: 16-float chunks of the head dimension, from zero.
INLINE v16 score_chain(const float *q, const float *key, long head_dim) {
    v16 acc = (v16)(0.0f);
    for (long d = 0; d < head_dim; d += LANES) acc = __builtin_elementwise_fma(load16(q + d), load16(key + d), acc);
    return acc;
}

/// `scores[j] = scale · q · key_j` for j < count, one key at a time.
INLINE void scores_of(const float *q, const float *keys, long count, long head_dim, float scale, float *scores) {
    for (long j = 0; j < count; j++) scores[j] = reduce16(score_chain(q, keys + j * head_dim, head_dim)) * scale;
}

#if defined(__x86_64__)
/// `scores_of` for every query head sharing these keys (`q_head_stride` apart, scores `stride`
/// apart), sixteen keys at a time with their sums reduced together (`reduce16x16`): the chains
/// of `score_chain`, written with intrinsics (clang will not inline a function returning a
/// 16-lane vector into this one). Each block of sixteen keys is read from
/// L2 once and serves all heads from L1 (one head at a time read every key from L2 per head).
/// The sixteen scores of one block of keys for each query head (`scores_of_heads_wide`'s step).
SPECULATORS_AVX512 static inline __attribute__((always_inline)) void
scores_of_block(const float *q, long q_head_stride, long heads, const float *block, long head_dim, float scale,
                float *scores, long stride) {
    for (long h = 0; h < heads; h++) {
        const float *query = q + h * q_head_stride;
        __m512 acc[LANES];
        for (int t = 0; t < LANES; t++) {
            const float *key = block + t * head_dim;
            acc[t] = _mm512_setzero_ps();
            for (long d = 0; d < head_dim; d += LANES)
                acc[t] = _mm512_fmadd_ps(_mm512_loadu_ps(query + d), _mm512_loadu_ps(key + d), acc[t]);
        }
        v16 chains[LANES];
        float sums[LANES];
        memcpy(chains, acc, sizeof chains);
        reduce16x16(chains, sums);
        _mm512_storeu_ps(scores + h * stride, _mm512_mul_ps(_mm512_loadu_ps(sums), _mm512_set1_ps(scale)));
    }
}

SPECULATORS_AVX512 static inline __attribute__((always_inline)) void
scores_of_heads_wide(const float *q, long q_head_stride, long heads, const float *keys, long count, long head_dim,
                     float scale, float *scores, long stride) {
    long j = 0;
    for (; j + LANES <= count; j += LANES) scores_of_block(q, q_head_stride, heads, keys + j * head_dim, head_dim, scale,
                                                           scores + j, stride);
    for (long h = 0; h < heads; h++)
        scores_of(q + h * q_head_stride, keys + j * head_dim, count - j, head_dim, scale, scores + h * stride + j);
}
#endif

/// Softmax in place over `count` scores, padded to whole 16-lane vectors (the padding is
/// written as zeros).
INLINE void softmax(float *x, long count) {
    const long padded = (count + LANES - 1) & ~(long)(LANES - 1);
    for (long j = count; j < padded; j++) x[j] = -__builtin_inff();
    v16 top = (v16)(-__builtin_inff());
    for (long j = 0; j < padded; j += LANES) {
        const v16 v = load16(x + j);
        top = choose(v > top, v, top);
    }
    float maximum = -__builtin_inff();
    for (int lane = 0; lane < LANES; lane++) maximum = top[lane] > maximum ? top[lane] : maximum;
    if (maximum == -__builtin_inff()) {
        memset(x, 0, (size_t)padded * sizeof(float));
        return;
    }
    v16 sum = (v16)(0.0f);
    for (long j = 0; j < padded; j += LANES) {
        const v16 e = exp16(load16(x + j) - maximum);
        store16(x + j, e);
        sum = sum + e;
    }
    const float inverse = 1.0f / reduce16(sum);
    for (long j = 0; j < padded; j += LANES) store16(x + j, load16(x + j) * inverse);
}

/// `out_h = Σ_j p_h[j] · value_j` for H heads and C chunks of 16 floats, each element one
/// multiply-add chain over j in order.
INLINE void weighted_sums(const float *p, long p_stride, const float *values, long count, long head_dim, float *out,
                          long out_stride, const int H, const int C) {
    v16 acc[SUM_ACCUMULATORS];
    for (int a = 0; a < H * C; a++) acc[a] = (v16)(0.0f);
    for (long j = 0; j < count; j++) {
        const float *row = values + j * head_dim;
        for (int c = 0; c < C; c++) {
            const v16 v = load16(row + c * LANES);
            for (int h = 0; h < H; h++)
                acc[h * C + c] = __builtin_elementwise_fma((v16)(p[h * p_stride + j]), v, acc[h * C + c]);
        }
    }
    for (int h = 0; h < H; h++)
        for (int c = 0; c < C; c++) store16(out + h * out_stride + c * LANES, acc[h * C + c]);
}

/// The same for any chunk count (head dimensions other than 64 and 128), one chunk at a time.
INLINE void weighted_sums_any(const float *p, long p_stride, const float *values, long count, long head_dim,
                              float *out, long out_stride, long heads) {
    for (long h = 0; h < heads; h++)
        for (long d = 0; d < head_dim; d += LANES) weighted_sums(p + h * p_stride, 0, values + d, count, head_dim,
                                                                  out + h * out_stride + d, 0, 1, 1);
}

#define SUMS(H, C) weighted_sums(scores + h * stride, stride, values, count, head_dim, out + h * out_head_stride, \
                                 out_head_stride, H, C)

/// Softmax of each head's scores (already in `scores`, `stride` apart), then the weighted sums.
INLINE void finish(long heads, const float *values, long count, long head_dim, float *scores, long stride, float *out,
                   long out_head_stride) {
    for (long h = 0; h < heads; h++) softmax(scores + h * stride, count);
    const long chunks = head_dim / LANES;
    long h = 0;
    if (chunks == 4) {
        for (; h + 6 <= heads; h += 6) SUMS(6, 4);
        switch (heads - h) {
        case 5: SUMS(5, 4); break;
        case 4: SUMS(4, 4); break;
        case 3: SUMS(3, 4); break;
        case 2: SUMS(2, 4); break;
        case 1: SUMS(1, 4); break;
        default: break;
        }
    } else if (chunks == 8) {
        for (; h + 3 <= heads; h += 3) SUMS(3, 8);
        switch (heads - h) {
        case 2: SUMS(2, 8); break;
        case 1: SUMS(1, 8); break;
        default: break;
        }
    } else {
        weighted_sums_any(scores, stride, values, count, head_dim, out, out_head_stride, heads);
    }
}

#define ARGUMENTS q, q_head_stride, heads, keys, values, count, head_dim, scale, scores, out, out_head_stride
#define PARAMETERS                                                                                                   \
    const float *q, long q_head_stride, long heads, const float *keys, const float *values, long count,             \
        long head_dim, float scale, float *scores, float *out, long out_head_stride

#define ATTEND(SCORES)                                                                                        \
    const long stride = (count + LANES - 1) & ~(long)(LANES - 1);                                              \
    for (long h = 0; h < heads; h++) SCORES(q + h * q_head_stride, keys, count, head_dim, scale, scores + h * stride); \
    finish(heads, values, count, head_dim, scores, stride, out, out_head_stride);

static void attend_portable(PARAMETERS) { ATTEND(scores_of) }
#if defined(__x86_64__)
SPECULATORS_AVX2 static void attend_avx2(PARAMETERS) { ATTEND(scores_of) }
SPECULATORS_AVX512 static void attend_avx512(PARAMETERS) {
    const long stride = (count + LANES - 1) & ~(long)(LANES - 1);
    scores_of_heads_wide(q, q_head_stride, heads, keys, count, head_dim, scale, scores, stride);
    finish(heads, values, count, head_dim, scores, stride, out, out_head_stride);
}
#endif

void speculators_attend_using(int code, PARAMETERS) {
    if (heads <= 0 || count <= 0) return;
#if defined(__x86_64__)
    switch (speculators_isa_for(code)) {
    case 2: attend_avx512(ARGUMENTS); return;
    case 1: attend_avx2(ARGUMENTS); return;
    default: break;
    }
#endif
    attend_portable(ARGUMENTS);
}

void speculators_attend(PARAMETERS) { speculators_attend_using(speculators_isa(), ARGUMENTS); }

#define ROW_PARAMETERS                                                                                              \
    const float *q, long q_row_stride, long q_head_stride, long heads, long rows, const float *keys,                \
        const float *values, long first_count, long head_dim, float scale, float *scores, float *out,               \
        long out_row_stride, long out_head_stride

/// One row at a time, each as `attend` computes it alone.
#define ROWS_ONE_BY_ONE(ATTEND_ONE)                                                                                  \
    const long stride = (first_count + rows - 1 + LANES - 1) & ~(long)(LANES - 1);                                  \
    for (long r = 0; r < rows; r++)                                                                                 \
        ATTEND_ONE(q + r * q_row_stride, q_head_stride, heads, keys, values, first_count + r, head_dim, scale,      \
                   scores + r * heads * stride, out + r * out_row_stride, out_head_stride);

static void attend_rows_portable(ROW_PARAMETERS) { ROWS_ONE_BY_ONE(attend_portable) }
#if defined(__x86_64__)
SPECULATORS_AVX2 static void attend_rows_avx2(ROW_PARAMETERS) { ROWS_ONE_BY_ONE(attend_avx2) }

/// The rows' scores block by block, so that each block of sixteen keys is read once for every
/// row and head (from L2, then L1) instead of once per row. Each score is computed exactly as
/// `scores_of_heads_wide` computes it for that row alone: a block the row sees whole takes the
/// block path, the row's last partial block the one-key path.
SPECULATORS_AVX512 static void attend_rows_avx512(ROW_PARAMETERS) {
    const long last_count = first_count + rows - 1;
    const long stride = (last_count + LANES - 1) & ~(long)(LANES - 1);
    for (long j = 0; j < last_count; j += LANES) {
        for (long r = 0; r < rows; r++) {
            const long count = first_count + r;
            if (j >= count) continue;
            const float *query = q + r * q_row_stride;
            float *row_scores = scores + r * heads * stride;
            if (j + LANES <= count) {
                scores_of_block(query, q_head_stride, heads, keys + j * head_dim, head_dim, scale, row_scores + j, stride);
            } else {
                for (long h = 0; h < heads; h++)
                    scores_of(query + h * q_head_stride, keys + j * head_dim, count - j, head_dim, scale,
                              row_scores + h * stride + j);
            }
        }
    }
    for (long r = 0; r < rows; r++)
        finish(heads, values, first_count + r, head_dim, scores + r * heads * stride, stride, out + r * out_row_stride,
               out_head_stride);
}
#endif

void speculators_attend_rows_using(int code, ROW_PARAMETERS) {
    if (heads <= 0 || rows <= 0 || first_count <= 0) return;
#define ROW_ARGUMENTS                                                                                               \
    q, q_row_stride, q_head_stride, heads, rows, keys, values, first_count, head_dim, scale, scores, out,           \
        out_row_stride, out_head_stride
#if defined(__x86_64__)
    switch (speculators_isa_for(code)) {
    case 2: attend_rows_avx512(ROW_ARGUMENTS); return;
    case 1: attend_rows_avx2(ROW_ARGUMENTS); return;
    default: break;
    }
#endif
    attend_rows_portable(ROW_ARGUMENTS);
}
