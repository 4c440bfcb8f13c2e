/*
 * x86_64_sysv.S - the context switch for x86-64, System V ABI, ELF.
 *
 * Frame of a suspended context, at its saved stack pointer (offsets are
 * WEFT__CTX_* in context.h, checked there against struct weft__frame):
 *
 *   0x00  MXCSR (4 bytes), x87 control word (2), pad (2)
 *   0x08  r12     0x10  r13     0x18  r14     0x20  r15
 *   0x28  rbx     0x30  rbp     0x38  return address
 *
 * Built with WEFT_FP_CONTROL_THREAD the first slot is not there (the
 * floating-point control state is the thread's) and everything moves down
 * by 8: r12 at 0x00 ... return address at 0x30.
 *
 * int weft__switch(void **save_sp, void *to_sp, int code)
 *   rdi = where to store this context's stack pointer
 *   rsi = the stack pointer of the context to resume
 *   edx = the value weft__switch returns in the resumed context
 *
 * The floating-point control state is restored unconditionally. Reading
 * back what stmxcsr stored to skip an unchanged ldmxcsr costs more than the
 * ldmxcsr itself (measured on AMD EPYC: 15 ns a round trip against 11).
 *
 * The return leaves through "pop; jmp" rather than "ret": a switch returns
 * to a call made on another stack, which the return-stack predictor never
 * guesses, while the indirect-branch predictor learns a ping-pong. Callers
 * reach weft__switch by a tail call, so no "ret" on the round trip pairs
 * with a call from the other context either.
 *
 * Comments use C syntax only: a '#' comment would be read by the C
 * preprocessor.
 */
#include "context.h"

#if defined(__CET__) && (__CET__ & 1)
#define WEFT_ENDBR endbr64
#else
#define WEFT_ENDBR
#endif

    .text

    .globl  weft__switch
    .hidden weft__switch
    .type   weft__switch, @function
    .p2align 4
weft__switch:
    .cfi_startproc
    WEFT_ENDBR
    pushq   %rbp                    /* callee-saved, highest in the frame */
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
#ifndef WEFT_FP_CONTROL_THREAD
    subq    $8, %rsp                /* room for MXCSR and the x87 CW */
    .cfi_adjust_cfa_offset 8
    stmxcsr WEFT__CTX_FPU(%rsp)     /* SSE control/status of this context */
    fnstcw  WEFT__CTX_FPU+4(%rsp)   /* x87 control word of this context */
#endif
    movq    %rsp, (%rdi)            /* this context is now suspended */

    movq    %rsi, %rsp              /* the switch: same frame shape there */

#ifndef WEFT_FP_CONTROL_THREAD
    ldmxcsr WEFT__CTX_FPU(%rsp)     /* its own floating-point control */
    fldcw   WEFT__CTX_FPU+4(%rsp)
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
#endif
    popq    %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r12
    popq    %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r13
    popq    %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r14
    popq    %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r15
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbx
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbp
    movl    %edx, %eax              /* the code handed over by the switcher */
    popq    %rcx                    /* return address of the resumed context */
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rcx
    jmp     *%rcx
    .cfi_endproc
    .size   weft__switch, .-weft__switch

/*
 * void weft__entry(void): first code of a new context. weft__frame_init()
 * left the coroutine record in rbx and a 16-byte aligned rsp, as before a
 * call. The return address is undefined, so unwinders stop here: a gdb
 * backtrace inside a coroutine ends at weft__entry.
 */
    .globl  weft__entry
    .hidden weft__entry
    .type   weft__entry, @function
    .p2align 4
weft__entry:
    .cfi_startproc
    .cfi_undefined %rip
    WEFT_ENDBR                      /* reached by an indirect jump */
    xorl    %ebp, %ebp              /* end of the frame-pointer chain */
    movq    %rbx, %rdi              /* the coroutine record */
    call    weft__coro_main         /* never returns */
    ud2
    .cfi_endproc
    .size   weft__entry, .-weft__entry

    .section .note.GNU-stack, "", @progbits
