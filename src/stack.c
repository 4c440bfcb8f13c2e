/*
 * stack.c - mmap'd coroutine stacks with guard pages, pooled for reuse.
 *
 * Invariants:
 * - Every slot is [guard page][usable size bytes]; slots of one size come
 *   from slabs of that size class, carved in order and never unmapped.
 * - A free slot keeps its guard and its touched pages; its list node lives
 *   in its top bytes, where the coroutine record sits while it is in use.
 * - A thread takes and returns slots through its own cache without locks;
 *   the depot, shared by all threads under `depot_lock`, refills and drains
 *   caches in batches and receives a thread's cache when the thread exits.
 *
 * Guards. Linux counts each run of pages with one protection as a mapping
 * and caps a process at vm.max_map_count (65,530 by default); an mprotect'd
 * guard page costs two, so guards made that way stop near 32,000 stacks. On
 * Linux 6.13 and later, MADV_GUARD_INSTALL makes guard pages that cost no
 * mapping at all, so every stack gets one. Elsewhere (older kernels, or
 * qemu-user, which accepts the advice but ignores it) guards are made with
 * mprotect while they take at most a quarter of vm.max_map_count, and the
 * slots past that keep their guard page as a canary area that must stay
 * zero. Reading it never makes it resident (untouched pages read as the
 * shared zero page), so a canary costs no memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compiler.h"
#include "stack.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13; absent from older headers */
#endif

#ifdef WEFT_ASAN
#include <sanitizer/asan_interface.h>
#endif

enum {
    SLAB_BYTES = 4 << 20, /* one mmap carves this much into slots */
    CACHE_CLASSES = 4,    /* sizes a thread caches without locking */
    CACHE_MAX = 64,       /* free slots a thread keeps per size */
    BATCH = 16,           /* slots moved between cache and depot at once */
    CANARY_BYTES = 64     /* top of the guard page checked in canary mode */
};

/* A free slot's list node, in the slot's top bytes. */
struct node {
    struct node *next; /* next free slot of the same size */
    int guard;         /* the slot's enum weft__guard, kept across reuse */
    int used;          /* a coroutine ran on it (ASan may have poisoned it) */
};

/* A size class in the depot: free slots and the slab being carved. */
struct depot_class {
    size_t size;              /* usable bytes of its slots */
    struct node *free;        /* free slots returned by threads */
    char *slab_next;          /* next uncarved slot in the current slab */
    char *slab_end;           /* end of the current slab */
    struct depot_class *next; /* next size class */
};

/* A size class in a thread's cache. */
struct cache_class {
    size_t size;       /* usable bytes, 0 when the entry is unused */
    struct node *free; /* free slots */
    unsigned count;    /* length of `free` */
};

static pthread_mutex_t depot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct depot_class *depot;     /* size classes, under depot_lock */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t cache_key;       /* flushes a cache at thread exit */
static size_t page;                   /* system page size */
static int madv_guards;               /* MADV_GUARD_INSTALL works here */
static long mprotect_budget;          /* guards mprotect may still make */
static atomic_long mprotect_used;     /* guards made by mprotect */

static __thread struct cache_class cache[CACHE_CLASSES];
static __thread int cache_registered; /* cache_key set for this thread */

static void cache_flush(void *unused);

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
    pthread_key_create(&cache_key, cache_flush);
    madv_guards = probe_madv_guard();
    mprotect_budget = read_max_map_count() / 4;
}

/* Makes the page below `lo` a guard; returns the enum weft__guard obtained. */
static int guard_install(char *lo)
{
    char *g = lo - page;
    if (madv_guards && madvise(g, page, MADV_GUARD_INSTALL) == 0)
        return WEFT__GUARD_PAGE;
    if (atomic_fetch_add(&mprotect_used, 1) < mprotect_budget &&
        mprotect(g, page, PROT_NONE) == 0)
        return WEFT__GUARD_PAGE;
    return WEFT__GUARD_CANARY;
}

static struct node *node_of(char *lo, size_t size)
{
    return (struct node *)(lo + size) - 1;
}

static struct depot_class *depot_class(size_t size)
{
    struct depot_class *c;
    for (c = depot; c; c = c->next)
        if (c->size == size)
            return c;
    c = calloc(1, sizeof *c);
    if (c) {
        c->size = size;
        c->next = depot;
        depot = c;
    }
    return c;
}

/*
 * Takes up to `want` free slots of `size` from the depot, carving a new slab
 * when it has none; fresh slots get their guard outside the lock. Returns
 * the list (linked through node->next), or NULL when out of memory.
 */
