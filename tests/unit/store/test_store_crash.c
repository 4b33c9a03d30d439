/* test_store_crash.c - crash recovery with a real child process.
 *
 * A child opens the store with SYNC_FLUSH and appends in a loop, reporting
 * through a pipe every append that completed with a flush. The parent kills
 * it with SIGKILL after a random number of reported appends (0: while the
 * child opens and recovers the store), recovers the store (abnormal
 * recovery: `abort` is present) and checks: every reported record is
 * present and intact, the commit log ends on a record boundary, every
 * consume-queue entry points at a valid record with the right queue offset,
 * and the queue offsets continue without holes. The child must die of that
 * SIGKILL: any other end (a sanitizer abort, a crash in recovery, a failed
 * open) fails the test. Bounded: at most ITERATIONS rounds and MAX_SECONDS
 * seconds. A SIGKILL keeps the page cache, so this cannot tell SYNC_FLUSH
 * from ASYNC_FLUSH: test_store.c's audit and the power-loss test do. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "rmq_time.h"
#include "store_test_util.h"

#define ITERATIONS 25
#define MAX_SECONDS 60
#define SEG 16384

typedef struct {
    int32_t index, qid;
    int64_t queue_offset, wrote_offset;
} confirm_t;

/* Read fixed-size records from fd into a growing array until `want` records
 * arrived (then stop reading), the writer closed its end, or timeout_ms
 * passed. Returns the count. */
static size_t read_records(int fd, void **arr, size_t *cap, size_t rec, size_t n, size_t want, int timeout_ms)
{
    int64_t deadline = rmq_mono_ms() + timeout_ms;
    uint8_t part[64];
    size_t have = 0;
    while (n < want) {
        int left = (int)(deadline - rmq_mono_ms());
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        ssize_t r = read(fd, part + have, rec - have);
        if (r <= 0)
            break; /* the writer is gone */
        have += (size_t)r;
        if (have < rec)
            continue;
        have = 0;
        if (n == *cap)
            *arr = realloc(*arr, (*cap *= 2) * rec);
        memcpy((uint8_t *)*arr + n * rec, part, rec);
        n++;
    }
    return n;
}

