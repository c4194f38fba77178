// Per-thread scratch of the C kernels (small_batch.c, bf16_gemm.c), freed when its thread ends.
#ifndef SPECULATORS_THREAD_BLOCK_H
#define SPECULATORS_THREAD_BLOCK_H

#include <pthread.h>
#include <stdlib.h>

/// The calling thread's block of `size` zeroed bytes under `key` (which `make_key`, run once
/// through `once`, creates with the destructor that frees a block), made on first use; NULL when
/// it cannot be made.
static inline void *speculators_thread_block(pthread_key_t *key, pthread_once_t *once, void (*make_key)(void),
                                             size_t size) {
    pthread_once(once, make_key);
    void *block = pthread_getspecific(*key);
    if (!block) {
        block = calloc(1, size);
        if (!block || pthread_setspecific(*key, block) != 0) {
            free(block);
            return NULL;
        }
    }
    return block;
}

#endif
