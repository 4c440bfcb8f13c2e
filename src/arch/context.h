/*
 * arch/context.h - the saved frame of a suspended context, per ABI.
 *
 * weft__switch() pushes the callee-saved state of the running context onto
 * its own stack, stores the stack pointer, loads the other context's stack
 * pointer and pops its state. A suspended context is therefore nothing but a
 * stack pointer pointing at one of these frames. The offsets below are used by
 * the .S files and checked against the C structs with _Static_assert, so the
 * two cannot drift apart. This header (with the .S files) is the only place
 * in weft that knows an architecture.
 *
 * The floating-point control state (MXCSR and the x87 control word, or
 * FPCR) belongs to each context too and is saved on every switch. x86-64
 * restores it every time (stmxcsr's result is slow to read back, ldmxcsr is
 * cheap); AArch64 writes FPCR only when the incoming value differs, since
 * there the write is the slow part.
 *
 * Built with WEFT_FP_CONTROL=thread (WEFT_FP_CONTROL_THREAD defined), the
 * floating-point control state belongs to the thread instead, shared by all
 * its coroutines: the frame has no slot for it and the switch neither saves
 * nor restores it. struct weft__frame describes the frame of either build
 * (debuggers read the layout from it).
 */
#ifndef WEFT_ARCH_CONTEXT_H
#define WEFT_ARCH_CONTEXT_H

#if defined(__x86_64__)

#ifndef WEFT_FP_CONTROL_THREAD
/*
 *  x86-64 System V frame, at the saved stack pointer:
 *
 *  offset  0x00   0x04   0x08  0x10  0x18  0x20  0x28  0x30  0x38
 *        +------+------+-----+-----+-----+-----+-----+-----+-----+
 *        |MXCSR | x87  | r12 | r13 | r14 | r15 | rbx | rbp | rip |
 *        |      | CW   |     |     |     |     |     |     |     |
 *        +------+------+-----+-----+-----+-----+-----+-----+-----+
 *  size 0x40. The frame ends where the caller's stack was at its call, so
 *  a frame built at a 16-byte aligned address resumes with rsp + 0x40
 *  16-byte aligned, exactly as after a call instruction that pushed rip.
 */
#define WEFT__CTX_FPU 0x00
#define WEFT__CTX_R12 0x08
#define WEFT__CTX_R13 0x10
#define WEFT__CTX_R14 0x18
#define WEFT__CTX_R15 0x20
#define WEFT__CTX_RBX 0x28
#define WEFT__CTX_RBP 0x30
#define WEFT__CTX_PC 0x38
#define WEFT__CTX_SIZE 0x40
#else
/*
 *  x86-64 System V frame of the WEFT_FP_CONTROL=thread build:
 *
 *  offset  0x00  0x08  0x10  0x18  0x20  0x28  0x30
 *        +-----+-----+-----+-----+-----+-----+-----+
 *        | r12 | r13 | r14 | r15 | rbx | rbp | rip |
 *        +-----+-----+-----+-----+-----+-----+-----+
 *  size 0x38: a frame ending at a 16-byte aligned address resumes with the
 *  stack pointer there, 16-byte aligned, as after the call that pushed rip.
 */
#define WEFT__CTX_R12 0x00
#define WEFT__CTX_R13 0x08
#define WEFT__CTX_R14 0x10
#define WEFT__CTX_R15 0x18
#define WEFT__CTX_RBX 0x20
#define WEFT__CTX_RBP 0x28
#define WEFT__CTX_PC 0x30
#define WEFT__CTX_SIZE 0x38
#endif

#elif defined(__aarch64__)

/*
 *  AArch64 AAPCS64 frame, at the saved stack pointer:
 *
 *  0x00 x19  0x08 x20  0x10 x21  0x18 x22  0x20 x23  0x28 x24
 *  0x30 x25  0x38 x26  0x40 x27  0x48 x28  0x50 x29  0x58 x30 (lr = pc)
 *  0x60 d8   0x68 d9   0x70 d10  0x78 d11  0x80 d12  0x88 d13
 *  0x90 d14  0x98 d15  0xa0 FPCR 0xa8 (pad, keeps sp 16-byte aligned)
 *
 *  size 0xb0.
 */
#define WEFT__CTX_X19 0x00
#define WEFT__CTX_X29 0x50
#define WEFT__CTX_PC 0x58
#define WEFT__CTX_D8 0x60
#ifndef WEFT_FP_CONTROL_THREAD
#define WEFT__CTX_FPU 0xa0
#define WEFT__CTX_SIZE 0xb0
#else
#define WEFT__CTX_SIZE 0xa0       /* the thread build: no FPCR, no pad */
#endif

#else
#error "weft supports x86-64 and AArch64 only"
#endif

#ifndef __ASSEMBLER__

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__)

struct weft__frame {
#ifndef WEFT_FP_CONTROL_THREAD
    uint32_t mxcsr;   /* SSE control and status: rounding, FTZ, DAZ */
    uint16_t x87_cw;  /* x87 control word: precision and rounding */
    uint16_t pad;     /* unused; keeps the registers 8-byte aligned */
#endif
    uint64_t r12, r13, r14, r15, rbx, rbp; /* callee-saved integers */
    uint64_t pc;      /* where weft__switch returns to */
};

