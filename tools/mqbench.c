/* mqbench.c - producer and consumer benchmark on libcomet (in the spirit of
 * RocketMQ's benchmark Producer / Consumer).
 *
 *   mqbench producer -n ns -t topic [-w threads] [-s size] [-d seconds]
 *                    [-m sync|async|oneway|transaction] [-b batch] [-k] [-a inflight]
 *                    [--txn-unknown] [--json]
 *   mqbench consumer -n ns -t topic [-g group] [-d seconds] [-w threads]
 *                    [--from first|last] [--until-idle ms] [--json]
 *   mqbench floor-net | floor-disk ...   (mqbench_floor.h)
 *   both: [-X property=value]... (any libcomet property), [--access-key AK
 *         --secret-key SK] (ACL signing), [--tls] [--tls-ca ca.pem] (TLS);
 *         --pid NAME=PID (up to 4 times) to watch other processes (the
 *         broker, the name server), --threads to list their threads.
 *
 * Prints one progress line per second and a final summary line:
 * messages/s, MB/s, latency p50/p99/p999/max (us for producers: call to
 * acknowledgement; ms for consumers: born timestamp to consume); the
 * messages counted in the measured seconds (the rate's numerator), the
 * messages acknowledged in all (sends in flight when the time is up finish
 * after it), failures (a timed-out send may still have been stored) and,
 * for async sends, those still unanswered at exit (stored or not); and the cost per message: CPU time and
 * context switches of this process (the client: mqbench + libcomet) and of every watched process, over the
 * measured seconds. --until-idle ends a consumer run once no message came
 * for that long (a drain); its rate is then taken from the first to the
 * last message consumed.
 * Threads: worker threads send; the main thread reports; send callbacks run
 * on the producer's callback thread and record into their own histogram.
 * -m transaction: comet_producer_send_in_transaction per message (half
 * message + local-execute callback answering COMMIT + END_TRANSACTION);
 * with --txn-unknown the callback answers UNKNOWN and the check-back
 * callback commits (the broker's check-back cost). */
#include <comet/comet.h>
#include <dlfcn.h>
#include <getopt.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "hdr.h"
#include "mqbench_floor.h"
#include "procstat.h"

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
    int threads, size, duration, batch, inflight, until_idle_ms;
    bool keys, json, txn_unknown, thread_detail;
    const char *props[64]; /* "key=value" libcomet properties (-X, --access-key, --tls...) */
    int nprops;
} opts_t;

/* Apply the -X / security properties to a conf; false (message printed) on
 * a bad one. */
/* The options that only store their argument (or true) in one field. */
static const struct {
    int ch;
    enum { OPT_STR, OPT_INT, OPT_FLAG } kind;
    size_t off;
} plain_opts[] = {
    {'n', OPT_STR, offsetof(opts_t, ns)},           {'t', OPT_STR, offsetof(opts_t, topic)},
    {'g', OPT_STR, offsetof(opts_t, group)},        {'m', OPT_STR, offsetof(opts_t, mode)},
    {'F', OPT_STR, offsetof(opts_t, from)},         {'S', OPT_STR, offsetof(opts_t, serialize)},
    {'w', OPT_INT, offsetof(opts_t, threads)},      {'s', OPT_INT, offsetof(opts_t, size)},
    {'d', OPT_INT, offsetof(opts_t, duration)},     {'b', OPT_INT, offsetof(opts_t, batch)},
    {'a', OPT_INT, offsetof(opts_t, inflight)},     {0x103, OPT_INT, offsetof(opts_t, until_idle_ms)},
    {'k', OPT_FLAG, offsetof(opts_t, keys)},        {'J', OPT_FLAG, offsetof(opts_t, json)},
    {'U', OPT_FLAG, offsetof(opts_t, txn_unknown)}, {0x102, OPT_FLAG, offsetof(opts_t, thread_detail)},
};

/* Store option ch's argument if it is one of plain_opts; false otherwise. */
static bool set_plain_opt(opts_t *o, int ch, const char *arg)
{
    for (size_t i = 0; i < sizeof(plain_opts) / sizeof(plain_opts[0]); i++) {
        if (plain_opts[i].ch != ch)
            continue;
        char *f = (char *)o + plain_opts[i].off;
        if (plain_opts[i].kind == OPT_STR)
            *(const char **)f = arg;
        else if (plain_opts[i].kind == OPT_INT)
            *(int *)f = atoi(arg);
        else
            *(bool *)f = true;
        return true;
    }
    return false;
}

