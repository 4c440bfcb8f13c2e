/*
 * version.c - weft_version(): the version the library was built as.
 *
 * The values are the header's macros as they were when this file was
 * compiled, so a program compares them with the macros it saw itself.
 */
#include "weft/version.h"

#define STR_(x) #x
#define STR(x) STR_(x)

int weft_version(void)
{
    return WEFT_VERSION_HEX;
}

const char *weft_version_string(void)
{
    return STR(WEFT_VERSION_MAJOR) "." STR(WEFT_VERSION_MINOR) "." STR(WEFT_VERSION_PATCH);
}
