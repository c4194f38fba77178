// Counts the heap allocations of the calling thread, for tests that check a loop allocates
// nothing (the engine's decode step). Linked into the test executable only.
#ifndef SPECULATORS_ALLOCATION_COUNTER_H
#define SPECULATORS_ALLOCATION_COUNTER_H

#include <stdint.h>

/// Starts (1) or stops (0) counting this thread's malloc, calloc, realloc and aligned
/// allocation calls.
void speculators_count_allocations(int on);

/// Calls counted on this thread so far.
uint64_t speculators_counted_allocations(void);

/// 1 when this build counts (0 under a sanitizer, which brings its own allocator).
int speculators_allocation_counting_available(void);

#endif
