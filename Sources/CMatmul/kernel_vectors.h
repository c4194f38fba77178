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

#endif
