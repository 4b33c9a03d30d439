/* mqbench.c - producer and consumer benchmark on libcomet (in the spirit of
 * RocketMQ's benchmark Producer / Consumer).
 *
 *   mqbench producer -n ns -t topic [-w threads] [-s size] [-d seconds]
 *                    [-m sync|async|oneway] [-b batch] [-k] [-a inflight] [--json]
 *   mqbench consumer -n ns -t topic [-g group] [-d seconds] [-w threads]
 *                    [--from first|last] [--json]
 *
 * Prints one progress line per second and a final summary line:
 * messages/s, MB/s, latency p50/p99/p999/max (us for producers: call to
 * acknowledgement; ms for consumers: born timestamp to consume), failures.
 * Threads: worker threads send; the main thread reports; send callbacks run
 * on the producer's callback thread and record into their own histogram. */
#include <comet/comet.h>
#include <getopt.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "hdr.h"

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static atomic_int stop_flag; /* lock-free: set by the signal handler and main */
static void on_sig(int s)
{
    (void)s;
    stop_flag = 1;
}

typedef struct opts_s {
    const char *ns, *topic, *group, *mode, *from, *serialize;
    int threads, size, duration, batch, inflight;
    bool keys, json;
} opts_t;

/* per-thread stats (one histogram per writer) */
typedef struct stat_s {
    pthread_mutex_t lock;
    hdr_t h;
    atomic_llong ok, fail, bytes;
} stat_t;

static stat_t *stats;
static int nstats;
static FILE *progress_out; /* stdout, or stderr with --json */

static void usage(void)
{
    fprintf(stderr,
            "usage:\n"
            "  mqbench producer -n ns -t topic [-w threads=4] [-s size=128] [-d seconds=30]\n"
            "                   [-m sync|async|oneway] [-b batch=1] [-k] [-a inflight=2000] [--json]\n"
            "  mqbench consumer -n ns -t topic [-g group] [-d seconds=30] [-w threads=20]\n"
            "                   [--from first|last] [--json]\n"
            "  -n defaults to $NAMESRV_ADDR; --serialize JSON|ROCKETMQ picks the request header format\n");
}

static void report_line(const char *what, int sec, long long d_ok, long long d_fail, long long d_bytes,
                        hdr_t *h, const char *unit)
{
    fprintf(progress_out, "[%s %3ds] %lld msg/s, %.2f MB/s, fail %lld, p50 %lld%s p99 %lld%s max %lld%s\n",
            what, sec, d_ok, (double)d_bytes / 1048576.0, d_fail, (long long)hdr_quantile(h, 0.5), unit,
            (long long)hdr_quantile(h, 0.99), unit, (long long)h->max, unit);
    fflush(progress_out);
}

static void collect(hdr_t *out, long long *ok, long long *fail, long long *bytes, bool reset)
{
    hdr_reset(out);
    *ok = *fail = *bytes = 0;
    for (int i = 0; i < nstats; i++) {
        pthread_mutex_lock(&stats[i].lock);
        hdr_merge(out, &stats[i].h);
        if (reset)
            hdr_reset(&stats[i].h);
        pthread_mutex_unlock(&stats[i].lock);
        *ok += stats[i].ok;
        *fail += stats[i].fail;
        *bytes += stats[i].bytes;
    }
}

/* Run the reporting loop for `duration` seconds; returns the overall histogram. */
static double run_reporter(const char *what, int duration, hdr_t *total, const char *unit,
                           int64_t *elapsed_us)
{
    long long pok = 0, pfail = 0, pbytes = 0;
    hdr_reset(total);
    int64_t t0 = now_us();
    for (int sec = 1; sec <= duration && !stop_flag; sec++) {
        int64_t wake = t0 + (int64_t)sec * 1000000;
        while (now_us() < wake && !stop_flag)
            usleep(20000);
        hdr_t h;
        long long ok, fail, bytes;
        collect(&h, &ok, &fail, &bytes, true);
        hdr_merge(total, &h);
        report_line(what, sec, ok - pok, fail - pfail, bytes - pbytes, &h, unit);
        pok = ok;
        pfail = fail;
        pbytes = bytes;
    }
    *elapsed_us = now_us() - t0;
    return (double)*elapsed_us / 1e6;
}

