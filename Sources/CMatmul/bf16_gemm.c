// Blocked bfloat16 GEMM (see include/bf16_gemm.h). The structure is the usual one for a packed
// GEMM: a block of B (KC x NC) is packed to bfloat16 pairs and kept in L2, a block of A
// (MC x KC) is packed and kept in L1/L2, and a 12 x 32 register tile of C is accumulated by
// broadcasting one (A(i, 2q), A(i, 2q+1)) pair against 32 columns' (B(2q, j), B(2q+1, j)) pairs.
#include "bf16_gemm.h"
#include "thread_block.h"

#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

enum {
    MR = 12,    // rows of the register tile
    NR = 32,    // columns of the register tile (two 16-lane vectors)
    KC = 384,   // k values per block (192 pairs): a B panel of 24 KiB stays in L1
    MC = 96,    // rows per packed A block (8 register tiles)
    NC = 1024,  // columns per packed B block (768 KiB at KC = 384, in the 1 MiB L2)
};

int speculators_bf16_gemm_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
}

/// The bfloat16 nearest to `f` (ties to even), as PyTorch rounds; NaN stays a quiet NaN.
/// Subnormals become zero, as `vcvtneps2bf16` makes them, so that the scalar edges and the vector
/// body of a pack round alike.
static inline uint32_t bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) == 0) return (u >> 16) & 0x8000u;
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

/// The 32-bit lane `vdpbf16ps` multiplies: element 2q in the low half, element 2q+1 in the high.
static inline uint32_t pair(float even, float odd) { return bf16(even) | (bf16(odd) << 16); }

/// Sixteen pair words from sixteen `even` and sixteen `odd` values (lane j: even[j], odd[j]).
TARGET static inline __m512i pairs16(__m512 even, __m512 odd) {
    __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(even));
    __m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(odd));
    return _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
}

/// `count` contiguous floats as pair words (count/2 rounded up; an odd last value pairs with 0).
/// Thirty-two floats make sixteen words in one conversion: in memory order, bfloat16 element
/// 2q is the low half of word q.
TARGET static void row_pairs(const float *x, long count, uint32_t *words) {
    long i = 0;
    for (; i + 32 <= count; i += 32) {
        __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
        _mm512_storeu_si512((void *)(words + i / 2), (__m512i)h);
    }
    for (; i + 1 < count; i += 2) words[i / 2] = pair(x[i], x[i + 1]);
    if (i < count) words[i / 2] = pair(x[i], 0);
}

/// Per-thread packing buffers, allocated once per thread and freed when it ends (64-byte aligned
/// for the vector loads).
typedef struct {
    uint32_t *packed_a;
    uint32_t *packed_b;
    uint32_t *row_panels;
    long row_panel_words;
} ThreadBuffers;

static pthread_key_t buffers_key;
static pthread_once_t buffers_once = PTHREAD_ONCE_INIT;

static void free_buffers(void *pointer) {
    ThreadBuffers *buffers = pointer;
    free(buffers->packed_a);
    free(buffers->packed_b);
    free(buffers->row_panels);
    free(buffers);
}

static void make_buffers_key(void) { pthread_key_create(&buffers_key, free_buffers); }

static ThreadBuffers *thread_buffers(void) {
    return speculators_thread_block(&buffers_key, &buffers_once, make_buffers_key, sizeof(ThreadBuffers));
}

static ThreadBuffers *ensure_buffers(void) {
    ThreadBuffers *buffers = thread_buffers();
    if (!buffers) return NULL;
    if (!buffers->packed_a) buffers->packed_a = aligned_alloc(64, sizeof(uint32_t) * MC * (KC / 2));
    if (!buffers->packed_b) buffers->packed_b = aligned_alloc(64, sizeof(uint32_t) * NC * (KC / 2));
    return buffers->packed_a && buffers->packed_b ? buffers : NULL;
}

