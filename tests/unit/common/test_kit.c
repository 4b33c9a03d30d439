/* test_kit.c - the runtime kit of common/: service threads (lifecycle,
 * coalesced wake-ups), workers and the event-loop mailbox (many producer
 * threads), file helpers (atomic write and its failure path, mkdirs,
 * expand_home), the background file writer, and per-instance loggers.
 *
 * Temporary directories are /tmp/comet-unit-<runner pid>-<test>; the report
 * hook below removes them after a passing test and prints where they are
 * after a failing one. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_support.h"
#include "rmq_alloc.h"
#include "rmq_file.h"
#include "rmq_file_writer.h"
#include "rmq_log.h"
#include "rmq_mailbox.h"
#include "rmq_service.h"
#include "rmq_time.h"
#include "rmq_worker.h"

#define WAIT_MS 10000 /* bound of every wait below: far above what a pass needs */

/* ------------------------------------------------------------ temp dirs */

/* The test's own directory (test_support: removed when the test passes,
 * kept and named when it fails). */
static const char *test_dir(void)
{
    return th_test_dir();
}

/* Poll cond (an expression) every ms until true or WAIT_MS passed. */
#define WAIT_FOR(cond) ((void)TH_WAIT_UNTIL(cond, WAIT_MS))

/* --------------------------------------------------------- service thread */

typedef struct {
    _Atomic int rounds; /* loop iterations */
    _Atomic int woken;  /* waits that returned because of a wake-up */
    _Atomic bool final; /* ran the code after its loop */
    _Atomic bool running;
    int64_t wait_ms;
} svc_probe_t;

static void probe_main(rmq_service_t *svc, void *arg)
{
    svc_probe_t *p = arg;
    atomic_store(&p->running, true);
    while (!rmq_service_stopped(svc)) {
        if (rmq_service_wait_for_running(svc, p->wait_ms))
            atomic_fetch_add(&p->woken, 1);
        atomic_fetch_add(&p->rounds, 1);
    }
    atomic_store(&p->final, true);
}

Test(kit, service_lifecycle)
{
    svc_probe_t p = {.wait_ms = -1};
    rmq_service_t *svc = rmq_service_new("KitProbe", probe_main, &p);
    cr_expect_str_eq(rmq_service_name(svc), "KitProbe");
    cr_expect_not(rmq_service_started(svc), "not started before start");
    rmq_service_stop(svc); /* stopping a service that never ran is a no-op */
    cr_assert_eq(rmq_service_start(svc), RMQ_OK);
    cr_expect(rmq_service_started(svc));
    cr_expect_eq(rmq_service_start(svc), RMQ_ERR__STATE, "a second start is refused");
    WAIT_FOR(atomic_load(&p.running));
    cr_assert(atomic_load(&p.running), "the thread never ran");
    /* waits without a time limit: only stop can end it */
    rmq_service_stop(svc);
    cr_expect(atomic_load(&p.final), "stop returned before the thread finished its final work");
    cr_expect_not(rmq_service_started(svc), "joined after stop");
    rmq_service_stop(svc); /* twice is fine */
    rmq_service_free(svc);
    rmq_service_free(NULL);
}

Test(kit, service_wakeup_is_not_lost)
{
    svc_probe_t p = {.wait_ms = -1};
    rmq_service_t *svc = rmq_service_new("KitWake", probe_main, &p);
    /* a wake-up before start is kept: the first wait returns at once */
    rmq_service_wakeup(svc);
    cr_assert_eq(rmq_service_start(svc), RMQ_OK);
    WAIT_FOR(atomic_load(&p.woken) >= 1);
    cr_assert_eq(atomic_load(&p.woken), 1, "the wake-up given before start was lost");
    for (int i = 2; i <= 20; i++) {
        /* wait until the thread sleeps again, then wake it: each one counts */
        WAIT_FOR(atomic_load(&p.rounds) >= i - 1);
        rmq_service_wakeup(svc);
        WAIT_FOR(atomic_load(&p.woken) >= i);
        cr_assert_eq(atomic_load(&p.woken), i, "wake-up %d was lost", i);
    }
    rmq_service_free(svc);
}