static void final_line(const opts_t *o, const char *what, double secs, hdr_t *h, const char *unit)
{
    long long ok = 0, fail = 0, bytes = 0;
    for (int i = 0; i < nstats; i++) {
        ok += stats[i].ok;
        fail += stats[i].fail;
        bytes += stats[i].bytes;
    }
    double tps = secs > 0 ? (double)ok / secs : 0, mbs = secs > 0 ? (double)bytes / 1048576.0 / secs : 0;
    if (o->json) {
        printf("{\"bench\":\"%s\",\"mode\":\"%s\",\"threads\":%d,\"size\":%d,\"batch\":%d,\"seconds\":%.2f,"
               "\"messages\":%lld,\"failures\":%lld,\"msgs_per_sec\":%.1f,\"mb_per_sec\":%.2f,\"latency_"
               "unit\":\"%s\","
               "\"p50\":%lld,\"p99\":%lld,\"p999\":%lld,\"max\":%lld}\n",
               what, o->mode ? o->mode : "-", o->threads, o->mode ? o->size : (int)(ok ? bytes / ok : 0),
               o->batch, secs, ok, fail, tps, mbs, unit, (long long)hdr_quantile(h, 0.5),
               (long long)hdr_quantile(h, 0.99), (long long)hdr_quantile(h, 0.999), (long long)h->max);
    } else {
        printf("%s summary: %.1f msg/s, %.2f MB/s, latency p50 %lld%s p99 %lld%s p999 %lld%s max %lld%s, "
               "messages %lld, failures %lld, %.1f s\n",
               what, tps, mbs, (long long)hdr_quantile(h, 0.5), unit, (long long)hdr_quantile(h, 0.99), unit,
               (long long)hdr_quantile(h, 0.999), unit, (long long)h->max, unit, ok, fail, secs);
    }
    fflush(stdout);
}

/* ---------------- producer ---------------- */

typedef struct pthr_s {
    comet_producer_t *p;
    const opts_t *o;
    int idx;
    sem_t window; /* async: free in-flight slots */
} pthr_t;

typedef struct pending_s {
    int64_t t0;
    pthr_t *t;
    int n;
    size_t bytes;
} pending_t;

static void on_sent(comet_producer_t *p, const comet_send_result_t *res, void *msg_opaque, void *opaque)
{
    pending_t *pd = msg_opaque;
    stat_t *st = &stats[pd->t->idx];
    int64_t lat = now_us() - pd->t0;
    pthread_mutex_lock(&st->lock);
    hdr_record(&st->h, lat);
    pthread_mutex_unlock(&st->lock);
    if (res->err)
        st->fail += pd->n;
    else {
        st->ok += pd->n;
        st->bytes += (long long)pd->bytes;
    }
    sem_post(&pd->t->window);
    free(pd);
}

static void *producer_thread(void *arg)
{
    pthr_t *t = arg;
    const opts_t *o = t->o;
    stat_t *st = &stats[t->idx];
    char *body = malloc((size_t)o->size);
    for (int i = 0; i < o->size; i++)
        body[i] = (char)('a' + (i % 26));
    long long seq = 0;
    bool async = strcmp(o->mode, "async") == 0, oneway = strcmp(o->mode, "oneway") == 0;
    while (!stop_flag) {
        comet_message_t *msgs[256];
        int nb = o->batch;
        for (int i = 0; i < nb; i++) {
            msgs[i] = comet_message_new(o->topic, body, (size_t)o->size, 0);
            comet_message_set_tags(msgs[i], "bench");
            if (o->keys) {
                char k[64];
                snprintf(k, sizeof(k), "k-%d-%lld", t->idx, seq + i);
                comet_message_set_keys(msgs[i], k);
            }
        }
        seq += nb;
        int64_t t0 = now_us();
        comet_send_result_t res;
        comet_err_t e;
        if (nb > 1) {
            e = comet_producer_send_batch(t->p, (const comet_message_t *const *)msgs, (size_t)nb, &res, -1);
        } else if (async) {
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_sec += 1;
            if (sem_timedwait(&t->window, &dl) != 0) {
                for (int i = 0; i < nb; i++)
                    comet_message_destroy(msgs[i]);
                continue;
            }
            pending_t *pd = malloc(sizeof(*pd));
            pd->t0 = t0;
            pd->t = t;
            pd->n = 1;
            pd->bytes = (size_t)o->size;
            e = comet_producer_send_async(t->p, msgs[0], pd);
            if (e) {
                sem_post(&t->window);
                free(pd);
            }
        } else if (oneway) {
            e = comet_producer_send_oneway(t->p, msgs[0]);
        } else {
            e = comet_producer_send(t->p, msgs[0], &res, -1);
        }
        if (!async || nb > 1 || e) {
            int64_t lat = now_us() - t0;
            pthread_mutex_lock(&st->lock);
            hdr_record(&st->h, lat);
            pthread_mutex_unlock(&st->lock);
            if (e) {
                st->fail += nb;
                if (e == COMET_ERR__QUEUE_FULL)
                    usleep(1000);
            } else {
                st->ok += nb;
                st->bytes += (long long)nb * o->size;
            }
        }
        for (int i = 0; i < nb; i++)
            comet_message_destroy(msgs[i]);
    }
    free(body);
    return NULL;
}

