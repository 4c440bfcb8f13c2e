/*
 * compiler.h - what weft asks of the compiler: branch hints, and whether
 * the build is instrumented with AddressSanitizer (WEFT_ASAN) or
 * ThreadSanitizer (WEFT_TSAN), which the switch must tell about every
 * change of stack.
 */
#ifndef WEFT_COMPILER_H
#define WEFT_COMPILER_H

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN 1
#endif
#endif

#define WEFT_LIKELY(x) __builtin_expect(!!(x), 1)
#define WEFT_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif /* WEFT_COMPILER_H */