Test(kit, service_wakeups_coalesce)
{
    svc_probe_t p = {.wait_ms = -1};
    rmq_service_t *svc = rmq_service_new("KitBatch", probe_main, &p);
    cr_assert_eq(rmq_service_start(svc), RMQ_OK);
    WAIT_FOR(atomic_load(&p.running));
    /* a burst of wake-ups from a producer: the thread runs at least once and
     * at most once per wake-up, never more */
    for (int i = 0; i < 100000; i++)
        rmq_service_wakeup(svc);
    WAIT_FOR(atomic_load(&p.woken) >= 1);
    int woken = atomic_load(&p.woken);
    cr_expect(woken >= 1 && woken <= 100000, "woken %d times for 100000 wake-ups", woken);
    rmq_service_free(svc);
}

Test(kit, service_wait_times_out)
{
    svc_probe_t p = {.wait_ms = 1};
    rmq_service_t *svc = rmq_service_new("KitTick", probe_main, &p);
    cr_assert_eq(rmq_service_start(svc), RMQ_OK);
    WAIT_FOR(atomic_load(&p.rounds) >= 5);
    cr_expect(atomic_load(&p.rounds) >= 5, "a 1 ms wait did not return by itself");
    cr_expect_eq(atomic_load(&p.woken), 0, "no wake-up was given");
    rmq_service_free(svc);
}

typedef struct {
    rmq_service_t *svc;
    int n;
} waker_t;

static void *waker_main(void *arg)
{
    waker_t *w = arg;
    for (int i = 0; i < w->n; i++)
        rmq_service_wakeup(w->svc);
    return NULL;
}

Test(kit, service_throttled_wakeups_still_arrive)
{
    /* with a wake interval, a missed signal is picked up by the short wait */
    svc_probe_t p = {.wait_ms = 1};
    rmq_service_t *svc = rmq_service_new("KitThrottle", probe_main, &p);
    rmq_service_set_wake_interval_us(svc, 200);
    cr_assert_eq(rmq_service_start(svc), RMQ_OK);
    waker_t w = {svc, 20000};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, waker_main, &w);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    WAIT_FOR(atomic_load(&p.woken) >= 1);
    cr_expect(atomic_load(&p.woken) >= 1, "no wake-up arrived");
    rmq_service_free(svc);
}

Test(kit, cond_wait_ms)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c;
    rmq_cond_init(&c);
    pthread_mutex_lock(&m);
    int64_t t0 = rmq_mono_ms();
    cr_expect_not(rmq_cond_wait_ms(&c, &m, 20), "nobody signals: a timeout");
    cr_expect_geq(rmq_mono_ms() - t0, 19, "returned before its timeout");
    cr_expect_not(rmq_cond_wait_ms(&c, &m, 0));
    pthread_mutex_unlock(&m);
    pthread_cond_destroy(&c);
}

/* ---------------------------------------------------- worker and mailbox */

#define PRODUCERS 4
#define PER_PRODUCER 5000

typedef struct {
    pthread_mutex_t mu;
    int next[PRODUCERS]; /* per producer, the sequence number expected next */
    _Atomic int total;
    _Atomic bool out_of_order;
    _Atomic bool wrong_thread;
    pthread_t consumer; /* set by the first job */
    _Atomic bool consumer_known;
} order_t;

typedef struct {
    order_t *o;
    int producer, seq;
} job_arg_t;

static void ordered_job(void *arg)
{
    job_arg_t *a = arg;
    order_t *o = a->o;
    pthread_mutex_lock(&o->mu);
    if (!atomic_load(&o->consumer_known)) {
        o->consumer = pthread_self();
        atomic_store(&o->consumer_known, true);
    } else if (!pthread_equal(o->consumer, pthread_self())) {
        atomic_store(&o->wrong_thread, true);
    }
    if (o->next[a->producer] != a->seq)
        atomic_store(&o->out_of_order, true);
    o->next[a->producer] = a->seq + 1;
    pthread_mutex_unlock(&o->mu);
    atomic_fetch_add(&o->total, 1);
    free(a);
}

