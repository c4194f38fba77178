// A bfloat16 matrix product for training: float32 operands are rounded to bfloat16 while they are
// packed, products are summed in float32 (AVX-512 BF16 `vdpbf16ps`, two products per lane per
// instruction: twice the multiply-adds of a float32 FMA on the same hardware).
//
// Single-threaded, like the BLAS calls it stands in for: callers split the output over their
// own thread pool. Deterministic: the result depends only on the operands and the shape.
#ifndef SPECULATORS_BF16_GEMM_H
#define SPECULATORS_BF16_GEMM_H

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when this CPU executes AVX-512 BF16 (`vdpbf16ps`), else 0 (callers then use float32 BLAS).
int speculators_bf16_gemm_supported(void);

/// `c[i, j] = beta · c[i, j] + Σ_p A(i, p) · B(p, j)` for i < m, j < n, p < k, where
/// `A(i, p) = a[i · a_row + p · a_col]` and `B(p, j) = b[p · b_row + j · b_col]` (any strides, so
/// either operand may be transposed) and `c` is row-major with leading dimension `ldc`.
/// A and B are rounded to bfloat16 (to nearest, ties to even); sums are float32. With beta = 0,
/// `c` is not read. Must only be called when `speculators_bf16_gemm_supported()` is 1.
void speculators_bf16_gemm(long m, long n, long k,
                           const float *a, long a_row, long a_col,
                           const float *b, long b_row, long b_col,
                           float beta, float *c, long ldc);

/// Words (uint32) of `B` (k x n) packed once for `speculators_bf16_gemm_packed`.
long speculators_bf16_packed_words(long k, long n);

/// Packs `B(p, j) = b[p · b_row + j · b_col]` (k x n) to bfloat16 pairs in 32-column panels of
/// all `(k + 1) / 2` pairs each, for a matrix used many times (a layer's weights).
void speculators_bf16_pack(long k, long n, const float *b, long b_row, long b_col, unsigned int *out);

/// `speculators_bf16_gemm` with B packed beforehand: `packed` points at the panel of the first of
/// the n columns (columns `32·i` onwards of the packed matrix), `packed_pairs` is the packed
/// matrix's `(k + 1) / 2`. The same result as packing on the fly, without re-reading B as float32.
void speculators_bf16_gemm_packed(long m, long n, long k, const float *a, long a_row, long a_col,
                                  const unsigned int *packed, long packed_pairs, float beta, float *c, long ldc);

/// `speculators_bf16_gemm_packed` (beta 0) for row-major A (`lda` apart) without blocking k:
/// every packed 32-column panel is read once, front to back, for all m rows (12 at a time from
/// L1). For a few rows (decode and verification steps) this streams the packed matrix at memory
/// speed, where the blocked version re-reads panels per k block and computes 12-row tiles.
void speculators_bf16_gemm_packed_rows(long m, long n, long k, const float *a, long lda,
                                       const unsigned int *packed, long packed_pairs, float *c, long ldc);

#ifdef __cplusplus
}
#endif

#endif
