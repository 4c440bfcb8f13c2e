/*
 * peer_fiber.cpp - Boost.Fiber as a peer of weft's scheduler: fibers on
 * one thread under its default round-robin scheduler, the C++ library
 * closest to weft's tasks. Built only where libboost_fiber and its headers
 * are found (see bench/CMakeLists.txt); the only C++ in weft-bench.
 *
 * yield: the main fiber launches a peer fiber that calls
 *        boost::this_fiber::yield() in a loop, and yields as often itself;
 *        ns_per_op is per yield, as weft's (one switch each).
 * spawn: boost::fibers::fiber f(fn); f.join(); with a function that
 *        returns at once: the fiber is created, run when the joiner
 *        blocks, and joined.
 *
 * Fibers get 64 KiB stacks like weft's tasks and the other peers
 * (PEER_STACK_SIZE; Boost's default is 128 KiB from malloc), from one
 * pooled_fixedsize_stack kept for the program's life: a finished fiber's
 * stack goes to the next one, as weft's pool reuses its slots. It is the
 * fastest of Boost's allocators here (the plain fiber f(fn), with the
 * default 128 KiB fixedsize_stack, spawned 5-30% slower in a test here).
 * No exception may cross into the C harness: each run catches them and
 * returns an errno.
 */
#include <cerrno>
#include <cstdint>
#include <memory>
#include <new>

#include <boost/fiber/all.hpp>

#include "harness.h"
#include "peer_stack.h"

namespace {

using boost::fibers::fiber;

/* The stack pool of every fiber made here; lives until exit. */
boost::fibers::pooled_fixedsize_stack &stacks()
{
    static boost::fibers::pooled_fixedsize_stack pool(PEER_STACK_SIZE);
    return pool;
}

int run_yield(uint64_t iters, bench_sample *out)
{
    try {
        // As in bench_yield.c: 2 * rounds yields, scaled back to iters.
        const uint64_t rounds = (iters + 1) / 2;
        volatile bool stop = false;
        fiber peer(std::allocator_arg, stacks(), [&stop] {
            while (!stop)
                boost::this_fiber::yield();
        });
        boost::this_fiber::yield(); // start the peer: now in its loop

        uint64_t t0 = bench_now_ns();
        for (uint64_t i = 0; i < rounds; i++)
            boost::this_fiber::yield();
        uint64_t t1 = bench_now_ns();

        stop = true;
        peer.join();
        out->ns = (double)(t1 - t0) * (double)iters / (double)(2 * rounds);
        return 0;
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    } catch (...) {
        return -EPROTO;
    }
}

void empty()
{
}

int run_spawn(uint64_t iters, bench_sample *out)
{
    try {
        uint64_t t0 = bench_now_ns();
        for (uint64_t i = 0; i < iters; i++) {
            fiber f(std::allocator_arg, stacks(), empty);
            f.join();
        }
        uint64_t t1 = bench_now_ns();
        out->ns = (double)(t1 - t0);
        return 0;
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    } catch (...) {
        return -EPROTO;
    }
}

} // namespace

extern "C" void peer_fiber_register(void)
{
    static const bench yield = {"yield", "boost_fiber", run_yield, 0, 0};
    static const bench spawn = {"spawn", "boost_fiber", run_spawn, 0, 0};
    bench_register(&yield);
    bench_register(&spawn);
}