typedef struct {
    order_t *o;
    int producer;
    void (*post)(void *target, rmq_job_fn *fn, void *arg);
    void *target;
} producer_t;

static void *producer_main(void *arg)
{
    producer_t *p = arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        job_arg_t *a = rmq_malloc(sizeof(*a));
        a->o = p->o;
        a->producer = p->producer;
        a->seq = i;
        p->post(p->target, ordered_job, a);
    }
    return NULL;
}

static void run_producers(order_t *o, void (*post)(void *, rmq_job_fn *, void *), void *target)
{
    producer_t p[PRODUCERS];
    pthread_t th[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        p[i] = (producer_t){o, i, post, target};
        pthread_create(&th[i], NULL, producer_main, &p[i]);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(th[i], NULL);
}

static void worker_post(void *w, rmq_job_fn *fn, void *arg)
{
    rmq_worker_post(w, fn, arg);
}

Test(kit, worker_many_producers_in_order)
{
    order_t o = {.mu = PTHREAD_MUTEX_INITIALIZER};
    rmq_worker_t *w = rmq_worker_start("KitWorker", NULL);
    cr_assert_not_null(w);
    run_producers(&o, worker_post, w);
    rmq_worker_stop(w); /* runs what is queued first */
    cr_expect_eq(atomic_load(&o.total), PRODUCERS * PER_PRODUCER, "lost or repeated jobs");
    cr_expect_not(atomic_load(&o.out_of_order), "one producer's jobs ran out of order");
    cr_expect_not(atomic_load(&o.wrong_thread), "jobs ran on more than one thread");
    /* after stop, a post runs on the caller */
    job_arg_t *a = rmq_malloc(sizeof(*a));
    *a = (job_arg_t){&o, 0, PER_PRODUCER};
    o.consumer = pthread_self();
    rmq_worker_post(w, ordered_job, a);
    cr_expect_eq(atomic_load(&o.total), PRODUCERS * PER_PRODUCER + 1, "the late post did not run inline");
    rmq_worker_free(w);
}

typedef struct {
    struct event_base *base;
    rmq_mailbox_t *mb;
} loop_t;

static void *loop_main(void *arg)
{
    loop_t *l = arg;
    event_base_loop(l->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static void mailbox_post(void *mb, rmq_job_fn *fn, void *arg)
{
    rmq_mailbox_post(mb, fn, arg);
}

static void stop_loop(void *arg)
{
    event_base_loopbreak(arg);
}

Test(kit, mailbox_many_producers_in_order)
{
    order_t o = {.mu = PTHREAD_MUTEX_INITIALIZER};
    loop_t l;
    l.base = rmq_loop_base_new();
    cr_assert_not_null(l.base);
    l.mb = rmq_mailbox_new(l.base);
    pthread_t th;
    pthread_create(&th, NULL, loop_main, &l);
    run_producers(&o, mailbox_post, l.mb);
    WAIT_FOR(atomic_load(&o.total) == PRODUCERS * PER_PRODUCER);
    cr_expect_eq(atomic_load(&o.total), PRODUCERS * PER_PRODUCER, "jobs lost on the way to the loop");
    cr_expect_not(atomic_load(&o.out_of_order), "one producer's jobs ran out of order");
    cr_expect_not(atomic_load(&o.wrong_thread), "jobs ran outside the loop thread");
    cr_expect(pthread_equal(o.consumer, th), "jobs did not run on the loop thread");
    rmq_mailbox_post(l.mb, stop_loop, l.base);
    pthread_join(th, NULL);
    rmq_mailbox_free(l.mb);
    event_base_free(l.base);
}

static void count_job(void *arg)
{
    atomic_fetch_add((_Atomic int *)arg, 1);
}

Test(kit, mailbox_every_job_runs_once)
{
    /* jobs posted (also with a delay) to a loop that never runs again run
     * exactly once when the mailbox is drained at shutdown */
    _Atomic int n = 0;
    struct event_base *base = rmq_loop_base_new();
    rmq_mailbox_t *mb = rmq_mailbox_new(base);
    rmq_mailbox_post(mb, count_job, &n);
    rmq_mailbox_post_after(mb, 60000, count_job, &n);
    event_base_loop(base, EVLOOP_NONBLOCK); /* runs the first, arms the delayed one */
    cr_expect_eq(atomic_load(&n), 1, "the immediate job did not run on the loop");
    rmq_mailbox_post(mb, count_job, &n);
    rmq_mailbox_drain(mb);
    cr_expect_eq(atomic_load(&n), 3, "drain must run queued and delayed jobs");
    rmq_mailbox_post(mb, count_job, &n);
    rmq_mailbox_free(mb);
    cr_expect_eq(atomic_load(&n), 4, "free must run what is still queued");
    event_base_free(base);
}

Test(kit, mailbox_delayed_job_runs_on_the_loop)
{
    _Atomic int n = 0;
    loop_t l;
    l.base = rmq_loop_base_new();
    l.mb = rmq_mailbox_new(l.base);
    pthread_t th;
    pthread_create(&th, NULL, loop_main, &l);
    rmq_mailbox_post_after(l.mb, 20, count_job, &n);
    WAIT_FOR(atomic_load(&n) == 1);
    cr_expect_eq(atomic_load(&n), 1, "the delayed job never ran");
    rmq_mailbox_post(l.mb, stop_loop, l.base);
    pthread_join(th, NULL);
    rmq_mailbox_free(l.mb);
    event_base_free(l.base);
}

/* ------------------------------------------------------------ file helpers */

static char *slurp(const char *path)
{
    char *d = NULL;
    size_t n = 0;
    cr_assert_eq(rmq_file_read_all(path, &d, &n), RMQ_OK, "cannot read %s", path);
    cr_assert_eq(strlen(d), n);
    return d;
}

Test(kit, atomic_write_replaces_the_file)
{
    const char *dir = test_dir();
    char *path = rmq_asprintf("%s/f.json", dir);
    cr_assert_eq(rmq_file_write_atomic(path, "old", 3), RMQ_OK);
    cr_assert_eq(rmq_file_write_atomic(path, "new content", 11), RMQ_OK);
    char *d = slurp(path);
    cr_expect_str_eq(d, "new content");
    free(d);
    char *tmp = rmq_asprintf("%s.tmp", path);
    cr_expect_neq(access(tmp, F_OK), 0, "the temporary file must be gone");
    struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
    cr_assert_eq(rmq_file_write_atomicv(path, iov, 2), RMQ_OK);
    d = slurp(path);
    cr_expect_str_eq(d, "abcd", "pieces are written in order");
    free(d);
    free(tmp);
    free(path);
}

Test(kit, atomic_write_failure_keeps_the_old_file)
{
    const char *dir = test_dir();
    /* the target is a non-empty directory: the rename must fail */
    char *path = rmq_asprintf("%s/busy", dir);
    char *inner = rmq_asprintf("%s/busy/x", dir);
    cr_assert_eq(rmq_mkdirs(inner), 0);
    cr_expect_eq(rmq_file_write_atomic(path, "data", 4), RMQ_ERR__IO);
    char *tmp = rmq_asprintf("%s.tmp", path);
    cr_expect_neq(access(tmp, F_OK), 0, "a failed write must remove its temporary file");
    struct stat st;
    cr_expect(stat(inner, &st) == 0 && S_ISDIR(st.st_mode), "the old content must be untouched");
    /* a directory that does not exist: open fails, nothing is created */
    char *nodir = rmq_asprintf("%s/missing/f", dir);
    cr_expect_eq(rmq_file_write_atomic(nodir, "data", 4), RMQ_ERR__IO);
    cr_expect_eq(errno, ENOENT, "errno tells why");
    char *missing = rmq_asprintf("%s/missing", dir);
    cr_expect_neq(access(missing, F_OK), 0);
    free(missing);
    free(nodir);
    free(tmp);
    free(inner);
    free(path);
}

Test(kit, read_all_missing_file)
{
    char *d = NULL;
    size_t n = 0;
    cr_expect_eq(rmq_file_read_all("/nonexistent/comet/file", &d, &n), RMQ_ERR__NOENT);
    cr_expect_null(d);
}

Test(kit, mkdirs)
{
    const char *dir = test_dir();
    char *deep = rmq_asprintf("%s/a/b/c/", dir);
    cr_expect_eq(rmq_mkdirs(deep), 0);
    struct stat st;
    cr_expect(stat(deep, &st) == 0 && S_ISDIR(st.st_mode));
    cr_expect_eq(rmq_mkdirs(deep), 0, "an existing directory is fine");
    char *file = rmq_asprintf("%s/plain", dir);
    cr_assert_eq(rmq_file_write_atomic(file, "x", 1), RMQ_OK);
    cr_expect_eq(rmq_mkdirs(file), -1, "a file in the way is an error");
    cr_expect_eq(errno, EEXIST);
    free(file);
    free(deep);
}

Test(kit, expand_home)
{
    const char *home = getenv("HOME");
    char *saved = home ? rmq_strdup(home) : NULL;
    setenv("HOME", "/home/u", 1);
    char *p = rmq_expand_home("~/store");
    cr_expect_str_eq(p, "/home/u/store");
    free(p);
    p = rmq_expand_home("~");
    cr_expect_str_eq(p, "/home/u");
    free(p);
    p = rmq_expand_home("~other/x");
    cr_expect_str_eq(p, "~other/x", "only ~ and ~/ are expanded");
    free(p);
    p = rmq_expand_home("/abs/~/x");
    cr_expect_str_eq(p, "/abs/~/x");
    free(p);
    unsetenv("HOME");
    p = rmq_expand_home("~/store");
    cr_expect_str_eq(p, "/tmp/store", "no HOME: /tmp");
    free(p);
    if (saved) {
        setenv("HOME", saved, 1);
        free(saved);
    }
}

/* ------------------------------------------------------------ file writer */

static _Atomic int slow_writes;

static rmq_err_t slow_write(const char *path, const void *data, size_t len)
{
    atomic_fetch_add(&slow_writes, 1);
    th_pace_ms(2, "a slow disk");
    return rmq_file_write_atomic(path, data, len);
}

Test(kit, file_writer_keeps_the_latest)
{
    const char *dir = test_dir();
    rmq_file_writer_t *w = rmq_file_writer_start("KitWriter", slow_write);
    cr_assert_not_null(w);
    char *a = rmq_asprintf("%s/a", dir), *b = rmq_asprintf("%s/b", dir);
    for (int i = 0; i < 200; i++) {
        char *va = rmq_asprintf("a%d", i), *vb = rmq_asprintf("b%d", i);
        rmq_file_writer_submit(w, a, (uint8_t *)va, strlen(va));
        rmq_file_writer_submit(w, b, (uint8_t *)vb, strlen(vb));
    }
    cr_expect_eq(rmq_file_writer_sync(w), RMQ_OK);
    /* sync returned: both files hold their newest content */
    char *d = slurp(a);
    cr_expect_str_eq(d, "a199");
    free(d);
    d = slurp(b);
    cr_expect_str_eq(d, "b199");
    free(d);
    cr_expect_lt(atomic_load(&slow_writes), 400, "superseded contents must not all be written");
    rmq_file_writer_submit(w, a, (uint8_t *)rmq_strdup("last"), 4);
    rmq_file_writer_stop(w); /* writes what is queued */
    d = slurp(a);
    cr_expect_str_eq(d, "last", "stop must write the queue first");
    free(d);
    free(a);
    free(b);
}

Test(kit, file_writer_reports_failures)
{
    rmq_file_writer_t *w = rmq_file_writer_start("KitWriterErr", NULL);
    rmq_file_writer_submit(w, "/nonexistent/comet/dir/f", (uint8_t *)rmq_strdup("x"), 1);
    cr_expect_eq(rmq_file_writer_sync(w), RMQ_ERR__IO, "sync returns the write's error");
    rmq_file_writer_stop(w);
}

/* ---------------------------------------------------------------- loggers */

typedef struct {
    pthread_mutex_t mu;
    int lines;
    int foreign; /* lines carrying another handle's tag */
    const char *tag;
} sink_t;

static void sink_cb(void *opaque, int level, const char *facility, const char *msg)
{
    sink_t *s = opaque;
    pthread_mutex_lock(&s->mu);
    s->lines++;
    if (!strstr(msg, s->tag))
        s->foreign++;
    pthread_mutex_unlock(&s->mu);
}

typedef struct {
    rmq_logger_t *lg;
    const char *tag;
} log_thread_t;

static void *log_main(void *arg)
{
    log_thread_t *t = arg;
    rmq_log_use(t->lg);
    for (int i = 0; i < 2000; i++) {
        rmq_log(RMQ_LOG_INFO, "kit", "%s line %d", t->tag, i);
        rmq_log(RMQ_LOG_DEBUG, "kit", "%s hidden %d", t->tag, i); /* below this logger's level */
    }
    return NULL;
}

Test(kit, loggers_do_not_cross)
{
    sink_t sa = {PTHREAD_MUTEX_INITIALIZER, 0, 0, "handle-A"};
    sink_t sb = {PTHREAD_MUTEX_INITIALIZER, 0, 0, "handle-B"};
    rmq_logger_t la, lb;
    rmq_logger_init(&la, RMQ_LOG_INFO, sink_cb, &sa);
    rmq_logger_init(&lb, RMQ_LOG_INFO, sink_cb, &sb);
    log_thread_t ta[2] = {{&la, "handle-A"}, {&la, "handle-A"}};
    log_thread_t tb[2] = {{&lb, "handle-B"}, {&lb, "handle-B"}};
    pthread_t th[4];
    for (int i = 0; i < 2; i++) {
        pthread_create(&th[i], NULL, log_main, &ta[i]);
        pthread_create(&th[2 + i], NULL, log_main, &tb[i]);
    }
    /* an application thread logging through a handle explicitly, while the
     * other handle's level changes */
    for (int i = 0; i < 1000; i++) {
        rmq_logger_log(&la, RMQ_LOG_WARN, "kit", "handle-A app %d", i);
        atomic_store(&lb.level, i % 2 ? RMQ_LOG_INFO : RMQ_LOG_TRACE);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    cr_expect_eq(sa.foreign, 0, "handle A received %d lines of handle B", sa.foreign);
    cr_expect_eq(sb.foreign, 0, "handle B received %d lines of handle A", sb.foreign);
    cr_expect_eq(sa.lines, 2 * 2000 + 1000, "handle A: DEBUG lines must be filtered by its INFO level");
    cr_expect_geq(sb.lines, 2 * 2000, "handle B lost lines");
}

Test(kit, logger_level_and_thread_default)
{
    sink_t s = {PTHREAD_MUTEX_INITIALIZER, 0, 0, "x"};
    rmq_logger_t lg;
    rmq_logger_init(&lg, RMQ_LOG_WARN, sink_cb, &s);
    rmq_logger_t *prev = rmq_log_use(&lg);
    cr_expect_null(prev, "threads start with the process logger");
    cr_expect(rmq_log_enabled(RMQ_LOG_WARN));
    cr_expect_not(rmq_log_enabled(RMQ_LOG_INFO), "the thread's logger level applies");
    rmq_log(RMQ_LOG_ERROR, "kit", "x error");
    rmq_log_errno(RMQ_LOG_WARN, "kit", ENOENT, "x warn");
    rmq_log(RMQ_LOG_INFO, "kit", "x info");
    cr_expect_eq(s.lines, 2);
    cr_expect_eq(rmq_log_use(prev), &lg);
    cr_expect_null(rmq_log_current);
}
