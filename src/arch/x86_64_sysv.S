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
 * weft_coro_resume() and weft_coro_yield() are here too in builds without
 * a sanitizer (WEFT__ASM_CORO, see coro_record.h): their common case with
 * the same frame push and pop built in, which saves the call, the argument
 * moves and the bookkeeping of the C versions (85 instructions a round
 * trip instead of 96 by callgrind).
 *
 * Comments use C syntax only: a '#' comment would be read by the C
 * preprocessor.
 */
#include "context.h"
#include "coro_record.h"

#if defined(__CET__) && (__CET__ & 1)
#define WEFT_ENDBR endbr64
#else
#define WEFT_ENDBR
#endif

/* Pushes the frame of the running context (callee-saved registers, then
   the floating-point control words), as the table above shows. */
.macro SAVE_FRAME
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
.endm

/* Pops the frame at rsp (same shape: the context resumed) and returns into
   that context with eax, which the caller set, as the result. */
.macro RESTORE_FRAME
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
    popq    %rcx                    /* return address of the resumed context */
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rcx
    jmp     *%rcx
.endm

    .text

    .globl  weft__switch
    .hidden weft__switch
    .type   weft__switch, @function
    .p2align 4
weft__switch:
    .cfi_startproc
    WEFT_ENDBR
    SAVE_FRAME
    movq    %rsp, (%rdi)            /* this context is now suspended */
    movq    %rsi, %rsp              /* the switch: same frame shape there */
    movl    %edx, %eax              /* the code handed over by the switcher */
    RESTORE_FRAME
    .cfi_endproc
    .size   weft__switch, .-weft__switch

#ifdef WEFT__ASM_CORO
/*
 * int weft_coro_resume(weft_coro *co, void *in, void **out): the C version
 * in coro.c, with the switch built in. rdi = co, rsi = in, rdx = out. A
 * NULL or not suspended co goes to weft__coro_resume_slow() with the
 * arguments untouched. The running context (weft__tls.current, the
 * resumer) is left intact until its frame is pushed.
 */
    .globl  weft_coro_resume
    .type   weft_coro_resume, @function
    .p2align 4
weft_coro_resume:
    .cfi_startproc
    WEFT_ENDBR
    testq   %rdi, %rdi
    jz      weft__coro_resume_slow                  /* -EINVAL there */
    cmpl    $WEFT__CORO_SUSPENDED_, WEFT__CORO_STATE(%rdi)
    jne     weft__coro_resume_slow                  /* -EINVAL / -EBUSY */
    movq    weft__tls@gottpoff(%rip), %rcx          /* &weft__tls - %fs:0 */
    movq    %fs:WEFT__TLS_CURRENT(%rcx), %rax       /* self, set by create */
    movq    %rax, WEFT__CORO_RESUMER(%rdi)
    movq    WEFT__CORO_IN_SLOT(%rdi), %r8
    testq   %r8, %r8
    jz      1f
    movq    %rsi, (%r8)                             /* the value it yielded for */
1:  movq    %rdx, WEFT__CORO_OUT_SLOT(%rdi)         /* where its value goes */
    movl    $WEFT__CORO_ACTIVE_, WEFT__CORO_STATE(%rdi)
    SAVE_FRAME
    movq    %rsp, WEFT__CORO_SP(%rax)               /* self is suspended */
    movq    %rdi, %fs:WEFT__TLS_CURRENT(%rcx)       /* co runs */
    movq    WEFT__CORO_SP(%rdi), %rsp
    xorl    %eax, %eax                              /* its pending switch: 0 */
    RESTORE_FRAME
    .cfi_endproc
    .size   weft_coro_resume, .-weft_coro_resume

/*
 * int weft_coro_yield(void *value, void **in): rdi = value, rsi = in. A
 * blocked context (or none) goes to weft__coro_yield_slow() for its error.
 */
    .globl  weft_coro_yield
    .type   weft_coro_yield, @function
    .p2align 4
weft_coro_yield:
    .cfi_startproc
    WEFT_ENDBR
    movq    weft__tls@gottpoff(%rip), %rcx
    movq    %fs:WEFT__TLS_CURRENT(%rcx), %rax       /* self */
    testq   %rax, %rax
    jz      weft__coro_yield_slow                   /* no coroutine: -EPERM */
    cmpl    $0, WEFT__CORO_BLOCKED(%rax)
    jne     weft__coro_yield_slow                   /* -EPERM / -ECANCELED */
    movq    WEFT__CORO_OUT_SLOT(%rax), %r8
    testq   %r8, %r8
    jz      1f
    movq    %rdi, (%r8)                             /* the resumer's *out */
1:  movq    %rsi, WEFT__CORO_IN_SLOT(%rax)
    movl    $WEFT__CORO_SUSPENDED_, WEFT__CORO_STATE(%rax)
    movq    WEFT__CORO_RESUMER(%rax), %rdx
    SAVE_FRAME
    movq    %rsp, WEFT__CORO_SP(%rax)               /* self is suspended */
    movq    %rdx, %fs:WEFT__TLS_CURRENT(%rcx)       /* the resumer runs */
    movq    WEFT__CORO_SP(%rdx), %rsp
    xorl    %eax, %eax                              /* WEFT_CORO_YIELDED */
    RESTORE_FRAME
    .cfi_endproc
    .size   weft_coro_yield, .-weft_coro_yield
#endif /* WEFT__ASM_CORO */

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
