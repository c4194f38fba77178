// Decode and verification attention (see attention.c and Models/DecoderLayer.swift).
#ifndef SPECULATORS_ATTENTION_H
#define SPECULATORS_ATTENTION_H

#ifdef __cplusplus
extern "C" {
#endif

/// Attention of `heads` query heads that share one key/value head, for one query row:
/// `out_h = softmax(scale · q_h · Kᵀ) · V` over `count` cached positions (`keys` and `values` are
/// `count` rows of `head_dim` floats). Query head h starts `h · q_head_stride` floats after `q`,
/// its output `h · out_head_stride` after `out`. `scores` is scratch of `heads · ((count + 15) & ~15)`
/// floats. `head_dim` must be a multiple of 16.
///
/// Each head's numbers do not depend on `heads` (how many heads share the call), on other rows or
/// on the instruction set: a score is 16-lane fused multiply-adds over the head dimension summed
/// by halves, times `scale`; the softmax takes `exp` as `Kernels.exp` does and sums in 16 lanes
/// summed by halves; each output element is a fused multiply-add chain over positions in order.
void speculators_attend(const float *q, long q_head_stride, long heads, const float *keys, const float *values,
                        long count, long head_dim, float scale, float *scores, float *out, long out_head_stride);

/// The same with the code for instruction set `isa` (2 AVX-512, 1 AVX2, 0 portable; the best
/// this CPU has if lower), for tests.
void speculators_attend_using(int isa, const float *q, long q_head_stride, long heads, const float *keys,
                              const float *values, long count, long head_dim, float scale, float *scores, float *out,
                              long out_head_stride);

/// `speculators_attend_using` for `rows` consecutive query rows of one sequence (row r `r ·
/// q_row_stride` floats after `q`, its output `r · out_row_stride` after `out`), row r over the
/// first `first_count + r` cached positions (a causal chunk). Every row's numbers are those the
/// single-row call gives it; the AVX-512 code reads each block of keys once for all rows.
/// `scores` is scratch of `rows · heads · ((first_count + rows - 1 + 15) & ~15)` floats.
void speculators_attend_rows_using(int isa, const float *q, long q_row_stride, long q_head_stride, long heads,
                                   long rows, const float *keys, const float *values, long first_count, long head_dim,
                                   float scale, float *scores, float *out, long out_row_stride, long out_head_stride);

#ifdef __cplusplus
}
#endif

#endif
