/*
 * stack_release.c - giving the memory of free stack slots back to the
 * kernel, in as few system calls as it can.
 *
 * A slot's pages go with MADV_DONTNEED, which keeps the address space and
 * the guard (a MADV_GUARD_INSTALL marker or a PROT_NONE page survives it),
 * so the slot is reused later on zero pages. Every such call ends with a
 * TLB flush, and in a process whose other threads are running that flush
 * interrupts each of their CPUs and waits for them: with a loop per core,
 * a call per freed slot would stop every other loop as often. So the
 * depot (stack.c) releases slots in batches, outside its lock, and this
 * file sorts a batch by address and makes one call per run of adjacent
 * slots; a thread carves its stacks from a slab of its own, so the slots
 * it frees lie side by side.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "compiler.h"
#include "stack.h"

#ifdef WEFT_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* Gives the pages of [lo, hi) back to the kernel (and under ASan the
   shadow pages that describe them: zero shadow is "addressable", as a
   reused slot must be anyway). */
static void release_range(char *lo, char *hi)
{
    madvise(lo, (size_t)(hi - lo), MADV_DONTNEED);
#ifdef WEFT_ASAN
    size_t scale, offset, pg = weft__page_size();
    __asan_get_shadow_mapping(&scale, &offset);
    uintptr_t s = (((uintptr_t)lo >> scale) + offset + pg - 1) & ~(uintptr_t)(pg - 1);
    uintptr_t e = (((uintptr_t)hi >> scale) + offset) & ~(uintptr_t)(pg - 1);
    if (s < e)
        madvise((void *)s, e - s, MADV_DONTNEED);
#endif
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return (x > y) - (x < y);
}

void weft__stack_release(uintptr_t *slots, size_t n, size_t size, size_t guard)
{
    char *run_lo = NULL, *run_hi = NULL;
    qsort(slots, n, sizeof *slots, by_address);
    for (size_t i = 0; i < n; i++) {
        char *lo = (char *)(slots[i] & ~(uintptr_t)1);
        if (lo - guard != run_hi) {     /* not adjacent to the run */
            if (run_lo)
                release_range(run_lo, run_hi);
            run_lo = lo - guard;
        }
        run_hi = lo + size;
    }
    if (run_lo)
        release_range(run_lo, run_hi);
}
