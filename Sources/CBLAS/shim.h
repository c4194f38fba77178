// OpenBLAS's CBLAS interface (Debian: libopenblas-dev).
#include <cblas.h>

/// 1 when this CPU runs the AVX-512 subsets OpenBLAS's SkylakeX kernels use (F, CD, BW, DQ, VL):
/// `bench verifier` then notes an environment that pins OpenBLAS to AVX2 kernels.
static inline int speculators_cpu_runs_skylakex_kernels(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}