/// Rows [0, mc) x k values [0, kc) of A (already offset) as MR-row panels of pairs, zero-padded
/// to whole panels and to an even kc.
TARGET static void pack_a(const float *a, long a_row, long a_col, long mc, long kc, uint32_t *out) {
    long pairs = (kc + 1) / 2;
    uint32_t words[KC / 2];
    for (long panel = 0; panel < mc; panel += MR) {
        long rows = mc - panel < MR ? mc - panel : MR;
        if (a_row == 1) {
            // Rows are contiguous along i: each pair step is two rows of the stored matrix.
            __mmask16 mask = (__mmask16)((1u << rows) - 1);
            const float *base = a + panel;
            for (long q = 0; q < pairs; q++) {
                const float *even = base + 2 * q * a_col;
                __m512 e = _mm512_maskz_loadu_ps(mask, even);
                __m512 o = 2 * q + 1 < kc ? _mm512_maskz_loadu_ps(mask, even + a_col) : _mm512_setzero_ps();
                _mm512_mask_storeu_epi32(out + q * MR, 0x0fff, pairs16(e, o));
            }
        } else {
            for (long r = 0; r < MR; r++) {
                uint32_t *dst = out + r;
                if (r >= rows) {
                    for (long q = 0; q < pairs; q++) dst[q * MR] = 0;
                    continue;
                }
                const float *row = a + (panel + r) * a_row;
                if (a_col == 1) {
                    row_pairs(row, kc, words);
                    for (long q = 0; q < pairs; q++) dst[q * MR] = words[q];
                } else {
                    long q = 0;
                    for (; 2 * q + 1 < kc; q++) dst[q * MR] = pair(row[2 * q * a_col], row[(2 * q + 1) * a_col]);
                    if (q < pairs) dst[q * MR] = pair(row[2 * q * a_col], 0);
                }
            }
        }
        out += pairs * MR;
    }
}

/// k values [0, kc) x columns [0, nc) of B (already offset) as NR-column panels of pairs.
TARGET static void pack_b(const float *b, long b_row, long b_col, long kc, long nc, uint32_t *out) {
    long pairs = (kc + 1) / 2;
    uint32_t words[KC / 2];
    for (long panel = 0; panel < nc; panel += NR) {
        long cols = nc - panel < NR ? nc - panel : NR;
        const float *base = b + panel * b_col;
        if (b_col == 1) {
            // Columns are contiguous: each pair step is two rows of the stored matrix.
            __mmask16 m0 = cols >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << cols) - 1);
            __mmask16 m1 = cols >= 32 ? (__mmask16)0xffff : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
            for (long q = 0; q < pairs; q++) {
                const float *even = base + 2 * q * b_row;
                int has_odd = 2 * q + 1 < kc;
                __m512 e0 = _mm512_maskz_loadu_ps(m0, even), e1 = _mm512_maskz_loadu_ps(m1, even + 16);
                __m512 o0 = has_odd ? _mm512_maskz_loadu_ps(m0, even + b_row) : _mm512_setzero_ps();
                __m512 o1 = has_odd ? _mm512_maskz_loadu_ps(m1, even + b_row + 16) : _mm512_setzero_ps();
                _mm512_store_si512((void *)(out + q * NR), pairs16(e0, o0));
                _mm512_store_si512((void *)(out + q * NR + 16), pairs16(e1, o1));
            }
        } else {
            for (long j = 0; j < NR; j++) {
                uint32_t *dst = out + j;
                if (j >= cols) {
                    for (long q = 0; q < pairs; q++) dst[q * NR] = 0;
                    continue;
                }
                const float *column = base + j * b_col;
                if (b_row == 1) {
                    row_pairs(column, kc, words);
                    for (long q = 0; q < pairs; q++) dst[q * NR] = words[q];
                } else {
                    long q = 0;
                    for (; 2 * q + 1 < kc; q++) dst[q * NR] = pair(column[2 * q * b_row], column[(2 * q + 1) * b_row]);
                    if (q < pairs) dst[q * NR] = pair(column[2 * q * b_row], 0);
                }
            }
        }
        out += pairs * NR;
    }
}

