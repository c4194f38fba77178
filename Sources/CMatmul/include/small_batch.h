// The batch-invariant weight-streaming product for decoding and verification (a few rows against
// a large weight matrix read once), see small_batch.c and Tensors/SmallBatchProduct.swift.
//
// Every output element is accumulated in one fixed order, whatever the number of rows, the row's
// place in the batch, the column range or the instruction set the CPU offers: 16-float chunks in
// sequence into one 16-lane accumulator with fused multiply-adds, the lanes summed by halves
// (lane i + lane i+8, then +4, +2, +1), then the leftover elements in order with fused
// multiply-adds. So a token's logits have the same bits alone, in a verification chunk or in a
// batch, which is what makes greedy speculative decoding emit exactly plain decoding's tokens.
#ifndef SPECULATORS_SMALL_BATCH_H
#define SPECULATORS_SMALL_BATCH_H

#ifdef __cplusplus
extern "C" {
#endif

/// Which code this CPU runs: 2 = AVX-512 (one 16-lane register per accumulator), 1 = AVX2 with
/// FMA (two 8-lane halves), 0 = portable C. All three give the same bits.
int speculators_small_batch_isa(void);

/// `y[r · ldy + n] = Σ_i x[r · ldx + i] · W(n, i)` for rows r < `rows` and columns n in
/// [`column_begin`, `column_end`), where row n of W starts `n · k` elements into `weight`:
/// float32 elements when `bf16` is 0, bfloat16 (the upper halves of float32s) when it is 1.
/// bfloat16 weights give the bits float32 weights holding the same values give.
void speculators_small_batch(const float *x, long rows, long ldx, const void *weight, int bf16, long k,
                             long column_begin, long column_end, float *y, long ldy);

/// One element of that product: `Σ_i x[i] · w[i]` for `k` elements, in the same order.
float speculators_small_batch_dot(const float *x, const void *w, int bf16, long k);

/// The same two, computed with the code for instruction set `isa` (or the best this CPU runs, if
/// lower): for tests that check the three give the same bits, and for benchmarks.
void speculators_small_batch_using(int isa, const float *x, long rows, long ldx, const void *weight, int bf16,
                                   long k, long column_begin, long column_end, float *y, long ldy);
float speculators_small_batch_dot_using(int isa, const float *x, const void *w, int bf16, long k);

/// Makes this product, its dot and the attention kernel use at most instruction set `isa` from
/// now on, process-wide (2, the default, lets them use the best the CPU has): for benchmarks that
/// compare the variants in one run.
void speculators_kernels_limit_isa(int isa);

/// For tests of the prefetch tuner (prefetch_tuner.h): `calls` calls in which a byte costs
/// `hardware_cost` cycles with the hardware prefetchers alone and `software_cost` with software
/// prefetch too, from a fresh tuner. Returns the policy it ends on (1: software) and writes how
/// many calls prefetched in software.
int speculators_prefetch_tuner_simulate(double hardware_cost, double software_cost, long calls,
                                        long *software_calls);

/// Weight bytes a tile holds: the rows past the first group of a multi-group pass re-read a
/// tile from L2 instead of memory.
long speculators_small_batch_tile_bytes(void);

#ifdef __cplusplus
}
#endif

#endif
