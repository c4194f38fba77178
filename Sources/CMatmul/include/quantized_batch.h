// The batch-invariant product against quantised weights, dequantised exactly on the fly (see
// quantized_batch.c and Tensors/QuantizedWeights.swift).
//
// A GGUF file stores most of a model's matrices in blocks of 32 weights with half-precision
// scales. For Q4_1 (weight = d·q + m, q a 4-bit integer) and Q8_0 (weight = d·q, q an 8-bit
// integer) every weight is one correctly rounded float32 operation of exact operands, and d·q is
// exact, so fma(d, q, m) and d·q give exactly the float32 values the loader's dequantisation
// stores. This product computes those values in registers and then accumulates precisely as
// speculators_small_batch does (small_batch.h): every output has the bits the float32 product
// gives, for any number of rows and any instruction set, while memory carries 0.75 (Q4_1) or
// 1.125 (Q8_0) bytes per weight instead of 4.
#ifndef SPECULATORS_QUANTIZED_BATCH_H
#define SPECULATORS_QUANTIZED_BATCH_H

#ifdef __cplusplus
extern "C" {
#endif

/// Block formats: 0 = Q4_1, 1 = Q8_0.
enum { SPECULATORS_QUANT_Q4_1 = 0, SPECULATORS_QUANT_Q8_0 = 1 };

/// Bytes of one block of 32 weights as a GGUF file stores it (Q4_1: 20, Q8_0: 34) and as the
/// kernel reads it, its scales widened to float32 (Q4_1: 24, Q8_0: 36); 0 for an unknown format.
long speculators_quantized_stored_block_bytes(int format);
long speculators_quantized_packed_block_bytes(int format);

/// Converts `blocks` stored blocks to packed blocks.
void speculators_quantized_pack(int format, const void *stored, long blocks, void *packed);

/// The float32 values of `blocks` packed blocks (32 per block), as the kernel computes them.
void speculators_quantized_dequantize(int format, const void *packed, long blocks, float *out);

/// `y[r · ldy + n] = Σ_i x[r · ldx + i] · W(n, i)` for rows r < `rows` and columns n in
/// [`column_begin`, `column_end`), where row n of W is `k / 32` packed blocks starting
/// `n · (k / 32) · packed_block_bytes` into `packed`; `k` is a multiple of 32. Bit for bit what
/// speculators_small_batch gives with the dequantised float32 weights.
void speculators_quantized_batch(const float *x, long rows, long ldx, const void *packed, int format, long k,
                                 long column_begin, long column_end, float *y, long ldy);

/// The same, with the code for instruction set `isa` (2 AVX-512, 1 AVX2, 0 portable; or the best
/// this CPU runs, if lower).
void speculators_quantized_batch_using(int isa, const float *x, long rows, long ldx, const void *packed,
                                       int format, long k, long column_begin, long column_end, float *y,
                                       long ldy);

#ifdef __cplusplus
}
#endif

#endif
