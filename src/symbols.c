/*
 * symbols.c - names for code addresses that dladdr() cannot name: static
 * functions and everything of a program not linked with -rdynamic, from
 * the object's own symbol table (.symtab, else .dynsym), read from its
 * file. For the dump only: cold, and it allocates.
 *
 * Invariants: an object's file stays mapped and its sorted table of
 * functions stays allocated until the process ends, so the names handed
 * out stay valid; the cache of objects is guarded by `lock`. A file that
 * cannot be read is remembered too (with no functions), and looked at once.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "debug_internal.h"
#include "stack.h"

/* A function of an object: its run-time address range and its name. */
struct func {
    uintptr_t lo, size;
    const char *name;           /* in the mapped file */
};

/* An object (the program or a shared library) seen in a backtrace. */
struct object {
    uintptr_t fbase;            /* dladdr()'s dli_fbase: the cache key */
    struct func *funcs;         /* sorted by lo; NULL if unreadable */
    size_t nfuncs;
};

enum { MAX_OBJECTS = 32 };
static struct object objects[MAX_OBJECTS];
static size_t nobjects;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int cmp_func(const void *a, const void *b)
{
    uintptr_t x = ((const struct func *)a)->lo, y = ((const struct func *)b)->lo;
    return x < y ? -1 : x > y;
}

/* Fills o->funcs from the ELF file `path` loaded at fbase. */
static void load(struct object *o, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return;
    if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(ElfW(Ehdr))) {
        close(fd);
        return;
    }
    const unsigned char *f = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f == MAP_FAILED)
        return;
    size_t len = (size_t)st.st_size;
    const ElfW(Ehdr) *eh = (const void *)f;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > len ||
        eh->e_phoff + (size_t)eh->e_phnum * sizeof(ElfW(Phdr)) > len)
        return;
    /* Run-time address = file address + bias; fbase maps the lowest load. */
    const ElfW(Phdr) *ph = (const void *)(f + eh->e_phoff);
    uintptr_t first = UINTPTR_MAX;
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr < first)
            first = ph[i].p_vaddr & ~(uintptr_t)(weft__page_size() - 1);
    uintptr_t bias = eh->e_type == ET_DYN && first != UINTPTR_MAX ? o->fbase - first : 0;
    const ElfW(Shdr) *sh = (const void *)(f + eh->e_shoff), *tab = NULL;
    for (int i = 0; i < eh->e_shnum; i++)
        if (sh[i].sh_type == SHT_SYMTAB || (sh[i].sh_type == SHT_DYNSYM && !tab))
            tab = &sh[i];
    if (!tab || tab->sh_link >= eh->e_shnum || tab->sh_offset + tab->sh_size > len ||
        sh[tab->sh_link].sh_offset + sh[tab->sh_link].sh_size > len)
        return;
    const ElfW(Sym) *sym = (const void *)(f + tab->sh_offset);
    size_t n = tab->sh_size / sizeof *sym, k = 0;
    const char *str = (const char *)f + sh[tab->sh_link].sh_offset;
    size_t strsz = sh[tab->sh_link].sh_size;
    struct func *fs = malloc((n ? n : 1) * sizeof *fs);
    if (!fs)
        return;
    for (size_t i = 0; i < n; i++)
        if (ELF64_ST_TYPE(sym[i].st_info) == STT_FUNC && sym[i].st_value &&
            sym[i].st_name < strsz)
            fs[k++] = (struct func){sym[i].st_value + bias, sym[i].st_size,
                                    str + sym[i].st_name};
    qsort(fs, k, sizeof *fs, cmp_func);
    o->funcs = fs;
    o->nfuncs = k;
}

/* The object at fbase, loaded on first use; NULL when the cache is full. */
static struct object *object_at(uintptr_t fbase, const char *fname)
{
    for (size_t i = 0; i < nobjects; i++)
        if (objects[i].fbase == fbase)
            return &objects[i];
    if (nobjects == MAX_OBJECTS)
        return NULL;
    struct object *o = &objects[nobjects++];
    o->fbase = fbase;
    /* The program's own name is argv[0], maybe relative: read the file
       the process runs instead. Libraries come with absolute paths. */
    load(o, fname && fname[0] == '/' ? fname : "/proc/self/exe");
    return o;
}

const char *weft__symbol(void *pc, uintptr_t *offset)
{
    Dl_info di;
    uintptr_t a = (uintptr_t)pc - 1;    /* a return address: its call */
    const char *name = NULL;
    if (!dladdr((void *)a, &di) || !di.dli_fbase)
        return NULL;
    pthread_mutex_lock(&lock);
    struct object *o = object_at((uintptr_t)di.dli_fbase, di.dli_fname);
    if (o && o->nfuncs) {
        size_t lo = 0, hi = o->nfuncs;
        while (hi - lo > 1) {           /* the last function starting <= a */
            size_t mid = lo + (hi - lo) / 2;
            if (o->funcs[mid].lo <= a)
                lo = mid;
            else
                hi = mid;
        }
        const struct func *f = &o->funcs[lo];
        if (f->lo <= a && (a < f->lo + f->size || !f->size)) {
            name = f->name;
            *offset = (uintptr_t)pc - f->lo;
        }
    }
    pthread_mutex_unlock(&lock);
    return name;
}
