// Whether a pass of a few rows asks for its weights in software, chosen by timing both ways
// while serving (small_batch.c).
//
// Up to four rows, the hardware prefetchers alone streamed SmolLM2's weights fastest on the Zen 5
// these kernels were tuned on while its memory was quiet (2 and 4 rows 11-13% slower with
// software prefetch). When the machine's other tenants load the memory, the same passes keep
// too few lines in flight without it: 4 rows took 1.4-1.6 times one row, against 1.07-1.12
// with software prefetch in the same runs. Neither choice is right on every machine or in
// every minute, and both give the same bits, so each thread measures both: most calls take
// the cheaper so far, every EXPLORE_EVERY-th call the other one.
#ifndef SPECULATORS_PREFETCH_TUNER_H
#define SPECULATORS_PREFETCH_TUNER_H

#include <time.h>

enum {
    /// Passes of up to this many rows are tuned; larger ones always prefetch in software.
    TUNED_ROWS = 4,
    /// One call in this many runs the policy not currently chosen, so that a change of the
    /// machine's state is noticed: at most a sixteenth of the difference is lost to it.
    EXPLORE_EVERY = 16,
};

/// What one thread has measured for passes of one row count and weight type: cycles and
/// weight bytes per policy (0: hardware prefetchers alone, 1: software prefetch too), both sums
/// decaying by PREFETCH_TUNER_DECAY per call of the policy, so that they follow its last few
/// dozen calls; the calls counted, and the policy chosen now.
typedef struct {
    double cycles[2];
    double bytes[2];
    unsigned calls;
    int current;
} prefetch_tuner;

/// A policy's sums are multiplied by this at each of its calls (about 32 calls remembered).
static const double PREFETCH_TUNER_DECAY = 31.0 / 32.0;
/// The other policy takes over when it costs less than this share of the current one's cycles
/// per byte: calls of different matrices vary, and switching on noise would cost the explored
/// policy's difference on every call.
static const double PREFETCH_TUNER_SWITCH = 0.97;

/// The policy for the next call: the current one, or every EXPLORE_EVERY-th call the other.
static inline int prefetch_tuner_choose(prefetch_tuner *tuner) {
    tuner->calls++;
    return tuner->calls % EXPLORE_EVERY == 0 ? 1 - tuner->current : tuner->current;
}

/// Folds in a call of `policy` that took `cycles` for `bytes` weight bytes, and switches policy
/// when the other one has become clearly cheaper.
static inline void prefetch_tuner_record(prefetch_tuner *tuner, int policy, double cycles, double bytes) {
    if (!(cycles > 0) || !(bytes > 0)) return;
    tuner->cycles[policy] = tuner->cycles[policy] * PREFETCH_TUNER_DECAY + cycles;
    tuner->bytes[policy] = tuner->bytes[policy] * PREFETCH_TUNER_DECAY + bytes;
    const int current = tuner->current, other = 1 - current;
    if (tuner->bytes[other] > 0 && tuner->bytes[current] > 0 &&
        tuner->cycles[other] / tuner->bytes[other] <
            PREFETCH_TUNER_SWITCH * (tuner->cycles[current] / tuner->bytes[current]))
        tuner->current = other;
}

/// A cycle count for timing one call (the time-stamp counter on x86-64, nanoseconds elsewhere).
static inline double prefetch_tuner_clock(void) {
#if defined(__x86_64__)
    return (double)__builtin_ia32_rdtsc();
#else
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1e9 + (double)now.tv_nsec;
#endif
}

#endif
