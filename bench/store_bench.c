/* store_bench.c - throughput of the broker store's append path.
 *
 * For 128 B and 1 KiB bodies, ASYNC_FLUSH and SYNC_FLUSH, 1 and N producer
 * threads: append for a fixed time through rmq_store_put_message(_wait),
 * then run a baseline that writes the same record bytes with plain write(2)
 * and fdatasync(2) at the same batch size (messages per flush observed in
 * the store run). Prints messages/s, MB/s and the ratio to the baseline.
 * Then the pull path: rmq_store_get_message (pinned references into the
 * mapped segments) against pread(2) copies of the same bytes.
 *
 * usage: store_bench [-d dir] [-t seconds] [-p threads] [-s segment_bytes]
 * Not a test: it writes hundreds of MB to dir (default /tmp). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rmq_log.h"
#include "rmq_store.h"
#include "rmq_time.h"

static const char *g_dir = "/tmp";
static double g_secs = 3.0;
static int g_threads = 4;
static const char *g_seg = "268435456";

typedef struct {
    rmq_store_t *s;
    size_t body;
    bool sync;
    int64_t deadline;
    int64_t msgs, bytes, errors;
} prod_t;

static const char PROPS[] = "TAGS\001TagA";

static void *producer(void *arg)
{
    prod_t *p = arg;
    char *body = malloc(p->body);
    memset(body, 'x', p->body);
    rmq_store_msg_t m = {
        .topic = "BenchTopic",
        .queue_id = 0,
        .body = body,
        .body_len = p->body,
        .props = PROPS,
        .props_len = sizeof(PROPS) - 1,
        .born_timestamp = rmq_now_ms(),
        .born_host = {.v6 = 0, .addr = {10, 0, 0, 1}, .port = 5555},
        .store_host = {.v6 = 0, .addr = {127, 0, 0, 1}, .port = 10911},
        .wait_store_ok = true,
    };
    rmq_put_result_t res;
    while (rmq_mono_ms() < p->deadline) {
        for (int k = 0; k < 64; k++) {
            rmq_put_status_t st = p->sync ? rmq_store_put_message_wait(p->s, &m, &res)
                                          : rmq_store_put_message(p->s, &m, &res, NULL, NULL);
            if (st != RMQ_PUT_OK) {
                p->errors++;
                continue;
            }
            p->msgs++;
            p->bytes += res.wrote_bytes;
        }
    }
    free(body);
    return NULL;
}

typedef struct {
    double msgs_s, mb_s;
    double batch; /* messages per flush */
    int64_t rec_size;
} result_t;

/* A started store in a new directory under g_dir (its path in dir), with
 * g_seg commit-log segments and the flushDiskType given; exits on failure. */
static rmq_store_t *bench_store_open(char dir[512], rmq_store_config_t *c, const char *flush)
{
    snprintf(dir, 512, "%s/comet-store-bench-XXXXXX", g_dir);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    rmq_store_config_init(c);
    char err[256];
    rmq_conf_set(rmq_store_conf_defs, c, "storePathRootDir", dir, err, sizeof(err));
    rmq_conf_set(rmq_store_conf_defs, c, "mappedFileSizeCommitLog", g_seg, err, sizeof(err));
    rmq_conf_set(rmq_store_conf_defs, c, "flushDiskType", flush, err, sizeof(err));
    rmq_store_t *s = rmq_store_open(c, err, sizeof(err));
    if (!s || rmq_store_start(s) != RMQ_OK) {
        fprintf(stderr, "store open: %s\n", err);
        exit(1);
    }
    return s;
}