static int run_producer(opts_t *o)
{
    char err[512];
    comet_conf_t *conf = comet_conf_new();
    if (comet_conf_set(conf, "namesrvAddr", o->ns, err, sizeof(err)) ||
        comet_conf_set(conf, "producerGroup", o->group ? o->group : "benchmark_producer", err, sizeof(err)) ||
        comet_conf_set(conf, "compressMsgBodyOverHowmuch", "1000000000", err, sizeof(err))) {
        fprintf(stderr, "mqbench: %s\n", err);
        return 1;
    }
    char inflight[32];
    snprintf(inflight, sizeof(inflight), "%d", o->inflight * 2);
    comet_conf_set(conf, "maxOutstandingAsync", inflight, err, sizeof(err));
    if (o->serialize && comet_conf_set(conf, "serializeType", o->serialize, err, sizeof(err))) {
        fprintf(stderr, "mqbench: %s\n", err);
        return 2;
    }
    comet_conf_set_send_cb(conf, on_sent);
    comet_producer_t *p = comet_producer_new(conf, err, sizeof(err));
    if (!p) {
        fprintf(stderr, "mqbench: %s\n", err);
        comet_conf_destroy(conf);
        return 1;
    }
    if (comet_producer_start(p, err, sizeof(err))) {
        fprintf(stderr, "mqbench: start: %s\n", err);
        comet_producer_destroy(p);
        return 1;
    }
    /* warm the route so the first second is not a route lookup */
    comet_message_queue_t *mqs = NULL;
    size_t nmq = 0;
    comet_err_t e = comet_producer_fetch_publish_queues(p, o->topic, &mqs, &nmq);
    free(mqs);
    if (e) {
        fprintf(stderr, "mqbench: no route for topic %s: %s\n", o->topic, comet_err2str(e));
        comet_producer_destroy(p);
        return 1;
    }
    nstats = o->threads;
    stats = calloc((size_t)nstats, sizeof(stat_t));
    pthr_t *ts = calloc((size_t)o->threads, sizeof(pthr_t));
    pthread_t *th = calloc((size_t)o->threads, sizeof(pthread_t));
    for (int i = 0; i < nstats; i++) {
        pthread_mutex_init(&stats[i].lock, NULL);
        hdr_reset(&stats[i].h);
    }
    if (!o->json)
        printf("mqbench producer: topic %s, %d threads, %d bytes, mode %s, batch %d, %d s\n", o->topic,
               o->threads, o->size, o->mode, o->batch, o->duration);
    for (int i = 0; i < o->threads; i++) {
        ts[i].p = p;
        ts[i].o = o;
        ts[i].idx = i;
        sem_init(&ts[i].window, 0, (unsigned)(o->inflight / o->threads > 0 ? o->inflight / o->threads : 1));
        pthread_create(&th[i], NULL, producer_thread, &ts[i]);
    }
    hdr_t total;
    int64_t el;
    double secs = run_reporter("producer", o->duration, &total, "us", &el);
    stop_flag = 1;
    for (int i = 0; i < o->threads; i++)
        pthread_join(th[i], NULL);
    comet_producer_flush(p, 10000);
    hdr_t rest;
    long long a, b, c;
    collect(&rest, &a, &b, &c, true);
    hdr_merge(&total, &rest);
    final_line(o, "producer", secs, &total, "us");
    comet_producer_destroy(p);
    free(ts);
    free(th);
    return 0;
}

/* ---------------- consumer ---------------- */

static comet_consume_status_t on_msgs(comet_push_consumer_t *c, const comet_message_ext_t *const *msgs,
                                      size_t cnt, void *opaque)
{
    (void)c;
    (void)opaque;
    static _Thread_local int slot = -1;
    static atomic_int next_slot;
    if (slot < 0)
        slot = atomic_fetch_add(&next_slot, 1) % nstats;
    stat_t *st = &stats[slot];
    int64_t now = wall_ms();
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < cnt; i++)
        hdr_record(&st->h, now - comet_message_ext_born_timestamp(msgs[i]));
    pthread_mutex_unlock(&st->lock);
    size_t bytes = 0;
    for (size_t i = 0; i < cnt; i++) {
        size_t l;
        comet_message_ext_body(msgs[i], &l);
        bytes += l;
    }
    st->ok += (long long)cnt;
    st->bytes += (long long)bytes;
    return COMET_CONSUME_SUCCESS;
}

