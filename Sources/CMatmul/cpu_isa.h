// Which of the kernels' three code variants this CPU runs (shared by small_batch.c and
// attention.c): 2 = AVX-512 (F, VL, DQ, BW), 1 = AVX2 with FMA, 0 = portable C.
#ifndef SPECULATORS_CPU_ISA_H
#define SPECULATORS_CPU_ISA_H

static int speculators_detect_isa(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

/// The highest variant the kernels may use (`speculators_kernels_limit_isa`, small_batch.c).
extern int speculators_isa_limit;

/// Found once per file (a race between first callers stores the same value), capped by the limit.
static int speculators_isa(void) {
    static int found = -1;
    int value = __atomic_load_n(&found, __ATOMIC_RELAXED);
    if (value < 0) {
        value = speculators_detect_isa();
        __atomic_store_n(&found, value, __ATOMIC_RELAXED);
    }
    const int limit = __atomic_load_n(&speculators_isa_limit, __ATOMIC_RELAXED);
    return value < limit ? value : limit;
}

/// The variant to run for a request of `requested`: it, or the best allowed here if lower.
static int speculators_isa_for(int requested) {
    const int best = speculators_isa();
    return requested < best ? requested : best;
}

#define SPECULATORS_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))
#define SPECULATORS_AVX2 __attribute__((target("avx2,fma")))

#endif
