/* test_support.h - what every Criterion test executable of Comet links
 * (tests/README has the rules these enforce):
 *
 * - per-test temporary directories: th_tmpdir() makes them under one
 *   directory per test; the test runner removes it when the test passed and
 *   keeps it (and prints where it is) when the test failed, crashed or timed
 *   out;
 * - report hooks in the runner: a skipped test is printed loudly, written to
 *   $COMET_SKIP_LOG, and fails the executable unless $COMET_ALLOW_SKIP says
 *   why skips are acceptable here; an assertion that fails in a .fini
 *   (Criterion would count the test as passed) fails the executable too;
 * - bounded waits: TH_WAIT_UNTIL polls a condition until it holds or a
 *   deadline passes; th_pace_ms() is the only other pause, for pacing that
 *   is not synchronisation (a slow consumer, a producer's rate).
 *
 * Test code calls these on its own thread; the hooks run in Criterion's
 * runner process. */
#ifndef COMET_TEST_SUPPORT_H
#define COMET_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_time.h"

/* A new directory "<prefix>-XXXXXX" inside the current test's directory
 * (created on first use); false on failure. Removed after the test when it
 * passed, kept and reported when it failed. */
bool th_tmpdir(char *out, size_t n, const char *prefix);
/* The current test's directory (created on first use). */
const char *th_test_dir(void);

/* One pause of a polling loop: 1 ms at first, growing to 50 ms. */
void th_poll_pause(unsigned attempt);
/* A pause that is not synchronisation (pacing, a simulated slow consumer);
 * `why` says which. Never use it to wait for something to happen. */
void th_pace_ms(int ms, const char *why);

/* Poll `cond` until it is true or timeout_ms passed; evaluates to its last
 * value. At most 100000 polls, whatever the clock does. */
#define TH_WAIT_UNTIL(cond, timeout_ms)                                                                      \
    __extension__({                                                                                          \
        int64_t th_deadline_ = rmq_mono_ms() + (timeout_ms);                                                 \
        bool th_ok_;                                                                                         \
        for (unsigned th_i_ = 0; !(th_ok_ = (cond)) && rmq_mono_ms() < th_deadline_ && th_i_ < 100000;       \
             th_i_++)                                                                                        \
            th_poll_pause(th_i_);                                                                            \
        th_ok_;                                                                                              \
    })

#endif
