/* test_support.c - per-test temporary directories, bounded waits, and the
 * Criterion report hooks that make skips and .fini failures count. The
 * hooks run in Criterion's runner process; th_tmpdir and the waits run on a
 * test's thread in its worker process. */
#include "test_support.h"

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ROOT_ENV "COMET_TEST_ROOT"

/* ------------------------------------------------------------ directories */

static char root_dir[400];

static const char *root(void)
{
    const char *r = getenv(ROOT_ENV);
    if (r && *r)
        return r;
    if (!root_dir[0]) {
        /* not started by the runner's PRE_ALL hook (--list, a debugger):
         * a root of our own */
        const char *t = getenv("TMPDIR");
        snprintf(root_dir, sizeof(root_dir), "%s/comet-test-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(root_dir))
            return "/tmp";
        setenv(ROOT_ENV, root_dir, 1);
    }
    return root_dir;
}

static void test_dir_of(const struct criterion_test *t, char *out, size_t n)
{
    int k = snprintf(out, n, "%s/", root());
    for (const char *p = t->category; *p && (size_t)k + 1 < n; p++)
        out[k++] = (char)((*p == '/' || *p == ' ') ? '_' : *p);
    if ((size_t)k + 1 < n)
        out[k++] = '.';
    for (const char *p = t->name; *p && (size_t)k + 1 < n; p++)
        out[k++] = (char)((*p == '/' || *p == ' ') ? '_' : *p);
    out[k < (int)n ? k : (int)n - 1] = 0;
}

const char *th_test_dir(void)
{
    static char dir[512];
    if (criterion_current_test)
        test_dir_of(criterion_current_test, dir, sizeof(dir));
    else
        snprintf(dir, sizeof(dir), "%s/no-test", root());
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return root();
    return dir;
}

bool th_tmpdir(char *out, size_t n, const char *prefix)
{
    int k = snprintf(out, n, "%s/%s-XXXXXX", th_test_dir(), prefix);
    return k > 0 && (size_t)k < n && mkdtemp(out) != NULL;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *dir)
{
    /* FTW_MOUNT: never descend into a file system a failed test left mounted */
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* ------------------------------------------------------------------ waits */

void th_poll_pause(unsigned attempt)
{
    long ms = attempt < 10 ? 1 : attempt < 40 ? 10 : 50;
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

void th_pace_ms(int ms, const char *why)
{
    (void)why;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------------------------ hooks */

static int extra_failures; /* .fini failures: Criterion counts those tests as passed */
static int skips;

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    const char *t = getenv("TMPDIR");
    snprintf(root_dir, sizeof(root_dir), "%s/comet-test-XXXXXX", t && *t ? t : "/tmp");
    if (mkdtemp(root_dir))
        setenv(ROOT_ENV, root_dir, 1); /* inherited by every worker */
    else
        root_dir[0] = 0;
}

static void note_skip(const struct criterion_test_stats *st)
{
    skips++;
    char line[1024];
    snprintf(line, sizeof(line), "COMET-SKIP %s::%s: %s\n", st->test->category, st->test->name,
             st->message && *st->message ? st->message : "(no reason given: that is a bug in the test)");
    fprintf(stderr, "\n!!!!! %s", line);
    const char *log = getenv("COMET_SKIP_LOG");
    if (log && *log) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            if (write(fd, line, strlen(line)) < 0)
                fprintf(stderr, "cannot append to %s\n", log);
            close(fd);
        }
    }
}

static void keep_or_remove(const struct criterion_test *t, bool passed, const char *why)
{
    char dir[512];
    test_dir_of(t, dir, sizeof(dir));
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return;
    if (passed)
        rm_tree(dir);
    else
        fprintf(stderr, "comet: %s::%s %s; its files (server logs, stores) are kept in %s\n", t->category,
                t->name, why, dir);
}

ReportHook(POST_FINI)(struct criterion_test_stats *st)
{
    if (st->test_status == CR_STATUS_SKIPPED) {
        note_skip(st);
        keep_or_remove(st->test, true, "");
        return;
    }
    bool passed = st->test_status == CR_STATUS_PASSED && !st->crashed && !st->timed_out;
    if (passed && st->failed_asserts > 0) {
        /* the test body passed but an assertion in .fini failed (a server
         * that did not exit cleanly, a leftover): Criterion would report a
         * pass */
        fprintf(stderr, "[FAIL] %s::%s: an assertion failed after the test, in .fini (see above)\n",
                st->test->category, st->test->name);
        extra_failures++;
        passed = false;
    }
    keep_or_remove(st->test, passed, st->timed_out ? "timed out" : "failed");
}

ReportHook(TEST_CRASH)(struct criterion_test_stats *st)
{
    keep_or_remove(st->test, false, "crashed");
}

ReportHook(POST_ALL)(struct criterion_global_stats *st)
{
    if (extra_failures)
        st->tests_failed += (size_t)extra_failures;
    if (skips) {
        const char *allow = getenv("COMET_ALLOW_SKIP");
        if (allow && *allow) {
            fprintf(stderr, "comet: %d test(s) skipped (allowed: COMET_ALLOW_SKIP=\"%s\")\n", skips, allow);
        } else {
            fprintf(stderr,
                    "comet: %d test(s) skipped: a skip is not a pass. Fix what is missing, or set "
                    "COMET_ALLOW_SKIP to the reason skips are acceptable on this machine.\n",
                    skips);
            st->tests_failed += (size_t)skips;
        }
    }
    if (root_dir[0] && rmdir(root_dir) != 0 && errno != ENOENT)
        fprintf(stderr, "comet: data of the failed tests is kept under %s\n", root_dir);
}