static struct node *depot_take(size_t size, unsigned want)
{
    struct node *list = NULL, *fresh = NULL;
    size_t slot = size + page;
    pthread_mutex_lock(&depot_lock);
    struct depot_class *c = depot_class(size);
    if (!c)
        goto out;
    while (want && c->free) {
        struct node *n = c->free;
        c->free = n->next;
        n->next = list;
        list = n;
        want--;
    }
    if (want && !list && c->slab_next == c->slab_end) {
        size_t bytes = slot > SLAB_BYTES ? slot : SLAB_BYTES / slot * slot;
        char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                       -1, 0);
        if (m == MAP_FAILED)
            goto out;
        c->slab_next = m;
        c->slab_end = m + bytes;
    }
    while (want && c->slab_next != c->slab_end) {
        struct node *n = node_of(c->slab_next + page, size);
        c->slab_next += slot;
        n->next = fresh;
        fresh = n;
        want--;
    }
out:
    pthread_mutex_unlock(&depot_lock);
    while (fresh) {
        struct node *n = fresh;
        fresh = n->next;
        n->guard = guard_install((char *)(n + 1) - size);
        n->used = 0;
        n->next = list;
        list = n;
    }
    return list;
}

/* Gives a list of free slots of `size` back to the depot. */
static void depot_give(size_t size, struct node *list)
{
    if (!list)
        return;
    struct node *last = list;
    while (last->next)
        last = last->next;
    pthread_mutex_lock(&depot_lock);
    struct depot_class *c = depot_class(size);
    if (c) {
        last->next = c->free;
        c->free = list;
    }
    /* Without memory for a class record the slots are lost, not reused. */
    pthread_mutex_unlock(&depot_lock);
}

/* Returns this thread's cache entry for `size`, claiming a free one. */
static struct cache_class *cache_class(size_t size)
{
    struct cache_class *unused = NULL;
    for (int i = 0; i < CACHE_CLASSES; i++) {
        if (cache[i].size == size)
            return &cache[i];
        if (!cache[i].size && !unused)
            unused = &cache[i];
    }
    if (unused)
        unused->size = size;
    return unused;
}

static void cache_flush(void *unused)
{
    (void)unused;
    for (int i = 0; i < CACHE_CLASSES; i++) {
        depot_give(cache[i].size, cache[i].free);
        cache[i] = (struct cache_class){0};
    }
}

int weft__stack_get(size_t size, struct weft__stack *st)
{
    struct cache_class *cc = cache_class(size);
    struct node *n;
    if (cc && cc->free) {
        n = cc->free;
        cc->free = n->next;
        cc->count--;
    } else {
        pthread_once(&once, init_once);
        if (!cache_registered) {
            pthread_setspecific(cache_key, cache);
            cache_registered = 1;
        }
        n = depot_take(size, cc ? BATCH : 1);
        if (!n)
            return -ENOMEM;
        if (cc) {
            cc->free = n->next;
            for (struct node *m = n->next; m; m = m->next)
                cc->count++;
        }
    }
    st->hi = (char *)(n + 1);
    st->lo = st->hi - size;
    st->guard = n->guard;
#ifdef WEFT_ASAN
    /* Frames that never returned on it (a finished coroutine's last one)
       left their redzones poisoned; the next coroutine must start clean.
       Done on reuse only, so fresh stacks cost no shadow memory. */
    if (n->used)
        ASAN_UNPOISON_MEMORY_REGION(st->lo, size);
#endif
    return 0;
}

void weft__stack_put(const struct weft__stack *st)
{
    size_t size = (size_t)(st->hi - st->lo);
    struct node *n = node_of(st->lo, size);
    struct cache_class *cc = cache_class(size);
    n->guard = st->guard;
    n->used = 1;
    if (!cc) {
        n->next = NULL;
        depot_give(size, n);
        return;
    }
    if (cc->count == CACHE_MAX) {
        struct node *list = cc->free, *last = list;
        for (unsigned i = 1; i < BATCH; i++)
            last = last->next;
        cc->free = last->next;
        last->next = NULL;
        cc->count -= BATCH;
        depot_give(size, list);
    }
    n->next = cc->free;
    cc->free = n;
    cc->count++;
}

int weft__stack_canary_ok(const struct weft__stack *st)
{
    static const char zero[CANARY_BYTES];
    return memcmp(st->lo - CANARY_BYTES, zero, CANARY_BYTES) == 0;
}

void weft__stack_pool_stats(size_t *slots, size_t *bytes)
{
    *slots = *bytes = 0;
    for (int i = 0; i < CACHE_CLASSES; i++) {
        *slots += cache[i].count;
        *bytes += cache[i].count * cache[i].size;
    }
    pthread_mutex_lock(&depot_lock);
    for (struct depot_class *c = depot; c; c = c->next)
        for (struct node *n = c->free; n; n = n->next) {
            ++*slots;
            *bytes += c->size;
        }
    pthread_mutex_unlock(&depot_lock);
}
