// The batch-invariant product against quantised weights, dequantised exactly on the fly (see
// quantized_batch.c and Tensors/QuantizedWeights.swift).
//
// A GGUF file stores most of a model's matrices in blocks of weights with half-precision scales.
// In Q4_1 and Q5_1 (d·q + m), Q8_0 (d·q), Q4_0 and Q5_0 (d·(q − 8), d·(q − 16)), Q4_K and Q5_K
// ((d·scale)·q − dmin·min) and Q6_K ((d·scale)·(q − 32)), with q a small integer, every product of a scale and an integer is exact
// in float32 but the last, so each weight is one correctly rounded float32 operation: the kernel
// repeats it (fma(d, q, m) or q·d with the exact parts precomputed) and gets exactly the float32
// values the loader's dequantisation stores. It then accumulates precisely as
// speculators_small_batch does (small_batch.h): every output has the bits the float32 product
// gives, for any number of rows and any instruction set, while memory carries 0.75 to 1.25 bytes
// per weight instead of 4.
#ifndef SPECULATORS_QUANTIZED_BATCH_H
#define SPECULATORS_QUANTIZED_BATCH_H

#ifdef __cplusplus
extern "C" {
#endif

/// Stored block formats (as in a GGUF file) with an exact on-the-fly form.
enum {
    SPECULATORS_QUANT_Q4_1 = 0,
    SPECULATORS_QUANT_Q8_0 = 1,
    SPECULATORS_QUANT_Q4_0 = 2,
    SPECULATORS_QUANT_Q4_K = 3,
    SPECULATORS_QUANT_Q6_K = 4,
    SPECULATORS_QUANT_Q5_0 = 5,
    SPECULATORS_QUANT_Q5_1 = 6,
    SPECULATORS_QUANT_Q5_K = 7,
};

/// Packed forms the kernel reads, one per stored format (`speculators_quantized_kind`): 4-bit
/// values with a scale and an offset (Q4_1, Q4_K), signed bytes with a scale (Q8_0, Q4_0, Q5_0),
/// signed bytes with a scale per 16 (Q6_K), and unsigned bytes with a scale and an offset (Q5_1,
/// Q5_K).
enum {
    SPECULATORS_PACKED_NIBBLES = 0,
    SPECULATORS_PACKED_BYTES = 1,
    SPECULATORS_PACKED_BYTES_TWO_SCALES = 2,
    SPECULATORS_PACKED_BYTES_OFFSET = 3,
};

/// Weights per stored block (32, or 256 for K-quants), bytes per stored block, and the packed
/// form of a stored format (0 or -1 for an unknown format).
long speculators_quantized_block_weights(int format);
long speculators_quantized_stored_block_bytes(int format);
int speculators_quantized_kind(int format);

/// Bytes of one packed block of 32 weights of a packed form.
long speculators_quantized_packed_block_bytes(int kind);

/// Packs one stored row of `k` weights (a whole number of stored blocks) into `k / 32` packed
/// blocks of its format's packed form.
void speculators_quantized_pack_row(int format, const void *stored, long k, void *packed);

/// The float32 values of `blocks` packed blocks (32 per block), as the kernel computes them.
void speculators_quantized_dequantize(int kind, const void *packed, long blocks, float *out);

/// `y[r · ldy + n] = Σ_i x[r · ldx + i] · W(n, i)` for rows r < `rows` and columns n in
/// [`column_begin`, `column_end`), where row n of W is `k / 32` packed blocks of form `kind`
/// starting `n · (k / 32) · packed_block_bytes` into `packed`; `k` is a multiple of 32. Bit for
/// bit what speculators_small_batch gives with the dequantised float32 weights.
void speculators_quantized_batch(const float *x, long rows, long ldx, const void *packed, int kind, long k,
                                 long column_begin, long column_end, float *y, long ldy);

/// The same, with the code for instruction set `isa` (2 AVX-512, 1 AVX2, 0 portable; or the best
/// this CPU runs, if lower).
void speculators_quantized_batch_using(int isa, const float *x, long rows, long ldx, const void *packed, int kind,
                                       long k, long column_begin, long column_end, float *y, long ldy);

#ifdef __cplusplus
}
#endif

#endif