/* The store of bench_store_open closed and its directory removed. */
static void bench_store_close(rmq_store_t *s, rmq_store_config_t *c, const char *dir)
{
    rmq_store_destroy(s);
    rmq_store_config_deinit(c);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static result_t run_store(size_t body, bool sync, int threads)
{
    char dir[512];
    rmq_store_config_t c;
    rmq_store_t *s = bench_store_open(dir, &c, sync ? "SYNC_FLUSH" : "ASYNC_FLUSH");
    usleep(200000); /* first segment prepared */
    prod_t *p = calloc((size_t)threads, sizeof(*p));
    pthread_t *th = calloc((size_t)threads, sizeof(*th));
    rmq_store_stats_t st0, st1;
    rmq_store_get_stats(s, &st0);
    int64_t t0 = rmq_mono_us();
    for (int i = 0; i < threads; i++) {
        p[i] = (prod_t){
            .s = s, .body = body, .sync = sync, .deadline = rmq_mono_ms() + (int64_t)(g_secs * 1000)};
        pthread_create(&th[i], NULL, producer, &p[i]);
    }
    int64_t msgs = 0, bytes = 0, errors = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        msgs += p[i].msgs;
        bytes += p[i].bytes;
        errors += p[i].errors;
    }
    double secs = (double)(rmq_mono_us() - t0) / 1e6;
    rmq_store_get_stats(s, &st1);
    bench_store_close(s, &c, dir);
    if (errors)
        fprintf(stderr, "  (%lld puts failed)\n", (long long)errors);
    int64_t flushes = st1.commitlog_flushes - st0.commitlog_flushes;
    result_t r = {
        .msgs_s = (double)msgs / secs,
        .mb_s = (double)bytes / secs / 1e6,
        .batch = flushes > 0 ? (double)msgs / (double)flushes : (double)msgs,
        .rec_size = msgs ? bytes / msgs : 0,
    };
    free(p);
    free(th);
    return r;
}

/* Baseline: the same record bytes written with one write(2) per record by
 * one thread, with an fdatasync(2) after every `batch` records - the batch
 * being the messages per commit-log flush the store achieved in the same
 * case (1 for single-producer SYNC_FLUSH, the group size for group commit,
 * one flush per interval for ASYNC_FLUSH). */
static result_t run_baseline(size_t rec, double batch_f)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/comet-store-bench-base-XXXXXX", g_dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        exit(1);
    }
    int64_t batch = batch_f < 1 ? 1 : (int64_t)(batch_f + 0.5);
    char *buf = malloc(rec);
    memset(buf, 'x', rec);
    int64_t deadline = rmq_mono_ms() + (int64_t)(g_secs * 1000), msgs = 0, since = 0;
    int64_t t0 = rmq_mono_us();
    while (rmq_mono_ms() < deadline) {
        for (int k = 0; k < 64; k++) {
            if (write(fd, buf, rec) != (ssize_t)rec) {
                perror("write");
                exit(1);
            }
            msgs++;
            if (++since >= batch) {
                since = 0;
                if (fdatasync(fd) != 0) {
                    perror("fdatasync");
                    exit(1);
                }
            }
        }
    }
    double secs = (double)(rmq_mono_us() - t0) / 1e6;
    free(buf);
    close(fd);
    unlink(path);
    return (result_t){.msgs_s = (double)msgs / secs,
                      .mb_s = (double)msgs * (double)rec / secs / 1e6,
                      .batch = (double)batch};
}

/* Pull path: get_message (pinned references, no copy) for 32 messages at a
 * time over a filled queue, against pread(2) of the same bytes into a
 * buffer (what a copying server would do). */
