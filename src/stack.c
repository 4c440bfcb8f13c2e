/*
 * stack.c - mmap'd coroutine stacks with guard pages, pooled for reuse.
 *
 * Invariants:
 * - Every slot is [guard][usable size bytes]; slots of one size come from
 *   slabs of that size class, carved in order (each thread its own; what
 *   an exiting thread left uncarved goes to the next or is unmapped), never
 *   unmapped once carved. The guard is 64 KiB where MADV_GUARD_INSTALL
 *   works (it costs neither a mapping nor memory), else one page.
 * - A free slot keeps its guard and its touched pages while it is one of
 *   the first DEPOT_KEEP free slots of its class in the depot (or in a
 *   thread's cache); its list node lives in its top bytes, where the
 *   coroutine record sits while it is in use. When the depot holds more
 *   than DEPOT_KEEP, all but DEPOT_LOW are released in one batch: their
 *   pages go back to the kernel (MADV_DONTNEED, the guard stays), a call
 *   per run of adjacent slots and outside the lock, and the depot remembers
 *   them in `released`, outside the slots, since their memory reads as zero
 *   from then on (stack_release.c says why few calls matter).
 * - A thread takes and returns slots through its own cache without locks;
 *   the depot, shared by all threads under `depot_lock`, refills and drains
 *   caches in batches and receives a thread's cache when the thread exits.
 *
 * Guards are made by stack_guard.c: see there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "weft/coro.h"
#include "compiler.h"
#include "stack.h"

#ifdef WEFT_ASAN
#include <sanitizer/asan_interface.h>
#endif

enum {
    SLAB_BYTES = 16 << 20, /* one mmap carves this much into slots */
    CACHE_CLASSES = 4,    /* sizes a thread caches without locking */
    CACHE_MAX = 64,       /* free slots a thread keeps per size */
    BATCH = 16,           /* slots moved between cache and depot at once */
    DEPOT_KEEP = 256,     /* free slots per class the depot keeps resident */
    DEPOT_LOW = 128       /* what it keeps when it releases past DEPOT_KEEP */
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
    size_t nfree;             /* length of `free` */
    uintptr_t *released;      /* released slots: lo | guard (in bit 0) */
    size_t nreleased;         /* entries in `released` */
    size_t released_cap;      /* room in `released` */
    size_t releasing;         /* in release outside the lock (room kept) */
    char *slab_next;          /* next uncarved slot in the current slab */
    char *slab_end;           /* end of the current slab */
    struct depot_class *next; /* next size class */
};

/* A size class in a thread's cache. */
struct cache_class {
    size_t size;       /* usable bytes, 0 when the entry is unused */
    struct node *free; /* free slots */
    unsigned count;    /* length of `free` */
    char *slab_next;   /* this thread's own slab: the stacks it frees lie */
    char *slab_end;    /* side by side, released in few calls */
};

static pthread_mutex_t depot_lock = PTHREAD_MUTEX_INITIALIZER;
static struct depot_class *depot;     /* size classes, under depot_lock */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t cache_key;       /* flushes a cache at thread exit */
static size_t guard_bytes;            /* below each slot: 64 KiB or a page */

static __thread struct cache_class cache[CACHE_CLASSES];
static __thread int cache_registered; /* cache_key set for this thread */

static void cache_flush(void *unused);

