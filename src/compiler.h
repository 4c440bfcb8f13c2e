/*
 * compiler.h - what weft asks of the compiler: branch hints, and whether
 * the build is instrumented with AddressSanitizer (WEFT_ASAN), which the
 * switch and the stack pool must tell about every stack they hand over.
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

#define WEFT_LIKELY(x) __builtin_expect(!!(x), 1)
#define WEFT_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif /* WEFT_COMPILER_H */
