// The vector types and the shared pieces of arithmetic of the batch-invariant kernels
// (small_batch.c, attention.c): one definition of the order their sums follow.
#ifndef SPECULATORS_KERNEL_VECTORS_H
#define SPECULATORS_KERNEL_VECTORS_H

#include <stdint.h>
#include <string.h>

typedef float v16 __attribute__((ext_vector_type(16)));
typedef float v8 __attribute__((ext_vector_type(8)));
typedef float v4 __attribute__((ext_vector_type(4)));
typedef float v2 __attribute__((ext_vector_type(2)));
typedef uint16_t h16 __attribute__((ext_vector_type(16)));
typedef uint32_t u16 __attribute__((ext_vector_type(16)));
typedef int32_t i16 __attribute__((ext_vector_type(16)));

/// Floats per vector of the kernels' sums.
enum { LANES = 16 };

#define INLINE static inline __attribute__((always_inline))

// Every function taking or returning a vector is inlined into one of a kernel's three variants
// (AVX-512, AVX2, portable), so no vector ever crosses a call and the ABI warning for 16-lane
// vectors outside AVX-512 code does not apply.
#pragma clang diagnostic ignored "-Wpsabi"
// No a·b + c may become a fused multiply-add behind our back: with contraction the compiler fuses
// only where the target has FMA, and the portable variant would then round differently.
#pragma clang fp contract(off)

/// `B(take)` with `take` (1 to 12 rows, more taken as 12) as a compile-time constant, so that
/// the streaming kernels' blocks keep their accumulators in registers.
#define FOR_ROW_COUNT(take, B)           \
    switch (take) {                      \
    case 1: B(1); break;                 \
    case 2: B(2); break;                 \
    case 3: B(3); break;                 \
    case 4: B(4); break;                 \
    case 5: B(5); break;                 \
    case 6: B(6); break;                 \
    case 7: B(7); break;                 \
    case 8: B(8); break;                 \
    case 9: B(9); break;                 \
    case 10: B(10); break;               \
    case 11: B(11); break;               \
    default: B(12); break;               \
    }

INLINE v16 load16(const float *p) {
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

INLINE void store16(float *p, v16 v) { memcpy(p, &v, sizeof v); }

/// The lanes summed by halves: lane i + lane i+8, then i+4, i+2, i+1.
INLINE float reduce16(v16 v) {
    v8 a = v.lo + v.hi;
    v4 b = a.lo + a.hi;
    v2 c = b.lo + b.hi;
    return c.x + c.y;
}

/// Sixteen vectors reduced together, `sums[i]` being exactly `reduce16(v[i])`:
/// each halving step runs on a pair of vectors, two shuffles and one addition giving both their
/// partial sums, so the sixteen take 15 additions and 31 shuffles, where sixteen `reduce16`s take
/// about 8 operations each. (In the streaming kernels' blocks of eight rows, the reductions
/// after every pair of weight rows cost about a tenth of the arithmetic.)
INLINE void reduce16x16(const v16 *v, float *sums) {
    v16 s[8], t[4], u[2];
    for (int p = 0; p < 8; p++) {   // lane i + lane i+8: the low halves of a and b, then the high ones
        const v16 a = v[2 * p], b = v[2 * p + 1];
        s[p] = __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)
             + __builtin_shufflevector(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    }
    for (int p = 0; p < 4; p++) {   // + i+4: s holds two 8-lane partials, t four 4-lane ones
        const v16 a = s[2 * p], b = s[2 * p + 1];
        t[p] = __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27)
             + __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    }
    for (int p = 0; p < 2; p++) {   // + i+2, within each 128-bit quarter
        const v16 a = t[2 * p], b = t[2 * p + 1];
        u[p] = __builtin_shufflevector(a, b, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29)
             + __builtin_shufflevector(a, b, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
    }
    const v16 r = __builtin_shufflevector(u[0], u[1], 0, 2, 16, 18, 4, 6, 20, 22, 8, 10, 24, 26, 12, 14, 28, 30)
                + __builtin_shufflevector(u[0], u[1], 1, 3, 17, 19, 5, 7, 21, 23, 9, 11, 25, 27, 13, 15, 29, 31);
    // r holds v[4·m + q]'s sum at element 4·q + m. (Stored rather than returned: a 16-lane vector
    // may not be returned to the AVX-512 code of attention.c from a function without its target.)
    store16(sums, __builtin_shufflevector(r, r, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
}

/// A streaming block's accumulators reduced sixteen at a time: `sums[r · W + c] =
/// reduce16(acc[c · stride + r])` for W weight rows c and R input rows r, W · R at most 32.
INLINE void reduce_accumulators(const v16 *acc, long stride, int W, int R, float *sums) {
    v16 all[32];
    const int count = W * R, padded = (count + 15) / 16 * 16;
    for (int r = 0; r < R; r++)
        for (int c = 0; c < W; c++) all[r * W + c] = acc[c * stride + r];
    for (int i = count; i < padded; i++) all[i] = (v16)(0.0f);
    for (int base = 0; base < count; base += 16) reduce16x16(all + base, sums + base);
}

#endif