/* --serialize and the -X / --access-key / --tls... properties, after the
 * tool's own settings; false (the reason printed) when one is refused. */
static bool apply_props(const opts_t *o, comet_conf_t *conf)
{
    char err[512];
    if (o->serialize && comet_conf_set(conf, "serializeType", o->serialize, err, sizeof(err))) {
        fprintf(stderr, "mqbench: %s\n", err);
        return false;
    }
    for (int i = 0; i < o->nprops; i++) {
        char key[128];
        const char *eq = strchr(o->props[i], '=');
        if (!eq || (size_t)(eq - o->props[i]) >= sizeof(key)) {
            fprintf(stderr, "mqbench: -X wants property=value, got \"%s\"\n", o->props[i]);
            return false;
        }
        memcpy(key, o->props[i], (size_t)(eq - o->props[i]));
        key[eq - o->props[i]] = '\0';
        if (comet_conf_set(conf, key, eq + 1, err, sizeof(err))) {
            fprintf(stderr, "mqbench: %s\n", err);
            return false;
        }
    }
    return true;
}

/* processes watched with --pid NAME=PID */
#define MAX_WATCH 4
typedef struct watch_s {
    char name[32];
    pid_t pid;
    ps_sample_t a, b;
    bool ok;
} watch_t;
static watch_t watches[MAX_WATCH];
static int nwatch;
static ps_sample_t self_a, self_b;
/* heap calls over the measured interval, when bench/malloc_count.c is
 * preloaded (LD_PRELOAD=.../libmalloc_count.so); -1 otherwise */
static long long allocs_a = -1, allocs_b = -1;

static void malloc_count_sample(long long *out)
{
    void (*get)(long long *, long long *, long long *) =
        (void (*)(long long *, long long *, long long *))dlsym(RTLD_DEFAULT, "malloc_count_get");
    long long frees, bytes;
    if (get)
        get(out, &frees, &bytes);
}

static void cost_begin(void)
{
    malloc_count_sample(&allocs_a);
    ps_sample_self(&self_a);
    for (int i = 0; i < nwatch; i++)
        watches[i].ok = ps_sample_pid(watches[i].pid, &watches[i].a);
}

static void cost_end(void)
{
    ps_sample_self(&self_b);
    malloc_count_sample(&allocs_b);
    for (int i = 0; i < nwatch; i++)
        watches[i].ok = watches[i].ok && ps_sample_pid(watches[i].pid, &watches[i].b);
}

static double per(int64_t d, long long msgs)
{
    return msgs > 0 ? (double)d / (double)msgs : 0;
}

/* The cost-per-message part of the summary (JSON fields or a text line). */
static void cost_print(FILE *f, bool json, long long msgs)
{
    if (json) {
        fprintf(f, ",\"client_cpu_us_per_msg\":%.2f,\"client_cs_per_msg\":%.3f,\"client_rss_anon_kb\":%lld",
                per(self_b.cpu_ns - self_a.cpu_ns, msgs) / 1000.0,
                per(self_b.vcs - self_a.vcs + self_b.ivcs - self_a.ivcs, msgs),
                (long long)self_b.rss_anon_kb);
        if (allocs_a >= 0 && allocs_b >= 0)
            fprintf(f, ",\"client_allocs_per_msg\":%.2f", per(allocs_b - allocs_a, msgs));
        for (int i = 0; i < nwatch; i++) {
            watch_t *w = &watches[i];
            if (!w->ok)
                continue;
            fprintf(f, ",\"%s_cpu_us_per_msg\":%.2f,\"%s_cs_per_msg\":%.3f,\"%s_rss_anon_kb\":%lld", w->name,
                    per(w->b.cpu_ns - w->a.cpu_ns, msgs) / 1000.0, w->name,
                    per(w->b.vcs - w->a.vcs + w->b.ivcs - w->a.ivcs, msgs), w->name,
                    (long long)w->b.rss_anon_kb);
        }
        return;
    }
    fprintf(f, "cost per message: client %.2f us CPU, %.3f context switches",
            per(self_b.cpu_ns - self_a.cpu_ns, msgs) / 1000.0,
            per(self_b.vcs - self_a.vcs + self_b.ivcs - self_a.ivcs, msgs));
    if (allocs_a >= 0 && allocs_b >= 0)
        fprintf(f, ", %.2f heap allocations", per(allocs_b - allocs_a, msgs));
    for (int i = 0; i < nwatch; i++) {
        watch_t *w = &watches[i];
        if (w->ok)
            fprintf(f, "; %s %.2f us CPU, %.3f context switches", w->name,
                    per(w->b.cpu_ns - w->a.cpu_ns, msgs) / 1000.0,
                    per(w->b.vcs - w->a.vcs + w->b.ivcs - w->a.ivcs, msgs));
        else
            fprintf(f, "; %s (pid %d) not readable", w->name, (int)w->pid);
    }
    fprintf(f, "\n");
}

