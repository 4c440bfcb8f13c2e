/*
 * error.c - weft_strerror(): names for weft's return codes.
 *
 * weft reports failures as negative errno values, so the text is the C
 * library's own; strerrordesc_np() returns a static string, unlike
 * strerror(), which may format into a shared buffer.
 */
#define _GNU_SOURCE
#include <string.h>

#include "weft/error.h"

const char *weft_strerror(int code)
{
    if (code >= 0)
        return "success";
    const char *s = strerrordesc_np(-code);
    return s ? s : "unknown error";
}
