// Software prefetch for the weight-streaming kernels (Tensors/SmallBatchProduct.swift).
// Swift has no prefetch primitive; this header-only module exposes the compiler's.
#ifndef SPECULATORS_PREFETCH_H
#define SPECULATORS_PREFETCH_H

/// Asks the core to bring the cache line holding `address` into L2 (not L1) without waiting
/// for it. Never faults, whatever the address.
static inline __attribute__((always_inline)) void speculators_prefetch_l2(const void *address) {
    __builtin_prefetch(address, 0, 2);
}

#endif