/* --threads: each watched thread's CPU and context switches per message. */
static void cost_threads(long long msgs)
{
    for (int i = 0; i < nwatch; i++) {
        watch_t *w = &watches[i];
        if (!w->ok)
            continue;
        for (int k = 0; k < w->b.nthreads; k++) {
            const ps_thread_t *tb = &w->b.threads[k], *ta = NULL;
            for (int j = 0; j < w->a.nthreads; j++)
                if (w->a.threads[j].tid == tb->tid)
                    ta = &w->a.threads[j];
            ps_thread_t zero = {0};
            if (!ta)
                ta = &zero;
            if (tb->cpu_ns == ta->cpu_ns && tb->vcs == ta->vcs)
                continue;
            fprintf(stderr, "  %s/%-15s %8.3f us CPU, %.4f vcs, %.4f ivcs per message\n", w->name, tb->name,
                    per(tb->cpu_ns - ta->cpu_ns, msgs) / 1000.0, per(tb->vcs - ta->vcs, msgs),
                    per(tb->ivcs - ta->ivcs, msgs));
        }
    }
}

/* per-thread stats (one histogram per writer) */
typedef struct stat_s {
    pthread_mutex_t lock;
    hdr_t h;
    atomic_llong ok, fail, bytes;
    atomic_llong tried; /* producers: sends handed to libcomet */
} stat_t;

static stat_t *stats;
static int nstats;
static FILE *progress_out; /* stdout, or stderr with --json */