/// One R x NR tile (R <= MR rows of a packed A panel, whose rows are MR words apart): `pairs`
/// steps of broadcast-A x B-panel dot products, then written to C (`cols` columns of it):
/// C = acc (first block, beta 0), beta·C + acc (first block), C + acc. R is a constant in every
/// caller (`tile`'s switch), so each row count gets its own unrolled body: a 1-row product (a
/// decode step) runs 2 instead of 24 `vdpbf16ps` per step. Each lane's sum does not depend on R.
TARGET static inline __attribute__((always_inline)) void tile_rows(
    const int R, long pairs, const uint32_t *a, const uint32_t *b, float *c, long ldc, long cols, int first, float beta) {
    __m512 acc[MR][2];
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
        if (r >= R) break;
        acc[r][0] = _mm512_setzero_ps();
        acc[r][1] = _mm512_setzero_ps();
    }
    for (long q = 0; q < pairs; q++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512((const void *)b);
        __m512bh b1 = (__m512bh)_mm512_load_si512((const void *)(b + 16));
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            if (r >= R) break;
            __m512bh ar = (__m512bh)_mm512_set1_epi32((int)a[r]);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], ar, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], ar, b1);
        }
        a += MR;
        b += NR;
    }
    __mmask16 m0 = cols >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << cols) - 1);
    __mmask16 m1 = cols >= 32 ? (__mmask16)0xffff : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
    __m512 vbeta = _mm512_set1_ps(beta);
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
        if (r >= R) break;
        float *row = c + r * ldc;
        __m512 v0 = acc[r][0], v1 = acc[r][1];
        if (!first) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, row));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, row + 16));
        } else if (beta != 0) {
            v0 = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(m0, row), v0);
            v1 = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(m1, row + 16), v1);
        }
        _mm512_mask_storeu_ps(row, m0, v0);
        _mm512_mask_storeu_ps(row + 16, m1, v1);
    }
}

/// `tile_rows` for the `rows` (1 to MR) the tile has.
TARGET static void tile(long pairs, const uint32_t *a, const uint32_t *b, float *c, long ldc,
                        long rows, long cols, int first, float beta) {
    switch (rows) {
    case 1: tile_rows(1, pairs, a, b, c, ldc, cols, first, beta); break;
    case 2: tile_rows(2, pairs, a, b, c, ldc, cols, first, beta); break;
    case 3: tile_rows(3, pairs, a, b, c, ldc, cols, first, beta); break;
    case 4: tile_rows(4, pairs, a, b, c, ldc, cols, first, beta); break;
    case 5: tile_rows(5, pairs, a, b, c, ldc, cols, first, beta); break;
    case 6: tile_rows(6, pairs, a, b, c, ldc, cols, first, beta); break;
    case 7: tile_rows(7, pairs, a, b, c, ldc, cols, first, beta); break;
    case 8: tile_rows(8, pairs, a, b, c, ldc, cols, first, beta); break;
    case 9: tile_rows(9, pairs, a, b, c, ldc, cols, first, beta); break;
    case 10: tile_rows(10, pairs, a, b, c, ldc, cols, first, beta); break;
    case 11: tile_rows(11, pairs, a, b, c, ldc, cols, first, beta); break;
    default: tile_rows(MR, pairs, a, b, c, ldc, cols, first, beta); break;
    }
}

long speculators_bf16_packed_words(long k, long n) { return (n + NR - 1) / NR * ((k + 1) / 2) * NR; }

void speculators_bf16_pack(long k, long n, const float *b, long b_row, long b_col, uint32_t *out) {
    long pairs = (k + 1) / 2;
    for (long panel = 0; panel * NR < n; panel++) {
        long cols = n - panel * NR < NR ? n - panel * NR : NR;
        // In KC blocks (pack_b's conversion buffer holds KC values); KC is even, so every block
        // starts on a pair and the panel's pairs stay contiguous.
        for (long pc = 0; pc < k; pc += KC) {
            long kc = k - pc < KC ? k - pc : KC;
            pack_b(b + pc * b_row + panel * NR * b_col, b_row, b_col, kc, cols, out + panel * pairs * NR + (pc / 2) * NR);
        }
    }
}

