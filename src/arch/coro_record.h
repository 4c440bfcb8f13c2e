/*
 * arch/coro_record.h - what the assembly resume and yield know of a
 * coroutine record (struct weft_coro in coro_internal.h, which checks these
 * offsets with _Static_assert) and of the thread's weft__tls.
 *
 * On x86-64, builds without a sanitizer resume and yield in assembly
 * (WEFT__ASM_CORO): the checks, the bookkeeping and the switch in one
 * function each, with no call, no argument shuffling and no record of the
 * context left (the running context changes only after its registers are
 * pushed, so a fault in the pushes still names it). Sanitizer builds and
 * AArch64 use the C versions in coro.c, which the sanitizers' fiber hooks
 * need. Misuse and every other unusual case goes to C either way.
 */
#ifndef WEFT_ARCH_CORO_RECORD_H
#define WEFT_ARCH_CORO_RECORD_H

#include "../compiler.h"

#if defined(__x86_64__) && !defined(WEFT_ASAN) && !defined(WEFT_TSAN)
#define WEFT__ASM_CORO 1
#endif

#define WEFT__CORO_SP 0x00        /* void *sp */
#define WEFT__CORO_RESUMER 0x08   /* struct weft_coro *resumer */
#define WEFT__CORO_OUT_SLOT 0x10  /* void **out_slot */
#define WEFT__CORO_IN_SLOT 0x18   /* void **in_slot */
#define WEFT__CORO_STATE 0x20     /* int state */
#define WEFT__CORO_BLOCKED 0x28   /* int blocked */
#define WEFT__TLS_CURRENT 0x00    /* weft__tls.current */

#define WEFT__CORO_ACTIVE_ 0      /* enum weft__coro_state values */
#define WEFT__CORO_SUSPENDED_ 1

#endif /* WEFT_ARCH_CORO_RECORD_H */
