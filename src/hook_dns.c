/*
 * hook_dns.c - getaddrinfo of weft/hook.h, run on the loop's worker pool
 * while the task waits (weft_to_thread).
 *
 * A task that is cancelled stops waiting at once while the lookup runs on;
 * so the lookup's arguments and result live in a heap record that whichever
 * side finishes last frees: the task when the lookup has ended, else the
 * worker when it ends (a state word exchanged atomically decides).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hook_internal.h"

/* Referred to by weft_hook_enable(): pulls this file into a static link. */
const char weft__hook_dns_linked = 1;

enum { RUNNING = 0, ABANDONED = 1, DONE = 2 };

/* One lookup; the strings follow the record. */
struct lookup {
    char *node;                 /* copy of the caller's node, or NULL */
    char *service;              /* copy of the caller's service, or NULL */
    struct addrinfo hints;      /* copy of the caller's hints */
    int has_hints;              /* the caller passed hints */
    struct addrinfo *res;       /* the result */
    int rc;                     /* getaddrinfo's return value */
    int err;                    /* errno after it, for EAI_SYSTEM */
    int state;                  /* RUNNING, ABANDONED, DONE */
};

static void *run(void *arg)
{
    struct lookup *q = arg;
    q->rc = WEFT__REAL(getaddrinfo)(q->node, q->service, q->has_hints ? &q->hints : NULL,
                                     &q->res);
    q->err = errno;
    if (__atomic_exchange_n(&q->state, DONE, __ATOMIC_ACQ_REL) == ABANDONED) {
        if (q->rc == 0)
            freeaddrinfo(q->res);
        free(q);
    }
    return NULL;
}

static char *copy(char **at, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = memcpy(*at, s, n);
    *at += n;
    return d;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    struct weft_task *self = weft__hook_task();
    if (!self)
        return WEFT__REAL(getaddrinfo)(node, service, hints, res);
    int saved = errno;
    int rc = weft__scope_status(self, weft__now(self->loop), NULL);
    if (rc < 0) {               /* after this, a cancelled wait leaves the */
        errno = -rc;            /* lookup running: weft_to_thread submitted it */
        return EAI_SYSTEM;
    }
    size_t len = sizeof(struct lookup) + (node ? strlen(node) + 1 : 0) +
                 (service ? strlen(service) + 1 : 0);
    struct lookup *q = calloc(1, len);
    if (!q) {
        errno = ENOMEM;
        return EAI_MEMORY;
    }
    char *at = (char *)(q + 1);
    q->node = copy(&at, node);
    q->service = copy(&at, service);
    if (hints) {
        q->hints = (struct addrinfo){.ai_flags = hints->ai_flags,
                                     .ai_family = hints->ai_family,
                                     .ai_socktype = hints->ai_socktype,
                                     .ai_protocol = hints->ai_protocol};
        q->has_hints = 1;
    }
    rc = weft_to_thread(run, q, NULL);
    if (rc < 0) {
        /* Not run (no thread), or still running and abandoned to it. */
        if (rc == -ECANCELED || rc == -ETIMEDOUT) {
            if (__atomic_exchange_n(&q->state, ABANDONED, __ATOMIC_ACQ_REL) != DONE) {
                errno = -rc;
                return EAI_SYSTEM;
            }
            if (q->rc == 0)
                freeaddrinfo(q->res);
        }
        free(q);
        errno = -rc;
        return EAI_SYSTEM;
    }
    rc = q->rc;
    if (rc == 0)
        *res = q->res;
    errno = rc == EAI_SYSTEM ? q->err : saved;
    free(q);
    return rc;
}
