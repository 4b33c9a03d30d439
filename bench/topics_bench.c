/* topics_bench.c - create many topics one by one (UPDATE_AND_CREATE_TOPIC,
 * one request at a time) against a running broker and measure: the time per
 * block of topics (flat when a creation costs O(1)), how soon a topic just
 * created is routed by the name server (a sampler thread polls
 * GET_ROUTEINFO_BY_TOPIC for every Nth topic from the moment its creation
 * was answered), and how long those route queries take while the creation
 * runs. Driven by bench/topics_bench.sh, which starts the servers.
 * Threads: main (creations) and the sampler. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rmq_cmd.h"
#include "rmq_sync_client.h"

#define REQ_CREATE_TOPIC 17
#define REQ_GET_ROUTE 105
#define MAX_SAMPLES 100000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *ns_addr;
static const char *prefix = "BenchTopic";
static atomic_long sample_topic = -1; /* topic index handed to the sampler, -1 none */
static double sample_acked;           /* when its creation was answered (set before sample_topic) */
static atomic_bool done;
static double delays[MAX_SAMPLES], rtts[MAX_SAMPLES * 4];
static size_t n_delays, n_rtts, n_missed;

/* user + system CPU seconds of pid so far (0 if unknown) */
static double cpu_s(long pid)
{
    if (pid <= 0)
        return 0;
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* after the command name */
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp_d);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

/* GET_ROUTEINFO_BY_TOPIC's code (-1: no answer); the query time into *rtt. */
static int route_code(rmq_sync_client_t *c, const char *topic, double *rtt)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, REQ_GET_ROUTE);
    rmq_cmd_set_ext(&req, "topic", topic);
    double t0 = now_s();
    rmq_err_t r = rmq_sync_call(c, &req, &resp, 5000);
    *rtt = now_s() - t0;
    rmq_cmd_deinit(&req);
    if (r != RMQ_OK)
        return -1;
    int code = resp.code;
    rmq_cmd_deinit(&resp);
    return code;
}

