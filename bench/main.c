/*
 * main.c - weft-bench: registers every benchmark group and runs the harness.
 * The order here is the order of the table: weft first, then its peers.
 */
#include "harness.h"

int main(int argc, char **argv)
{
    bench_switch_register();
    bench_create_register();
    bench_memory_register();
    bench_yield_register();
    bench_spawn_register();
    bench_sleepers_register();
    bench_timer_heap_register();
    bench_sync_register();
    bench_io_register();
    bench_loops_register();
    peer_ucontext_register();
#ifdef WEFT_BENCH_HAVE_FCONTEXT
    peer_fcontext_register();
#endif
#ifdef WEFT_BENCH_HAVE_FIBER
    peer_fiber_register();
#endif
    return bench_main(argc, argv);
}
