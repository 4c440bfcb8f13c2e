/*
 * stack.h - coroutine stacks: mmap'd slots with a guard below, pooled.
 *
 * A slot is [guard][usable stack ... record]: the guard is the lowest part
 * (64 KiB or a page), the usable memory sits above it and the coroutine
 * keeps its record at the very top. Slots are carved from slabs (one mmap
 * serves many stacks) and never unmapped; freed slots wait in a per-thread
 * cache and a process-wide depot for the next weft__stack_get() of the same
 * size, and the depot gives the memory of those past a high-water mark back
 * to the kernel in batches (weft_stack_trim() all of it).
 */
#ifndef WEFT_STACK_H
#define WEFT_STACK_H

#include <stddef.h>
#include <stdint.h>

/* How the page below a stack catches an overflow. */
enum weft__guard {
    WEFT__GUARD_CANARY = 0, /* plain memory that must stay zero; checked when
                               the coroutine ends and when it is freed */
    WEFT__GUARD_PAGE = 1    /* inaccessible: an overflow faults at once */
};

struct weft__stack {
    char *lo;      /* lowest usable byte; the guard is just below it */
    char *hi;      /* one past the highest byte of the slot */
    int guard;     /* enum weft__guard of this slot */
};

/* The system page size, read once. */
size_t weft__page_size(void);

/* Bytes of guard below every slot's `lo`: 64 KiB where MADV_GUARD_INSTALL
   works (guards there are free), else one page. */
size_t weft__stack_guard_size(void);

/*
 * Takes a slot with `size` usable bytes (a multiple of the page size) from
 * the pool, carving a new slab when the pool is empty. Returns 0 or -ENOMEM.
 */
int weft__stack_get(size_t size, struct weft__stack *st);

/* Returns a slot to the pool of the calling thread. */
void weft__stack_put(const struct weft__stack *st);

/* Makes the guard below a fresh slot's `lo` (stack_guard.c); returns the
   enum weft__guard obtained. */
int weft__stack_guard_install(char *lo);

/* Gives the memory of `n` free slots back to the kernel (stack_release.c):
   slots[i] is a slot's `lo`, maybe with bit 0 set (the depot keeps its
   guard kind there); `size` usable bytes above it and `guard` bytes of
   guard below. Sorts `slots`; one madvise per run of adjacent slots. */
void weft__stack_release(uintptr_t *slots, size_t n, size_t size, size_t guard);

/* True when a WEFT__GUARD_CANARY slot's guard area is still all zero. */
int weft__stack_canary_ok(const struct weft__stack *st);

/* Counts the free slots in the pool (this thread's cache and the depot)
   and their usable bytes, for weft/debug.h. */
void weft__stack_pool_stats(size_t *slots, size_t *bytes);

#endif /* WEFT_STACK_H */