static void init_once(void)
{
    pthread_key_create(&cache_key, cache_flush);
    guard_bytes = weft__stack_guard_size();
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

/* Carves up to `want` slots from the slab at *next (mapping a new slab when
   it is used up) into lo[]; returns how many, 0 when out of memory. */
static unsigned carve(char **next, char **end, size_t size, unsigned want, char **lo)
{
    size_t slot = size + guard_bytes, n = 0;
    if (*next == *end) {
        size_t bytes = slot > SLAB_BYTES ? slot : SLAB_BYTES / slot * slot;
        char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (m == MAP_FAILED)
            return 0;
        *next = m, *end = m + bytes;
    }
    for (; n < want && *next != *end; *next += slot)
        lo[n++] = *next + guard_bytes;
    return (unsigned)n;
}

/*
 * Takes up to `want` (<= BATCH) free slots of `size` from the depot, else
 * carves new ones from cc's slab (the depot's without cc; an exited
 * thread's if cc has none). Released and fresh slots get their node (a page
 * fault each) and fresh ones their guard outside the lock. Returns the
 * list (linked through node->next), or NULL when out of memory.
 */
static struct node *depot_take(size_t size, unsigned want, struct cache_class *cc)
{
    struct node *list = NULL;
    uintptr_t got[BATCH];               /* released slots: lo | guard */
    char *fresh[BATCH];                 /* fresh slots' lo */
    unsigned ngot = 0, nfresh = 0;
    pthread_mutex_lock(&depot_lock);
    struct depot_class *c = depot_class(size);
    for (; c && want && c->free; want--) {
        struct node *n = c->free;
        c->free = n->next;
        c->nfree--;
        n->next = list;
        list = n;
    }
    for (; c && want && c->nreleased; want--)
        got[ngot++] = c->released[--c->nreleased];
    int carving = c && want && !list && !ngot;
    if (carving && !cc) {
        nfresh = carve(&c->slab_next, &c->slab_end, size, want, fresh);
    } else if (carving && cc->slab_next == cc->slab_end && c->slab_next != c->slab_end) {
        cc->slab_next = c->slab_next, cc->slab_end = c->slab_end;  /* an exited thread's */
        c->slab_next = c->slab_end = NULL;
    }
    pthread_mutex_unlock(&depot_lock);
    if (carving && cc)                  /* its own slab: no lock */
        nfresh = carve(&cc->slab_next, &cc->slab_end, size, want, fresh);
    while (ngot) {                      /* zero pages now: a new node */
        uintptr_t r = got[--ngot];
        struct node *n = node_of((char *)(r & ~(uintptr_t)1), size);
        n->guard = (int)(r & 1);
        n->used = 1;                    /* ASan: unpoison it on reuse */
        n->next = list;
        list = n;
    }
    while (nfresh) {                    /* the lowest first in the list */
        char *lo = fresh[--nfresh];
        struct node *n = node_of(lo, size);
        n->guard = weft__stack_guard_install(lo);
        n->used = 0;
        n->next = list;
        list = n;
    }
    return list;
}

/*
 * Under depot_lock: takes the free slots of `c` past the first `keep` off
 * its free list, as `released` entries (lo | guard) in a new array of
 * *n, and makes room for them in c->released (counted in c->releasing
 * until release_taken() adds them). Returns the array, or NULL (*n = 0)
 * when there are none or no memory: then they stay resident, and reusable.
 */
static uintptr_t *take_excess(struct depot_class *c, size_t keep, size_t *n)
{
    *n = 0;
    if (c->nfree <= keep)
        return NULL;
    size_t want = c->nfree - keep, need = c->nreleased + c->releasing + want;
    if (need > c->released_cap) {
        size_t cap = c->released_cap ? c->released_cap : 1024;
        while (cap < need)
            cap *= 2;
        uintptr_t *r = realloc(c->released, cap * sizeof *r);
        if (!r)
            return NULL;
        c->released = r;
        c->released_cap = cap;
    }
    uintptr_t *e = malloc(want * sizeof *e);
    if (!e)
        return NULL;
    for (size_t i = 0; i < want; i++) {
        struct node *s = c->free;
        c->free = s->next;
        char *lo = (char *)(s + 1) - c->size;
        e[i] = (uintptr_t)lo | (uintptr_t)(s->guard & 1);
    }
    c->nfree -= want;
    c->releasing += want;
    *n = want;
    return e;
}

/* Without depot_lock: releases the `n` slots take_excess() took
   (stack_release.c), then adds them to c->released. Returns n. */
static size_t release_taken(struct depot_class *c, uintptr_t *e, size_t n)
{
    weft__stack_release(e, n, c->size, guard_bytes);
    pthread_mutex_lock(&depot_lock);
    memcpy(c->released + c->nreleased, e, n * sizeof *e);
    c->nreleased += n;
    c->releasing -= n;
    pthread_mutex_unlock(&depot_lock);
    free(e);
    return n;
}

/*
 * Gives a list of free slots of `size` back to the depot. When it then
 * holds more than `keep` (DEPOT_KEEP), the memory of all but `low` goes
 * back to the kernel at once; returns how many slots were released.
 */
static size_t depot_give(size_t size, struct node *list, size_t keep, size_t low)
{
    size_t n = 1;
    uintptr_t *excess = NULL;
    if (!list)
        return 0;
    struct node *last = list;
    for (; last->next; n++)
        last = last->next;
    pthread_mutex_lock(&depot_lock);
    struct depot_class *c = depot_class(size);
    if (c) {
        last->next = c->free;
        c->free = list;
        c->nfree += n;
        if (c->nfree > keep)
            excess = take_excess(c, low, &n);
    }
    /* Without memory for a class record the slots are lost, not reused. */
    pthread_mutex_unlock(&depot_lock);
    return excess ? release_taken(c, excess, n) : 0;
}

int weft_stack_trim(void)
{
    size_t n = 0, got;
    for (int i = 0; i < CACHE_CLASSES; i++) {     /* this thread's cache */
        n += depot_give(cache[i].size, cache[i].free, 0, 0);
        cache[i].free = NULL;           /* its size and slab stay */
        cache[i].count = 0;
    }
    pthread_mutex_lock(&depot_lock);
    struct depot_class *all = depot;    /* classes are never freed */
    pthread_mutex_unlock(&depot_lock);
    for (struct depot_class *c = all; c; c = c->next) {
        pthread_mutex_lock(&depot_lock);
        uintptr_t *e = take_excess(c, 0, &got);
        pthread_mutex_unlock(&depot_lock);
        if (e)
            n += release_taken(c, e, got);
    }
    return n > INT32_MAX ? INT32_MAX : (int)n;
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
        depot_give(cache[i].size, cache[i].free, DEPOT_KEEP, DEPOT_LOW);
        /* The rest of its slab (never carved) is the next thread's. */
        char *rest = cache[i].slab_next, *end = cache[i].slab_end;
        pthread_mutex_lock(&depot_lock);
        struct depot_class *c = rest != end ? depot_class(cache[i].size) : NULL;
        if (c && c->slab_next == c->slab_end) {
            c->slab_next = rest;
            c->slab_end = end;
            rest = end;
        }
        pthread_mutex_unlock(&depot_lock);
        if (rest != end)
            munmap(rest, (size_t)(end - rest));
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
        n = depot_take(size, cc ? BATCH : 1, cc);
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
        depot_give(size, n, DEPOT_KEEP, DEPOT_LOW);
        return;
    }
    if (cc->count == CACHE_MAX) {
        struct node *list = cc->free, *last = list;
        for (unsigned i = 1; i < BATCH; i++)
            last = last->next;
        cc->free = last->next;
        last->next = NULL;
        cc->count -= BATCH;
        depot_give(size, list, DEPOT_KEEP, DEPOT_LOW);
    }
    n->next = cc->free;
    cc->free = n;
    cc->count++;
}

void weft__stack_pool_stats(size_t *slots, size_t *bytes)
{
    *slots = *bytes = 0;
    for (int i = 0; i < CACHE_CLASSES; i++) {
        *slots += cache[i].count;
        *bytes += cache[i].count * cache[i].size;
    }
    pthread_mutex_lock(&depot_lock);
    for (struct depot_class *c = depot; c; c = c->next) {
        *slots += c->nfree;     /* released slots hold no memory: left out */
        *bytes += c->nfree * c->size;
    }
    pthread_mutex_unlock(&depot_lock);
}