static void usage(void)
{
    fprintf(stderr,
            "usage:\n"
            "  mqbench producer -n ns -t topic [-w threads=4] [-s size=128] [-d seconds=30]\n"
            "                   [-m sync|async|oneway|transaction] [-b batch=1] [-k] [-a inflight=2000]\n"
            "                   [--txn-unknown] [--json]\n"
            "  mqbench consumer -n ns -t topic [-g group] [-d seconds=30] [-w threads=20]\n"
            "                   [--from first|last] [--until-idle ms] [--json]\n"
            "  mqbench floor-net [-w clients] [-s request bytes] [-r response bytes] [-d seconds] [--json]\n"
            "  mqbench floor-disk [-b batch] [-s record bytes] [-d seconds] [-D dir] [--json]\n"
            "  -n defaults to $NAMESRV_ADDR; --serialize JSON|ROCKETMQ picks the request header format\n"
            "  -X property=value  any libcomet property (repeatable), e.g. -X sendMsgTimeout=5000\n"
            "  --access-key AK --secret-key SK  sign requests for a broker with aclEnable=true\n"
            "  --tls, --tls-ca ca.pem  connect with TLS (verifying servers against ca.pem)\n"
            "  --pid NAME=PID (up to 4) reports that process's CPU and context switches per message\n"
            "  next to the client's; --threads lists them per thread\n");
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

/* consumer drains: first and last consume time (mono us), 0 = none yet */
static atomic_llong first_msg_us, last_msg_us;

/* Run the reporting loop for `duration` seconds (or, with until_idle_ms,
 * until no message came for that long); the cost samples bracket it.
 * Returns the measured seconds; *msgs the messages counted in them. */
static double run_reporter(const char *what, const opts_t *o, hdr_t *total, const char *unit, long long *msgs)
{
    long long pok = 0, pfail = 0, pbytes = 0;
    hdr_reset(total);
    long long ok0, f0, b0;
    hdr_t h0;
    collect(&h0, &ok0, &f0, &b0, false);
    cost_begin();
    int64_t t0 = now_us(), last_progress = t0;
    for (int sec = 1; sec <= o->duration && !stop_flag; sec++) {
        int64_t wake = t0 + (int64_t)sec * 1000000;
        while (now_us() < wake && !stop_flag)
            usleep(20000);
        hdr_t h;
        long long ok, fail, bytes;
        collect(&h, &ok, &fail, &bytes, true);
        hdr_merge(total, &h);
        report_line(what, sec, ok - pok, fail - pfail, bytes - pbytes, &h, unit);
        if (ok != pok)
            last_progress = now_us();
        pok = ok;
        pfail = fail;
        pbytes = bytes;
        if (o->until_idle_ms > 0 && ok > 0 && now_us() - last_progress >= (int64_t)o->until_idle_ms * 1000)
            break;
    }
    cost_end();
    long long ok, fail, bytes;
    hdr_t h;
    collect(&h, &ok, &fail, &bytes, false);
    *msgs = ok - ok0;
    int64_t el = now_us() - t0;
    if (o->until_idle_ms > 0 && first_msg_us && last_msg_us > first_msg_us)
        return (double)(last_msg_us - first_msg_us) / 1e6;
    return (double)el / 1e6;
}

static void final_line(const opts_t *o, const char *what, double secs, long long msgs, hdr_t *h,
                       const char *unit)
{
    long long ok = 0, fail = 0, bytes = 0, tried = 0;
    for (int i = 0; i < nstats; i++) {
        ok += stats[i].ok;
        fail += stats[i].fail;
        bytes += stats[i].bytes;
        tried += stats[i].tried;
    }
    long long unfinished = tried ? tried - ok - fail : 0;
    double tps = secs > 0 ? (double)msgs / secs : 0;
    double mbs = secs > 0 && ok ? (double)bytes / (double)ok * (double)msgs / 1048576.0 / secs : 0;
    if (o->json) {
        printf("{\"bench\":\"%s\",\"mode\":\"%s\",\"threads\":%d,\"size\":%d,\"batch\":%d,\"seconds\":%.2f,"
               "\"messages\":%lld,\"acked\":%lld,\"failures\":%lld,\"unfinished\":%lld,\"msgs_per_sec\":%.1f,"
               "\"mb_per_sec\":%.2f,"
               "\"latency_unit\":\"%s\","
               "\"p50\":%lld,\"p99\":%lld,\"p999\":%lld,\"max\":%lld",
               what, o->mode ? o->mode : "-", o->threads, o->mode ? o->size : (int)(ok ? bytes / ok : 0),
               o->batch, secs, msgs, ok, fail, unfinished, tps, mbs, unit, (long long)hdr_quantile(h, 0.5),
               (long long)hdr_quantile(h, 0.99), (long long)hdr_quantile(h, 0.999), (long long)h->max);
        cost_print(stdout, true, msgs);
        printf("}\n");
    } else {
        printf("%s summary: %.1f msg/s, %.2f MB/s, latency p50 %lld%s p99 %lld%s p999 %lld%s max %lld%s, "
               "messages %lld in %.1f s (%lld acked in all), failures %lld, unfinished %lld\n",
               what, tps, mbs, (long long)hdr_quantile(h, 0.5), unit, (long long)hdr_quantile(h, 0.99), unit,
               (long long)hdr_quantile(h, 0.999), unit, (long long)h->max, unit, msgs, secs, ok, fail,
               unfinished);
        cost_print(stdout, false, msgs);
    }
    if (o->thread_detail)
        cost_threads(msgs);
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

static atomic_llong txn_checks;
static comet_txn_state_t txn_execute(comet_producer_t *p, const comet_message_t *m,
                                     const comet_send_result_t *half, void *arg, void *opaque)
{
    (void)p, (void)m, (void)half, (void)arg;
    return *(const bool *)opaque ? COMET_TXN_UNKNOWN : COMET_TXN_COMMIT;
}
static comet_txn_state_t txn_check(comet_producer_t *p, const comet_message_ext_t *m, void *opaque)
{
    (void)p, (void)m, (void)opaque;
    txn_checks++;
    return COMET_TXN_COMMIT;
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
    bool txn = strcmp(o->mode, "transaction") == 0;
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
            st->tried += 1;
            e = comet_producer_send_async(t->p, msgs[0], pd);
            if (e) {
                sem_post(&t->window);
                free(pd);
            }
        } else if (oneway) {
            e = comet_producer_send_oneway(t->p, msgs[0]);
        } else if (txn) {
            e = comet_producer_send_in_transaction(t->p, msgs[0], NULL, &res, NULL, -1);
        } else {
            e = comet_producer_send(t->p, msgs[0], &res, -1);
        }
        if (!async || nb > 1 || e) {
            if (!async || nb > 1)
                st->tried += nb;
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
    if (!apply_props(o, conf)) {
        comet_conf_destroy(conf);
        return 2;
    }
    comet_conf_set_send_cb(conf, on_sent);
    if (strcmp(o->mode, "transaction") == 0) {
        comet_conf_set_transaction_listener(conf, txn_execute, txn_check);
        comet_conf_set_opaque(conf, &o->txn_unknown);
    }
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
    long long msgs;
    double secs = run_reporter("producer", o, &total, "us", &msgs);
    stop_flag = 1;
    for (int i = 0; i < o->threads; i++)
        pthread_join(th[i], NULL);
    comet_producer_flush(p, 10000);
    hdr_t rest;
    long long a, b, c;
    collect(&rest, &a, &b, &c, true);
    hdr_merge(&total, &rest);
    final_line(o, "producer", secs, msgs, &total, "us");
    if (o->txn_unknown) {
        /* the UNKNOWN ones are committed by check-backs: wait for them (bounded
         * by the broker's transactionTimeOut + transactionCheckInterval) */
        long long sent = 0, f = 0, by = 0;
        for (int i = 0; i < nstats; i++)
            sent += stats[i].ok, f += stats[i].fail, by += stats[i].bytes;
        int64_t t0 = now_us(), deadline = t0 + 600 * 1000000LL;
        while (txn_checks < sent && now_us() < deadline)
            usleep(10000);
        fprintf(o->json ? stderr : stdout, "check-backs answered: %lld of %lld transactions in %.1f s\n",
                (long long)txn_checks, sent, (double)(now_us() - t0) / 1e6);
    }
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
    long long mono = now_us(), zero = 0;
    atomic_compare_exchange_strong(&first_msg_us, &zero, mono);
    atomic_store(&last_msg_us, mono);
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
    if (!apply_props(o, conf)) {
        comet_conf_destroy(conf);
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
    long long msgs;
    double secs = run_reporter("consumer", o, &total, "ms", &msgs);
    comet_push_consumer_destroy(c);
    final_line(o, "consumer", secs, msgs, &total, "ms");
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
    if (strcmp(what, "floor-net") == 0)
        return floor_net_main(argc, argv);
    if (strcmp(what, "floor-disk") == 0)
        return floor_disk_main(argc, argv);
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
                                       {"txn-unknown", no_argument, 0, 'U'},
                                       {"access-key", required_argument, 0, 'A'},
                                       {"secret-key", required_argument, 0, 'K'},
                                       {"tls", no_argument, 0, 'T'},
                                       {"tls-ca", required_argument, 0, 'C'},
                                       {"pid", required_argument, 0, 0x101},
                                       {"threads", no_argument, 0, 0x102},
                                       {"until-idle", required_argument, 0, 0x103},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int ch;
    optind = 2;
    static char prop_buf[64][600];
    while ((ch = getopt_long(argc, argv, "n:t:g:w:s:d:m:b:ka:X:h", lo, NULL)) != -1) {
        const char *pk = NULL;
        switch (ch) {
        case 'X':
            pk = "";
            break;
        case 'A':
            pk = "accessKey=";
            break;
        case 'K':
            pk = "secretKey=";
            break;
        case 'T':
            pk = "useTLS=";
            optarg = (char *)"true";
            break;
        case 'C':
            if (o.nprops < 63)
                o.props[o.nprops++] = "useTLS=true";
            pk = "tls.client.trustCertPath=";
            break;
        default:
            break;
        }
        if (pk) {
            if (o.nprops >= 64) {
                fprintf(stderr, "mqbench: too many properties\n");
                return 2;
            }
            snprintf(prop_buf[o.nprops], sizeof(prop_buf[0]), "%s%s", pk, optarg);
            o.props[o.nprops] = prop_buf[o.nprops];
            o.nprops++;
            continue;
        }
        if (set_plain_opt(&o, ch, optarg))
            continue;
        switch (ch) {
        case 0x101: {
            const char *eq = strchr(optarg, '=');
            if (!eq || nwatch == MAX_WATCH || atoi(eq + 1) <= 0 || eq == optarg || eq - optarg >= 32) {
                fprintf(stderr, "mqbench: --pid NAME=PID (at most %d)\n", MAX_WATCH);
                return 2;
            }
            snprintf(watches[nwatch].name, sizeof(watches[nwatch].name), "%.*s", (int)(eq - optarg), optarg);
            watches[nwatch++].pid = (pid_t)atoi(eq + 1);
            break;
        }
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
        (strcmp(o.mode, "sync") && strcmp(o.mode, "async") && strcmp(o.mode, "oneway") &&
         strcmp(o.mode, "transaction")) ||
        (!strcmp(o.mode, "transaction") && o.batch != 1) ||
        (o.txn_unknown && strcmp(o.mode, "transaction"))) {
        fprintf(stderr, "mqbench: bad option value (size >= 1, duration >= 1, 1 <= batch <= 256, "
                        "mode sync|async|oneway|transaction; transaction: batch 1; --txn-unknown needs "
                        "-m transaction)\n");
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