static void run_pull(size_t body)
{
    char dir[512];
    rmq_store_config_t c;
    rmq_store_t *s = bench_store_open(dir, &c, "ASYNC_FLUSH");
    char *b = calloc(1, body);
    rmq_store_msg_t m = {
        .topic = "BenchTopic", .body = b, .body_len = body, .props = PROPS, .props_len = sizeof(PROPS) - 1};
    rmq_put_result_t res;
    int64_t n = 100000;
    for (int64_t i = 0; i < n; i++)
        rmq_store_put_message(s, &m, &res, NULL, NULL);
    rmq_store_wait_dispatched(s, 60000);
    int64_t msgs = 0, bytes = 0, off = 0;
    int64_t deadline = rmq_mono_ms() + (int64_t)(g_secs * 1000), t0 = rmq_mono_us();
    while (rmq_mono_ms() < deadline) {
        rmq_get_result_t g;
        rmq_store_get_message(s, "BenchTopic", 0, off, 32, NULL, 0, &g);
        msgs += (int64_t)g.count;
        bytes += (int64_t)g.total_bytes;
        off = g.next_begin_offset >= n ? 0 : g.next_begin_offset;
        rmq_store_get_result_release(&g);
    }
    double secs = (double)(rmq_mono_us() - t0) / 1e6;
    double store_ms = (double)msgs / secs, store_mb = (double)bytes / secs / 1e6;
    /* baseline: pread the same record sizes, 32 at a time, from the segment */
    char *seg = NULL;
    if (asprintf(&seg, "%s/commitlog/%020d", dir, 0) < 0)
        exit(1);
    int fd = open(seg, O_RDONLY);
    free(seg);
    size_t rec = (size_t)res.wrote_bytes;
    char *buf = malloc(rec * 32);
    int64_t bmsgs = 0, boff = 0, limit = (int64_t)rec * n;
    deadline = rmq_mono_ms() + (int64_t)(g_secs * 1000);
    t0 = rmq_mono_us();
    while (rmq_mono_ms() < deadline) {
        if (pread(fd, buf, rec * 32, boff) <= 0)
            boff = 0;
        bmsgs += 32;
        boff += (int64_t)rec * 32;
        if (boff + (int64_t)rec * 32 > limit || boff + (int64_t)rec * 32 > atol(g_seg))
            boff = 0;
    }
    double bsecs = (double)(rmq_mono_us() - t0) / 1e6;
    close(fd);
    free(buf);
    printf("| %zu B | %.0f | %.1f | %.0f | %.1f | %.2f |\n", body, store_ms, store_mb, (double)bmsgs / bsecs,
           (double)bmsgs * (double)rec / bsecs / 1e6, store_ms / ((double)bmsgs / bsecs));
    free(b);
    bench_store_close(s, &c, dir);
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "d:t:p:s:")) != -1) {
        switch (opt) {
        case 'd':
            g_dir = optarg;
            break;
        case 't':
            g_secs = atof(optarg);
            break;
        case 'p':
            g_threads = atoi(optarg);
            break;
        case 's':
            g_seg = optarg;
            break;
        default:
            fprintf(stderr, "usage: %s [-d dir] [-t seconds] [-p threads] [-s segment_bytes]\n", argv[0]);
            return 2;
        }
    }
    rmq_log_level = RMQ_LOG_ERROR;
    printf("store append benchmark: %.1f s per case, dir %s, segment %s bytes\n\n", g_secs, g_dir, g_seg);
    printf("| body | flush | producers | store msg/s | store MB/s | msgs/flush | baseline msg/s | baseline "
           "MB/s | "
           "ratio |\n");
    printf("|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
    size_t bodies[] = {128, 1024};
    bool syncs[] = {false, true};
    int threads[] = {1, g_threads};
    for (int bi = 0; bi < 2; bi++)
        for (int si = 0; si < 2; si++)
            for (int ti = 0; ti < 2; ti++) {
                result_t r = run_store(bodies[bi], syncs[si], threads[ti]);
                result_t b = run_baseline((size_t)r.rec_size, r.batch);
                printf("| %zu B | %s | %d | %.0f | %.1f | %.1f | %.0f | %.1f | %.2f |\n", bodies[bi],
                       syncs[si] ? "SYNC_FLUSH" : "ASYNC_FLUSH", threads[ti], r.msgs_s, r.mb_s, r.batch,
                       b.msgs_s, b.mb_s, b.msgs_s > 0 ? r.msgs_s / b.msgs_s : 0);
                fflush(stdout);
            }
    printf("\npull path, 32 messages per call, 100000 messages in the queue:\n\n");
    printf("| body | get_message msg/s | get_message MB/s | pread copy msg/s | pread copy MB/s | ratio |\n");
    printf("|---:|---:|---:|---:|---:|---:|\n");
    run_pull(128);
    run_pull(1024);
    return 0;
}
