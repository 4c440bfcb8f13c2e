/*
 * stack_guard.c - the guard below every coroutine stack, and the canary
 * where there can be none.
 *
 * Linux counts each run of pages with one protection as a mapping and caps
 * a process at vm.max_map_count (65,530 by default); an mprotect'd guard
 * costs two, so guards made that way stop near 32,000 stacks. On Linux 6.13
 * and later, MADV_GUARD_INSTALL makes guards that cost no mapping and no
 * memory at all, so every stack gets one, and it may as well be large: 64
 * KiB, which a 32 KiB frame cannot jump (64 KiB more address space per
 * stack is 64 GiB for a million coroutines, of 128 TiB). Elsewhere (older
 * kernels, or qemu-user, which accepts the advice but ignores it) guards
 * are one page, made with mprotect while they take at most a quarter of
 * vm.max_map_count, and the slots past that keep their guard page as a
 * canary area that must stay zero. Reading it never makes it resident
 * (untouched pages read as the shared zero page), so a canary costs no
 * memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stack.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13; absent from older headers */
#endif

enum {
    BIG_GUARD = 64 * 1024, /* guard size where guards are free */
    CANARY_BYTES = 64      /* top of the guard page checked in canary mode */
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static size_t page;                   /* system page size */
static int madv_guards;               /* MADV_GUARD_INSTALL works here */
static size_t guard_bytes;            /* BIG_GUARD with madv_guards, else a page */
static long mprotect_budget;          /* guards mprotect may still make */
static atomic_long mprotect_used;     /* guards made by mprotect */

size_t weft__page_size(void)
{
    if (!page)
        page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

static long read_max_map_count(void)
{
    char buf[32] = {0};
    long v = 65530;
    int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, buf, sizeof buf - 1) > 0)
            v = strtol(buf, NULL, 10);
        close(fd);
    }
    return v > 0 ? v : 65530;
}

/*
 * True when MADV_GUARD_INSTALL really guards: the kernel must then refuse to
 * read the page (EFAULT) when asked to write it into a pipe.
 */
static int probe_madv_guard(void)
{
    int ok = 0, fds[2];
    char *p = mmap(NULL, page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    if (madvise(p, page, MADV_GUARD_INSTALL) == 0 &&
        pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
        ok = write(fds[1], p, 1) < 0 && errno == EFAULT;
        close(fds[0]);
        close(fds[1]);
    }
    munmap(p, page);
    return ok;
}

static void init_once(void)
{
    weft__page_size();
    madv_guards = probe_madv_guard();
    guard_bytes = madv_guards && page < BIG_GUARD ? BIG_GUARD : page;
    mprotect_budget = read_max_map_count() / 4;
}

size_t weft__stack_guard_size(void)
{
    pthread_once(&once, init_once);
    return guard_bytes;
}

int weft__stack_guard_install(char *lo)
{
    pthread_once(&once, init_once);
    char *g = lo - guard_bytes;
    if (madv_guards && madvise(g, guard_bytes, MADV_GUARD_INSTALL) == 0)
        return WEFT__GUARD_PAGE;
    if (atomic_fetch_add(&mprotect_used, 1) < mprotect_budget &&
        mprotect(g, guard_bytes, PROT_NONE) == 0)
        return WEFT__GUARD_PAGE;
    return WEFT__GUARD_CANARY;
}

int weft__stack_canary_ok(const struct weft__stack *st)
{
    static const char zero[CANARY_BYTES];
    return memcmp(st->lo - CANARY_BYTES, zero, CANARY_BYTES) == 0;
}