static int run_consumer(opts_t *o)
{
    char err[512], buf[32];
    comet_conf_t *conf = comet_conf_new();
    snprintf(buf, sizeof(buf), "%d", o->threads);
    if (comet_conf_set(conf, "namesrvAddr", o->ns, err, sizeof(err)) ||
        comet_conf_set(conf, "consumerGroup", o->group ? o->group : "benchmark_consumer", err, sizeof(err)) ||
        comet_conf_set(conf, "consumeThreadMin", buf, err, sizeof(err)) ||
        comet_conf_set(conf, "consumeFromWhere",
                       o->from && strcmp(o->from, "first") == 0 ? "CONSUME_FROM_FIRST_OFFSET"
                                                                : "CONSUME_FROM_LAST_OFFSET",
                       err, sizeof(err))) {
        fprintf(stderr, "mqbench: %s\n", err);
        return 1;
    }
    if (o->serialize && comet_conf_set(conf, "serializeType", o->serialize, err, sizeof(err))) {
        fprintf(stderr, "mqbench: %s\n", err);
        return 2;
    }
    nstats = 64;
    stats = calloc((size_t)nstats, sizeof(stat_t));
    for (int i = 0; i < nstats; i++) {
        pthread_mutex_init(&stats[i].lock, NULL);
        hdr_reset(&stats[i].h);
    }
    comet_push_consumer_t *c = comet_push_consumer_new(conf, on_msgs, NULL, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "mqbench: %s\n", err);
        comet_conf_destroy(conf);
        return 1;
    }
    comet_push_consumer_subscribe(c, o->topic, "*");
    if (comet_push_consumer_start(c, err, sizeof(err))) {
        fprintf(stderr, "mqbench: start: %s\n", err);
        comet_push_consumer_destroy(c);
        return 1;
    }
    if (!o->json)
        printf("mqbench consumer: topic %s, group %s, %d threads, %d s\n", o->topic,
               o->group ? o->group : "benchmark_consumer", o->threads, o->duration);
    hdr_t total;
    int64_t el;
    double secs = run_reporter("consumer", o->duration, &total, "ms", &el);
    comet_push_consumer_destroy(c);
    final_line(o, "consumer", secs, &total, "ms");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--print-config-md") == 0) {
        comet_conf_properties_show(stdout); /* the libcomet property table, for CONFIGURATION.md */
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    const char *what = argv[1];
    opts_t o = {.ns = getenv("NAMESRV_ADDR"),
                .threads = 0,
                .size = 128,
                .duration = 30,
                .batch = 1,
                .inflight = 2000,
                .mode = "sync"};
    static const struct option lo[] = {{"json", no_argument, 0, 'J'},
                                       {"from", required_argument, 0, 'F'},
                                       {"serialize", required_argument, 0, 'S'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "n:t:g:w:s:d:m:b:ka:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'n':
            o.ns = optarg;
            break;
        case 't':
            o.topic = optarg;
            break;
        case 'g':
            o.group = optarg;
            break;
        case 'w':
            o.threads = atoi(optarg);
            break;
        case 's':
            o.size = atoi(optarg);
            break;
        case 'd':
            o.duration = atoi(optarg);
            break;
        case 'm':
            o.mode = optarg;
            break;
        case 'b':
            o.batch = atoi(optarg);
            break;
        case 'k':
            o.keys = true;
            break;
        case 'a':
            o.inflight = atoi(optarg);
            break;
        case 'J':
            o.json = true;
            break;
        case 'F':
            o.from = optarg;
            break;
        case 'S':
            o.serialize = optarg;
            break;
        case 'h':
            usage();
            return 0;
        default:
            usage();
            return 2;
        }
    }
    if (!o.ns || !*o.ns || !o.topic) {
        fprintf(stderr, "mqbench: -n (or NAMESRV_ADDR) and -t are required\n");
        usage();
        return 2;
    }
    if (o.size < 1 || o.duration < 1 || o.batch < 1 || o.batch > 256 || o.inflight < 1 ||
        (strcmp(o.mode, "sync") && strcmp(o.mode, "async") && strcmp(o.mode, "oneway"))) {
        fprintf(stderr, "mqbench: bad option value (size >= 1, duration >= 1, 1 <= batch <= 256, "
                        "mode sync|async|oneway)\n");
        return 2;
    }
    progress_out = o.json ? stderr : stdout;
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(what, "producer") == 0) {
        if (o.threads <= 0)
            o.threads = 4;
        return run_producer(&o);
    }
    if (strcmp(what, "consumer") == 0) {
        if (o.threads <= 0)
            o.threads = 20;
        o.mode = NULL;
        return run_consumer(&o);
    }
    fprintf(stderr, "mqbench: unknown benchmark \"%s\"\n", what);
    usage();
    return 2;
}
