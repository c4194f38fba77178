// Input rows copied to 64-byte alignment for the streaming kernels (small_batch.c,
// quantized_batch.c); each file that includes this has its own per-thread buffer.
#ifndef SPECULATORS_ALIGNED_ROWS_H
#define SPECULATORS_ALIGNED_ROWS_H

#include <stdint.h>
#include <string.h>
#include "thread_block.h"

/// Input rows as the kernels load them best: 64-byte aligned, so that no 16-float load straddles
/// two cache lines. Rows that are not (an offset into a buffer, an odd width) are copied to a
/// per-thread buffer first. Measured with eight rows against SmolLM2's weights: 15.2 ms from rows
/// 16 bytes off alignment, 11.1 ms aligned. The buffer grows to the largest pass and stays, so
/// steady decoding allocates nothing; if it cannot grow, the rows are used where they are. Each
/// thread's buffer is freed when the thread ends.
typedef struct {
    float *rows;
    long capacity;
} AlignedRows;

static pthread_key_t aligned_rows_key;
static pthread_once_t aligned_rows_once = PTHREAD_ONCE_INIT;

static void free_aligned_rows(void *buffer) {
    free(((AlignedRows *)buffer)->rows);
    free(buffer);
}

static void make_aligned_rows_key(void) { pthread_key_create(&aligned_rows_key, free_aligned_rows); }

/// `rows` rows of `k` floats, `*ldx` apart, as an aligned pointer (updating `*ldx`).
static inline __attribute__((always_inline)) const float *aligned_input(const float *x, long rows, long *ldx, long k) {
    if ((((uintptr_t)x | (uintptr_t)(*ldx * 4)) & 63) == 0) return x;
    AlignedRows *buffer =
        speculators_thread_block(&aligned_rows_key, &aligned_rows_once, make_aligned_rows_key, sizeof(AlignedRows));
    if (!buffer) return x;
    const long ld = (k + 15) & ~15L;
    if (buffer->capacity < rows * ld) {
        float *grown = aligned_alloc(64, (size_t)(rows * ld) * sizeof(float));
        if (!grown) return x;
        free(buffer->rows);
        buffer->rows = grown;
        buffer->capacity = rows * ld;
    }
    for (long r = 0; r < rows; r++) memcpy(buffer->rows + r * ld, x + r * *ldx, (size_t)k * sizeof(float));
    *ldx = ld;
    return buffer->rows;
}

#endif
