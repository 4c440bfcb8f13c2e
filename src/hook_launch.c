/*
 * hook_launch.c - weft-run, the launcher of weft/hook.h's preloading:
 *
 *   weft-run [-n N] program [args...]
 *
 * runs `program` (built without weft) with libweft_hook.so preloaded and
 * its main() as N tasks of one weft loop (1 by default): N copies of a
 * blocking program share one thread. It only sets LD_PRELOAD (in front of
 * what is there), WEFT_HOOK_MAIN=N and, under AddressSanitizer, lets the
 * preloaded library come before the sanitizer's runtime; then execs.
 * WEFT_HOOK_LIB overrides the library's path (the build tree's by default).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *copies = "1";
    int i = 1;
    if (i + 1 < argc && !strcmp(argv[i], "-n")) {
        copies = argv[i + 1];
        i += 2;
    }
    if (i >= argc || atol(copies) <= 0) {
        fprintf(stderr, "usage: weft-run [-n copies] program [args...]\n");
        return 2;
    }
    const char *lib = getenv("WEFT_HOOK_LIB") ? getenv("WEFT_HOOK_LIB") : WEFT_HOOK_LIB;
    const char *old = getenv("LD_PRELOAD");
    char *preload = malloc(strlen(lib) + (old ? strlen(old) + 1 : 0) + 1);
    if (!preload)
        return 127;
    sprintf(preload, "%s%s%s", lib, old ? ":" : "", old ? old : "");
    setenv("LD_PRELOAD", preload, 1);
    setenv("WEFT_HOOK_MAIN", copies, 1);
    if (!getenv("ASAN_OPTIONS"))
        setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
    execvp(argv[i], argv + i);
    perror(argv[i]);
    return 127;
}