static void *sampler(void *arg)
{
    (void)arg;
    rmq_sync_client_t c;
    if (rmq_sync_connect(&c, ns_addr, 3000) != RMQ_OK) {
        fprintf(stderr, "sampler: cannot connect to %s: %s\n", ns_addr, c.err);
        return NULL;
    }
    while (!atomic_load(&done) || atomic_load(&sample_topic) >= 0) {
        long t = atomic_load(&sample_topic);
        if (t < 0) {
            usleep(200);
            continue;
        }
        double acked = sample_acked;
        char name[128];
        snprintf(name, sizeof(name), "%s%ld", prefix, t);
        bool found = false;
        /* bounded: 30 s per sample */
        while (now_s() - acked < 30) {
            double rtt;
            int code = route_code(&c, name, &rtt);
            if (n_rtts < sizeof(rtts) / sizeof(rtts[0]))
                rtts[n_rtts++] = rtt;
            if (code == 0) {
                found = true;
                break;
            }
            usleep(1000);
        }
        if (found && n_delays < MAX_SAMPLES)
            delays[n_delays++] = now_s() - acked;
        else if (!found)
            n_missed++;
        atomic_store(&sample_topic, -1);
    }
    rmq_sync_close(&c);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *broker = NULL;
    long count = 100000, block = 10000, every = 200, ns_pid = 0, bk_pid = 0, queues = 8;
    /* --NAME VALUE pairs: text (str) or a number (num) */
    const struct {
        const char *name;
        const char **str;
        long *num;
    } opts[] = {
        {"--broker", &broker, NULL}, {"--namesrv", &ns_addr, NULL},    {"--prefix", &prefix, NULL},
        {"--count", NULL, &count},   {"--block", NULL, &block},        {"--sample-every", NULL, &every},
        {"--queues", NULL, &queues}, {"--namesrv-pid", NULL, &ns_pid}, {"--broker-pid", NULL, &bk_pid},
    };
    const size_t nopts = sizeof(opts) / sizeof(opts[0]);
    for (int i = 1; i + 1 < argc; i += 2) {
        size_t k = 0;
        while (k < nopts && strcmp(argv[i], opts[k].name) != 0)
            k++;
        if (k == nopts) {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
        if (opts[k].str)
            *opts[k].str = argv[i + 1];
        else
            *opts[k].num = atol(argv[i + 1]);
    }
    if (!broker || !ns_addr || count <= 0 || block <= 0 || every <= 0) {
        fprintf(stderr,
                "usage: topics_bench --broker H:P --namesrv H:P [--count N] [--block N] "
                "[--sample-every N] [--queues N] [--prefix P] [--namesrv-pid PID --broker-pid PID]\n");
        return 2;
    }
    rmq_sync_client_t c;
    if (rmq_sync_connect(&c, broker, 3000) != RMQ_OK) {
        fprintf(stderr, "cannot connect to %s: %s\n", broker, c.err);
        return 1;
    }
    pthread_t th;
    pthread_create(&th, NULL, sampler, NULL);
    char qs[24];
    snprintf(qs, sizeof(qs), "%ld", queues);
    double t0 = now_s(), tb = t0, worst_block = 0, first_block = 0;
    double cns = cpu_s(ns_pid), cbk = cpu_s(bk_pid);
    int rc = 0;
    for (long i = 0; i < count; i++) {
        char name[128];
        snprintf(name, sizeof(name), "%s%ld", prefix, i);
        rmq_cmd_t req, resp;
        rmq_cmd_init_request(&req, REQ_CREATE_TOPIC);
        rmq_cmd_set_ext(&req, "topic", name);
        rmq_cmd_set_ext(&req, "defaultTopic", "TBW102");
        rmq_cmd_set_ext(&req, "readQueueNums", qs);
        rmq_cmd_set_ext(&req, "writeQueueNums", qs);
        rmq_cmd_set_ext(&req, "perm", "6");
        rmq_cmd_set_ext(&req, "topicFilterType", "SINGLE_TAG");
        rmq_cmd_set_ext(&req, "topicSysFlag", "0");
        rmq_cmd_set_ext(&req, "order", "false");
        rmq_err_t r = rmq_sync_call(&c, &req, &resp, 30000);
        rmq_cmd_deinit(&req);
        if (r != RMQ_OK || resp.code != 0) {
            fprintf(stderr, "create %s failed: %s code %d %s\n", name, r != RMQ_OK ? c.err : "", resp.code,
                    resp.remark ? resp.remark : "");
            if (r == RMQ_OK)
                rmq_cmd_deinit(&resp);
            rc = 1;
            break;
        }
        rmq_cmd_deinit(&resp);
        if (i % every == 0 && atomic_load(&sample_topic) < 0) {
            sample_acked = now_s();
            atomic_store(&sample_topic, i);
        }
        if ((i + 1) % block == 0) {
            double t = now_s();
            printf("topics %7ld  %7.2f s  (last %ld: %6.2f s", i + 1, t - t0, block, t - tb);
            if (ns_pid && bk_pid) {
                double ns1 = cpu_s(ns_pid), bk1 = cpu_s(bk_pid);
                printf("; CPU name server %.2f s, broker %.2f s", ns1 - cns, bk1 - cbk);
                cns = ns1;
                cbk = bk1;
            }
            printf(")\n");
            fflush(stdout);
            if (t - tb > worst_block)
                worst_block = t - tb;
            if (i + 1 == block)
                first_block = t - tb;
            tb = t;
        }
    }
    double total = now_s() - t0;
    atomic_store(&done, true);
    pthread_join(th, NULL);
    rmq_sync_close(&c);
    printf("created %ld topics (%ld queues each) in %.2f s: %.0f topics/s\n", count, queues, total,
           (double)count / total);
    if (first_block > 0)
        printf("block of %ld: first %.2f s, slowest %.2f s (ratio %.2f)\n", block, first_block, worst_block,
               worst_block / first_block);
    printf(
        "routed after creation (%zu samples, %zu never within 30 s): p50 %.1f ms  p99 %.1f ms  max %.1f ms\n",
        n_delays, n_missed, pct(delays, n_delays, 0.5) * 1e3, pct(delays, n_delays, 0.99) * 1e3,
        pct(delays, n_delays, 1.0) * 1e3);
    printf("GET_ROUTEINFO_BY_TOPIC during the run (%zu queries): p50 %.3f ms  p99 %.3f ms  max %.1f ms\n",
           n_rtts, pct(rtts, n_rtts, 0.5) * 1e3, pct(rtts, n_rtts, 0.99) * 1e3, pct(rtts, n_rtts, 1.0) * 1e3);
    return rc || n_missed ? 1 : 0;
}