void speculators_bf16_gemm_packed(long m, long n, long k, const float *a, long a_row, long a_col,
                                  const uint32_t *packed, long packed_pairs, float beta, float *c, long ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return;
    }
    ThreadBuffers *buffers = ensure_buffers();
    if (!buffers) abort();  // as in speculators_bf16_gemm
    uint32_t *packed_a = buffers->packed_a;
    for (long pc = 0; pc < k; pc += KC) {
        long kc = k - pc < KC ? k - pc : KC;
        long pairs = (kc + 1) / 2;
        for (long ic = 0; ic < m; ic += MC) {
            long mc = m - ic < MC ? m - ic : MC;
            pack_a(a + ic * a_row + pc * a_col, a_row, a_col, mc, kc, packed_a);
            for (long jr = 0; jr < n; jr += NR) {
                const uint32_t *bp = packed + (jr / NR) * packed_pairs * NR + (pc / 2) * NR;
                long cols = n - jr < NR ? n - jr : NR;
                for (long ir = 0; ir < mc; ir += MR) {
                    long rows = mc - ir < MR ? mc - ir : MR;
                    tile(pairs, packed_a + (ir / MR) * pairs * MR, bp, c + (ic + ir) * ldc + jr, ldc, rows, cols, pc == 0, beta);
                }
            }
        }
    }
}

/// A's rows for `speculators_bf16_gemm_packed_rows`, grown as needed (per thread, kept).

void speculators_bf16_gemm_packed_rows(long m, long n, long k, const float *a, long lda,
                                       const uint32_t *packed, long packed_pairs, float *c, long ldc) {
    if (m <= 0 || n <= 0) return;
    long pairs = (k + 1) / 2;
    long groups = (m + MR - 1) / MR;
    long words = groups * pairs * MR;
    ThreadBuffers *buffers = thread_buffers();
    if (!buffers) abort();  // as in speculators_bf16_gemm
    if (words > buffers->row_panel_words) {
        free(buffers->row_panels);
        buffers->row_panels = aligned_alloc(64, (size_t)((words * 4 + 63) / 64 * 64));
        buffers->row_panel_words = buffers->row_panels ? words : 0;
        if (!buffers->row_panels) abort();  // as in speculators_bf16_gemm
    }
    uint32_t *row_panels = buffers->row_panels;
    for (long g = 0; g < groups; g++) {
        uint32_t *panel = row_panels + g * pairs * MR;
        for (long r = 0; r < MR; r++) {
            long i = g * MR + r;
            if (i >= m) {
                for (long q = 0; q < pairs; q++) panel[q * MR + r] = 0;
                continue;
            }
            const float *row = a + i * lda;
            for (long q = 0; q < pairs; q++) panel[q * MR + r] = pair(row[2 * q], 2 * q + 1 < k ? row[2 * q + 1] : 0);
        }
    }
    for (long jr = 0; jr < n; jr += NR) {
        const uint32_t *bp = packed + (jr / NR) * packed_pairs * NR;
        long cols = n - jr < NR ? n - jr : NR;
        for (long g = 0; g < groups; g++) {
            long rows = m - g * MR < MR ? m - g * MR : MR;
            tile(pairs, row_panels + g * pairs * MR, bp, c + g * MR * ldc + jr, ldc, rows, cols, 1, 0);
        }
    }
}

void speculators_bf16_gemm(long m, long n, long k,
                           const float *a, long a_row, long a_col,
                           const float *b, long b_row, long b_col,
                           float beta, float *c, long ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return;
    }
    ThreadBuffers *buffers = ensure_buffers();
    if (!buffers) abort();  // a 50 KiB + 768 KiB allocation per thread, once
    uint32_t *packed_a = buffers->packed_a, *packed_b = buffers->packed_b;
    for (long jc = 0; jc < n; jc += NC) {
        long nc = n - jc < NC ? n - jc : NC;
        for (long pc = 0; pc < k; pc += KC) {
            long kc = k - pc < KC ? k - pc : KC;
            long pairs = (kc + 1) / 2;
            pack_b(b + pc * b_row + jc * b_col, b_row, b_col, kc, nc, packed_b);
            for (long ic = 0; ic < m; ic += MC) {
                long mc = m - ic < MC ? m - ic : MC;
                pack_a(a + ic * a_row + pc * a_col, a_row, a_col, mc, kc, packed_a);
                for (long jr = 0; jr < nc; jr += NR) {
                    const uint32_t *bp = packed_b + (jr / NR) * pairs * NR;
                    long cols = nc - jr < NR ? nc - jr : NR;
                    for (long ir = 0; ir < mc; ir += MR) {
                        long rows = mc - ir < MR ? mc - ir : MR;
                        tile(pairs, packed_a + (ir / MR) * pairs * MR, bp, c + (ic + ir) * ldc + jc + jr, ldc,
                             rows, cols, pc == 0, beta);
                    }
                }
            }
        }
    }
}