#ifndef WEFT_FP_CONTROL_THREAD
_Static_assert(offsetof(struct weft__frame, mxcsr) == WEFT__CTX_FPU, "mxcsr");
_Static_assert(offsetof(struct weft__frame, x87_cw) == WEFT__CTX_FPU + 4, "cw");
#endif
_Static_assert(offsetof(struct weft__frame, r12) == WEFT__CTX_R12, "r12");
_Static_assert(offsetof(struct weft__frame, r13) == WEFT__CTX_R13, "r13");
_Static_assert(offsetof(struct weft__frame, r14) == WEFT__CTX_R14, "r14");
_Static_assert(offsetof(struct weft__frame, r15) == WEFT__CTX_R15, "r15");
_Static_assert(offsetof(struct weft__frame, rbx) == WEFT__CTX_RBX, "rbx");
_Static_assert(offsetof(struct weft__frame, rbp) == WEFT__CTX_RBP, "rbp");
_Static_assert(offsetof(struct weft__frame, pc) == WEFT__CTX_PC, "pc");

/* The register weft__entry() finds the coroutine record in. */
#define WEFT__FRAME_SET_ARG(f, p) ((f)->rbx = (uint64_t)(uintptr_t)(p))

/* Copies the running thread's floating-point control state into `f`. */
static inline void weft__frame_fpu_capture(struct weft__frame *f)
{
#ifndef WEFT_FP_CONTROL_THREAD
    __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(f->mxcsr), "=m"(f->x87_cw));
#else
    (void)f;          /* the thread's, shared: nothing to copy */
#endif
}

#elif defined(__aarch64__)

struct weft__frame {
    uint64_t x[11];   /* x19..x29: callee-saved integers and frame pointer */
    uint64_t pc;      /* x30: where weft__switch returns to */
    uint64_t d[8];    /* d8..d15: callee-saved low halves of v8..v15 */
#ifndef WEFT_FP_CONTROL_THREAD
    uint64_t fpcr;    /* floating-point control: rounding, FZ, DN */
    uint64_t pad;     /* keeps the frame a multiple of 16 bytes */
#endif
};

_Static_assert(offsetof(struct weft__frame, x) == WEFT__CTX_X19, "x19");
_Static_assert(offsetof(struct weft__frame, x[10]) == WEFT__CTX_X29, "x29");
_Static_assert(offsetof(struct weft__frame, pc) == WEFT__CTX_PC, "pc");
_Static_assert(offsetof(struct weft__frame, d) == WEFT__CTX_D8, "d8");
#ifndef WEFT_FP_CONTROL_THREAD
_Static_assert(offsetof(struct weft__frame, fpcr) == WEFT__CTX_FPU, "fpcr");
#endif

/* The register weft__entry() finds the coroutine record in (x19). */
#define WEFT__FRAME_SET_ARG(f, p) ((f)->x[0] = (uint64_t)(uintptr_t)(p))

static inline void weft__frame_fpu_capture(struct weft__frame *f)
{
#ifndef WEFT_FP_CONTROL_THREAD
    uint64_t v;
    __asm__ volatile("mrs %0, fpcr" : "=r"(v));
    f->fpcr = v;
#else
    (void)f;          /* the thread's, shared: nothing to copy */
#endif
}

_Static_assert(WEFT__CTX_SIZE % 16 == 0, "sp stays 16-byte aligned across a switch");

#endif

_Static_assert(sizeof(struct weft__frame) == WEFT__CTX_SIZE, "frame size");

/*
 * Saves the running context's frame on its stack, stores its stack pointer in
 * *save_sp, and resumes the context whose frame is at `to_sp`. There, the
 * weft__switch() call that suspended it returns `code`. Written in assembly
 * (src/arch/<abi>.S); clobbers everything a call may clobber.
 */
int weft__switch(void **save_sp, void *to_sp, int code);

/*
 * Where a new context starts: the frame built by weft__frame_init() returns
 * here. It calls weft__coro_main(the coroutine record) and never returns; its
 * CFI marks the return address undefined so debuggers stop at it.
 */
void weft__entry(void);

/*
 * Builds the first frame of a context whose stack ends (exclusive) at `top`,
 * a 16-byte aligned address; weft__switch() to the returned stack pointer
 * starts weft__entry() with `arg` for weft__coro_main(). The new context
 * inherits the floating-point control state of the caller, as a new thread
 * does.
 */
static inline void *weft__frame_init(void *top, void *arg)
{
    struct weft__frame *f = (struct weft__frame *)top - 1;
    *f = (struct weft__frame){0};
    weft__frame_fpu_capture(f);
    WEFT__FRAME_SET_ARG(f, arg);
    f->pc = (uint64_t)(uintptr_t)weft__entry;
    return f;
}

#endif /* !__ASSEMBLER__ */

#endif /* WEFT_ARCH_CONTEXT_H */
