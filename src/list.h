/*
 * list.h - intrusive circular doubly-linked lists.
 *
 * A list is a sentinel node; an element embeds a node. A node that is in no
 * list points at itself, so removing it twice is harmless: wait nodes are
 * removed both by whoever wakes their task and by the task itself when it
 * stops waiting, whichever comes first.
 */
#ifndef WEFT_LIST_H
#define WEFT_LIST_H

#include <stddef.h>

struct weft__list {
    struct weft__list *next, *prev;
};

#define weft__container_of(p, type, member) \
    ((type *)(void *)((char *)(p) - offsetof(type, member)))

static inline void weft__list_init(struct weft__list *l)
{
    l->next = l->prev = l;
}

static inline int weft__list_empty(const struct weft__list *l)
{
    return l->next == l;
}

static inline void weft__list_push_back(struct weft__list *l, struct weft__list *n)
{
    n->prev = l->prev;
    n->next = l;
    l->prev->next = n;
    l->prev = n;
}

static inline void weft__list_remove(struct weft__list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}

/* Removes and returns the first node, or NULL when the list is empty. */
static inline struct weft__list *weft__list_pop_front(struct weft__list *l)
{
    struct weft__list *n = l->next;
    if (n == l)
        return NULL;
    weft__list_remove(n);
    return n;
}

#endif /* WEFT_LIST_H */