/* The child must have died of our SIGKILL (or finished its loop). */
static void check_child_end(int status, int iter)
{
    if (WIFSIGNALED(status))
        cr_assert_eq(WTERMSIG(status), SIGKILL,
                     "iteration %d: the child died of signal %d (%s), not of the SIGKILL", iter,
                     WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "iteration %d: the child failed before the kill (exit status %d: 3 = open, 4 = pipe)", iter,
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void child_main(tctx_t *t, int wfd, int first)
{
    rmq_log_level = RMQ_LOG_ERROR;
    char err[256];
    rmq_store_t *s = rmq_store_open(&t->conf, err, sizeof(err));
    if (!s || rmq_store_start(s) != RMQ_OK)
        _exit(3);
    for (int i = first; i < first + 200000; i++) {
        rmq_put_result_t res;
        tmsg_t x;
        char keys[32];
        snprintf(keys, sizeof(keys), "K%d", i);
        tmsg(&x, "CrashT", i % 2, i, 40 + (size_t)(i * 13) % 500, i % 3 ? "A" : "B", keys);
        if (rmq_store_put_message_wait(s, &x.m, &res) == RMQ_PUT_OK) {
            confirm_t c = {i, i % 2, res.queue_offset, res.wrote_offset};
            if (write(wfd, &c, sizeof(c)) != sizeof(c))
                _exit(4);
        }
    }
    _exit(0);
}

Test(crash, sigkill_random_points, .timeout = 140)
{
    tctx_t t;
    tctx_init(&t);
    tctx_set(&t, "flushDiskType", "SYNC_FLUSH");
    tctx_set(&t, "mappedFileSizeCommitLog", "16384");
    tctx_set(&t, "mappedFileSizeConsumeQueue", "400");
    tctx_set(&t, "flushIntervalConsumeQueue", "5");
    srand(12345);
    int next = 0;
    size_t total_confirmed = 0;
    int64_t t0 = rmq_mono_ms();
    int iter;
    for (iter = 0; iter < ITERATIONS && rmq_mono_ms() - t0 < MAX_SECONDS * 1000; iter++) {
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(&t, fds[1], next);
        }
        close(fds[1]);
        /* mostly while appending, after 1..400 confirmed appends; a quarter
         * of the time at once, during the child's own open and recovery */
        size_t target = rand() % 4 == 0 ? 0 : 1 + (size_t)(rand() % 400);
        size_t cap = 1024, n = 0;
        confirm_t *conf = malloc(cap * sizeof(*conf));
        n = read_records(fds[0], (void **)&conf, &cap, sizeof(confirm_t), n, target, 30000);
        cr_assert_geq(n, target, "iteration %d: only %zu of %zu appends confirmed within 30 s", iter, n,
                      target);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        check_child_end(status, iter);
        /* what the child confirmed before it died */
        n = read_records(fds[0], (void **)&conf, &cap, sizeof(confirm_t), n, SIZE_MAX, 5000);
        close(fds[0]);
        total_confirmed += n;

        /* recover as after a crash */
        rmq_store_t *s = tctx_open(&t);
        cr_assert(rmq_store_wait_dispatched(s, 10000));
        /* 1. every flushed append is present and intact */
        for (size_t k = 0; k < n; k++) {
            rmq_store_ref_t ref;
            cr_assert_eq(rmq_store_get_message_by_offset(s, conf[k].wrote_offset, &ref), RMQ_OK,
                         "iteration %d: confirmed record %d at %lld lost", iter, conf[k].index,
                         (long long)conf[k].wrote_offset);
            rmq_msg_rec_t r;
            cr_assert_eq(rmq_msg_decode(ref.data, ref.len, true, &r), RMQ_OK);
            cr_assert_eq(body_index(&r), conf[k].index);
            cr_assert_eq(r.queue_offset, conf[k].queue_offset);
            cr_assert_eq(r.queue_id, conf[k].qid);
            rmq_store_ref_release(ref.pin);
        }
        /* 2. the log is a sequence of valid records ending exactly at max */
        int64_t off = rmq_store_get_commitlog_min_offset(s), max = rmq_store_get_commitlog_max_offset(s);
        int64_t per_q[2] = {0, 0};
        int max_index = next - 1;
        while (off < max) {
            rmq_store_ref_t ref;
            if (rmq_store_get_message_by_offset(s, off, &ref) != RMQ_OK) {
                /* a blank end-of-segment marker: continue with the next segment */
                int64_t nxt = off - off % SEG + SEG;
                cr_assert(nxt <= max || off == max, "iteration %d: no record at %lld (max %lld)", iter,
                          (long long)off, (long long)max);
                off = nxt;
                continue;
            }
            rmq_msg_rec_t r;
            cr_assert_eq(rmq_msg_decode(ref.data, ref.len, true, &r), RMQ_OK,
                         "iteration %d: bad record at %lld", iter, (long long)off);
            cr_assert_eq(r.queue_offset, per_q[r.queue_id],
                         "iteration %d: queue %d offset %lld, expected %lld", iter, r.queue_id,
                         (long long)r.queue_offset, (long long)per_q[r.queue_id]);
            per_q[r.queue_id]++;
            if (body_index(&r) > max_index)
                max_index = body_index(&r);
            off += (int64_t)ref.len;
            rmq_store_ref_release(ref.pin);
        }
        cr_assert_eq(off, max, "iteration %d: the log does not end on a record boundary", iter);
        /* 3. every consume-queue entry points at a valid record */
        for (int q = 0; q < 2; q++) {
            int64_t qmax = rmq_store_get_max_offset_in_queue(s, "CrashT", q);
            cr_assert_eq(qmax, per_q[q], "iteration %d: queue %d has %lld entries, log has %lld", iter, q,
                         (long long)qmax, (long long)per_q[q]);
            for (int64_t o = 0; o < qmax; o++) {
                int64_t phy = rmq_store_get_commitlog_offset_in_queue(s, "CrashT", q, o);
                rmq_store_ref_t ref;
                cr_assert_eq(rmq_store_get_message_by_offset(s, phy, &ref), RMQ_OK);
                rmq_msg_rec_t r;
                cr_assert_eq(rmq_msg_decode(ref.data, ref.len, true, &r), RMQ_OK);
                cr_assert(r.queue_offset == o && r.queue_id == q);
                rmq_store_ref_release(ref.pin);
            }
        }
        /* 4. the key index finds the last confirmed record */
        if (n > 0) {
            char key[32];
            snprintf(key, sizeof(key), "K%d", conf[n - 1].index);
            rmq_query_result_t qr;
            cr_assert_eq(rmq_store_query_message(s, "CrashT", key, 4, 0, INT64_MAX, &qr), RMQ_OK);
            cr_assert_eq(qr.count, 1, "iteration %d: key %s", iter, key);
            rmq_store_query_result_release(&qr);
        }
        free(conf);
        next = max_index + 1;
        /* every other round: shut down cleanly so the next child recovers normally */
        if (iter % 2 == 0) {
            tctx_close(&t);
        } else {
            /* leave it like a crash: close files without removing abort */
            tctx_close(&t);
            char p[400];
            snprintf(p, sizeof(p), "%s/abort", t.dir);
            int fd = open(p, O_CREAT | O_WRONLY, 0644);
            close(fd);
        }
    }
    cr_log_info("%d crash iterations, %zu confirmed appends, %d records", iter, total_confirmed, next);
    cr_assert_geq(iter, 5, "only %d iterations in %d s", iter, MAX_SECONDS);
    cr_assert_gt(total_confirmed, 0);
    tctx_fini(&t);
}

/* ASYNC_FLUSH with batches: SIGKILL does not lose the page cache, so every
 * batch whose put returned must survive recovery, whole, and the queue must
 * stay free of holes. */
typedef struct {
    int32_t first_index, count;
    int64_t wrote_offset, queue_offset;
} batch_confirm_t;

static void batch_child(tctx_t *t, int wfd, int first)
{
    rmq_log_level = RMQ_LOG_ERROR;
    char err[256];
    rmq_store_t *s = rmq_store_open(&t->conf, err, sizeof(err));
    if (!s || rmq_store_start(s) != RMQ_OK)
        _exit(3);
    int i = first;
    while (i < first + 500000) {
        int cnt = 1 + i % 5;
        tmsg_t x[5];
        rmq_store_msg_t m[5];
        for (int k = 0; k < cnt; k++) {
            tmsg(&x[k], "BatchT", 0, i + k, 30 + (size_t)((i + k) * 7) % 300, "A", NULL);
            m[k] = x[k].m;
        }
        rmq_put_result_t res;
        if (rmq_store_put_messages(s, m, (size_t)cnt, &res, NULL, NULL) == RMQ_PUT_OK) {
            batch_confirm_t c = {i, cnt, res.wrote_offset, res.queue_offset};
            if (write(wfd, &c, sizeof(c)) != sizeof(c))
                _exit(4);
        }
        i += cnt;
    }
    _exit(0);
}

Test(crash, sigkill_async_batches, .timeout = 140)
{
    tctx_t t;
    tctx_init(&t);
    tctx_set(&t, "mappedFileSizeCommitLog", "16384");
    tctx_set(&t, "mappedFileSizeConsumeQueue", "400");
    tctx_set(&t, "messageIndexEnable", "false");
    srand(777);
    int next = 0, iter;
    size_t batches = 0;
    int64_t t0 = rmq_mono_ms();
    for (iter = 0; iter < ITERATIONS && rmq_mono_ms() - t0 < MAX_SECONDS * 1000; iter++) {
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            batch_child(&t, fds[1], next);
        }
        close(fds[1]);
        size_t target = rand() % 4 == 0 ? 0 : 1 + (size_t)(rand() % 300);
        size_t cap = 1024, n = 0;
        batch_confirm_t *conf = malloc(cap * sizeof(*conf));
        n = read_records(fds[0], (void **)&conf, &cap, sizeof(batch_confirm_t), n, target, 30000);
        cr_assert_geq(n, target, "iteration %d: only %zu of %zu batches confirmed within 30 s", iter, n,
                      target);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        check_child_end(status, iter);
        n = read_records(fds[0], (void **)&conf, &cap, sizeof(batch_confirm_t), n, SIZE_MAX, 5000);
        close(fds[0]);
        batches += n;
        rmq_store_t *s = tctx_open(&t);
        cr_assert(rmq_store_wait_dispatched(s, 10000));
        for (size_t k = 0; k < n; k++) {
            int64_t off = conf[k].wrote_offset;
            for (int j = 0; j < conf[k].count; j++) {
                rmq_store_ref_t ref;
                cr_assert_eq(rmq_store_get_message_by_offset(s, off, &ref), RMQ_OK,
                             "iteration %d: batch at %lld record %d lost", iter,
                             (long long)conf[k].wrote_offset, j);
                rmq_msg_rec_t r;
                cr_assert_eq(rmq_msg_decode(ref.data, ref.len, true, &r), RMQ_OK);
                cr_assert_eq(body_index(&r), conf[k].first_index + j);
                cr_assert_eq(r.queue_offset, conf[k].queue_offset + j);
                off += (int64_t)ref.len;
                rmq_store_ref_release(ref.pin);
            }
        }
        /* whole batches only, offsets without holes */
        int64_t qmax = rmq_store_get_max_offset_in_queue(s, "BatchT", 0);
        int last = next - 1;
        for (int64_t o = 0; o < qmax; o++) {
            int64_t phy = rmq_store_get_commitlog_offset_in_queue(s, "BatchT", 0, o);
            rmq_store_ref_t ref;
            cr_assert_eq(rmq_store_get_message_by_offset(s, phy, &ref), RMQ_OK);
            rmq_msg_rec_t r;
            cr_assert_eq(rmq_msg_decode(ref.data, ref.len, true, &r), RMQ_OK);
            cr_assert_eq(r.queue_offset, o);
            if (body_index(&r) > last)
                last = body_index(&r);
            rmq_store_ref_release(ref.pin);
        }
        /* (an unacknowledged batch may survive in part: recovery validates
         * record by record, exactly like RocketMQ; acknowledged ones are whole) */
        free(conf);
        next = last + 1;
        tctx_close(&t);
        if (iter % 2) {
            char p[400];
            snprintf(p, sizeof(p), "%s/abort", t.dir);
            int fd = open(p, O_CREAT | O_WRONLY, 0644);
            close(fd);
        }
    }
    cr_log_info("%d async crash iterations, %zu confirmed batches", iter, batches);
    cr_assert_geq(iter, 5, "only %d iterations in %d s", iter, MAX_SECONDS);
    cr_assert_gt(batches, 0, "no batch was ever confirmed: nothing was checked");
    tctx_fini(&t);
}
