/*
 * weft/version.h - the version of the weft headers, and of the library.
 *
 * The macros say which headers a program was compiled against;
 * weft_version() says which library it runs with (they differ when a shared
 * libweft.so.0 was upgraded underneath). The shared library's SONAME
 * changes with WEFT_VERSION_MAJOR only. CMakeLists.txt reads the project
 * version from these three lines: this file is its only source.
 */
#ifndef WEFT_VERSION_H
#define WEFT_VERSION_H

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0

/* The version as one comparable number: 0x00MMmmpp (as libuv's UV_VERSION_HEX). */
#define WEFT_VERSION_HEX \
    ((WEFT_VERSION_MAJOR << 16) | (WEFT_VERSION_MINOR << 8) | WEFT_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Returns the version of the weft library in use, as WEFT_VERSION_HEX
 * encodes it. Thread-safe. Never suspends.
 */
int weft_version(void);

/*
 * Returns the version of the weft library in use as "MAJOR.MINOR.PATCH", a
 * static string owned by weft. Thread-safe. Never suspends.
 */
const char *weft_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_VERSION_H */
