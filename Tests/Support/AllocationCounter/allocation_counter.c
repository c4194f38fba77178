// The test executable's own malloc family: each forwards to glibc's and, while the calling
// thread counts, adds one to that thread's count. An executable's definitions take precedence
// over the C library's for every caller in the process (ELF symbol interposition), the Swift
// runtime included, so every Swift object, array and string allocated on the thread is seen.
// Threads that do not count pay one thread-local load per call.
#include "allocation_counter.h"

#include <stddef.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static _Thread_local int counting;
static _Thread_local uint64_t counted;

static inline void note(void) {
    if (counting) counted++;
}

void speculators_count_allocations(int on) { counting = on; }

uint64_t speculators_counted_allocations(void) { return counted; }

// Under a sanitizer, which brings its own malloc, nothing is replaced (and nothing counted).
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SPECULATORS_NO_COUNTING 1
#endif
#endif

#ifdef SPECULATORS_NO_COUNTING
int speculators_allocation_counting_available(void) { return 0; }
#else
int speculators_allocation_counting_available(void) { return 1; }

void *malloc(size_t size) {
    note();
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    note();
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    note();
    return __libc_realloc(pointer, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    note();
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return 22; // EINVAL
    void *pointer = __libc_memalign(alignment, size);
    if (!pointer) return 12; // ENOMEM
    *result = pointer;
    return 0;
}

void *aligned_alloc(size_t alignment, size_t size) {
    note();
    return __libc_memalign(alignment, size);
}
#endif
