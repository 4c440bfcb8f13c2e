/*
 * aarch64_aapcs.S - the context switch for AArch64, AAPCS64, ELF.
 *
 * Frame of a suspended context, at its saved stack pointer (offsets are
 * WEFT__CTX_* in context.h, checked there against struct weft__frame):
 *
 *   0x00  x19  x20      0x10  x21  x22      0x20  x23  x24
 *   0x30  x25  x26      0x40  x27  x28      0x50  x29  x30 (return address)
 *   0x60  d8   d9       0x70  d10  d11      0x80  d12  d13
 *   0x90  d14  d15      0xa0  FPCR pad
 *
 * Built with WEFT_FP_CONTROL_THREAD the frame ends at 0xa0: FPCR is the
 * thread's, neither saved nor restored.
 *
 * int weft__switch(void **save_sp, void *to_sp, int code)
 *   x0 = where to store this context's stack pointer
 *   x1 = the stack pointer of the context to resume
 *   w2 = the value weft__switch returns in the resumed context
 *
 * It returns with "ret", which BTI never checks; with pointer
 * authentication each caller signs and checks its own return address on
 * its own stack, so the switch needs no key of its own.
 */
#include "context.h"

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define WEFT_BTI_C hint 34              /* bti c: target of an indirect call */
#define WEFT_PROP_BTI 1
#else
#define WEFT_BTI_C
#define WEFT_PROP_BTI 0
#endif
#if defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT
#define WEFT_PROP_PAC 2
#else
#define WEFT_PROP_PAC 0
#endif

    .text

    .globl  weft__switch
    .hidden weft__switch
    .type   weft__switch, %function
    .p2align 4
weft__switch:
    .cfi_startproc
    WEFT_BTI_C
    sub     sp, sp, #WEFT__CTX_SIZE
    .cfi_def_cfa_offset WEFT__CTX_SIZE
    stp     x19, x20, [sp, #0x00]
    stp     x21, x22, [sp, #0x10]
    stp     x23, x24, [sp, #0x20]
    stp     x25, x26, [sp, #0x30]
    stp     x27, x28, [sp, #0x40]
    stp     x29, x30, [sp, #0x50]
    .cfi_offset x29, -(WEFT__CTX_SIZE - 0x50)
    .cfi_offset x30, -(WEFT__CTX_SIZE - 0x58)
    stp     d8,  d9,  [sp, #0x60]
    stp     d10, d11, [sp, #0x70]
    stp     d12, d13, [sp, #0x80]
    stp     d14, d15, [sp, #0x90]
#ifndef WEFT_FP_CONTROL_THREAD
    mrs     x9, fpcr                /* floating-point control of this one */
    str     x9, [sp, #WEFT__CTX_FPU]
#endif
    mov     x10, sp
    str     x10, [x0]               /* this context is now suspended */

    mov     sp, x1                  /* the switch: same frame shape there */

#ifndef WEFT_FP_CONTROL_THREAD
    ldr     x11, [sp, #WEFT__CTX_FPU]
    cmp     x9, x11
    b.eq    1f                      /* writing FPCR is slow: only on change */
    msr     fpcr, x11
1:
#endif
    ldp     x19, x20, [sp, #0x00]
    ldp     x21, x22, [sp, #0x10]
    ldp     x23, x24, [sp, #0x20]
    ldp     x25, x26, [sp, #0x30]
    ldp     x27, x28, [sp, #0x40]
    ldp     x29, x30, [sp, #0x50]
    ldp     d8,  d9,  [sp, #0x60]
    ldp     d10, d11, [sp, #0x70]
    ldp     d12, d13, [sp, #0x80]
    ldp     d14, d15, [sp, #0x90]
    add     sp, sp, #WEFT__CTX_SIZE
    .cfi_def_cfa_offset 0
    mov     w0, w2                  /* the code handed over by the switcher */
    ret
    .cfi_endproc
    .size   weft__switch, .-weft__switch

/*
 * void weft__entry(void): first code of a new context. weft__frame_init()
 * left the coroutine record in x19, zero in x29 (end of the frame chain)
 * and a 16-byte aligned sp. The return address is undefined, so unwinders
 * stop here: a gdb backtrace inside a coroutine ends at weft__entry.
 */
    .globl  weft__entry
    .hidden weft__entry
    .type   weft__entry, %function
    .p2align 4
weft__entry:
    .cfi_startproc
    .cfi_undefined x30
    WEFT_BTI_C
    mov     x0, x19                 /* the coroutine record */
    bl      weft__coro_main         /* never returns */
    brk     #0x1
    .cfi_endproc
    .size   weft__entry, .-weft__entry

    .section .note.GNU-stack, "", %progbits

#if WEFT_PROP_BTI || WEFT_PROP_PAC
/* GNU property note: this object keeps BTI and PAC guarantees. */
    .pushsection .note.gnu.property, "a"
    .p2align 3
    .word   4                       /* name size: "GNU\0" */
    .word   16                      /* descriptor size */
    .word   5                       /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz  "GNU"
    .word   0xc0000000              /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
    .word   4
    .word   (WEFT_PROP_BTI | WEFT_PROP_PAC)
    .word   0
    .popsection
#endif
