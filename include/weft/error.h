/*
 * weft/error.h - the error convention.
 *
 * Every weft function that can fail returns an int: 0 (or a count) on
 * success, a negative errno value on failure (-EINVAL, -ENOMEM, -EBUSY, ...).
 * weft never sets errno: all coroutines of a thread share it.
 */
#ifndef WEFT_ERROR_H
#define WEFT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Returns a static English description of a weft return code: "success" for
 * 0 and positive counts, the errno text for a negative errno, and "unknown
 * error" otherwise. The string is owned by weft and never freed. Thread-safe.
 * Never suspends.
 */
const char *weft_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_ERROR_H */
