/* ctrl_util.c - see ctrl_util.h. Test main thread, except the sender
 * threads of a load (which only touch their own records, under the load's
 * mutex). */
#include "ctrl_util.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comet/comet.h"
#include "rmq_alloc.h"
#include "rmq_map.h"
#include "rmq_msg_codec.h"
#include "rmq_time.h"

#define SEGMENT 4194304 /* the harness's mappedFileSizeCommitLog */

/* ------------------------------------------------------------ the group */

void cg_endpoints(const cg_t *g, int i, char *out, size_t n)
{
    if (g->proxy[i])
        snprintf(out, n, "http://127.0.0.1:%d", ha_proxy_port(g->proxy[i]));
    else
        tc_etcd_endpoints(g->etcd, g->n_etcd, out, n);
}

static bool start_broker(cg_t *g, int i)
{
    char eps[512], conf[2048];
    cg_endpoints(g, i, eps, sizeof(eps));
    snprintf(conf, sizeof(conf),
             "brokerName=" CG_GROUP "\nbrokerId=%d\nbrokerRole=SYNC_MASTER\nflushDiskType=SYNC_FLUSH\n"
             "enableControllerMode=true\netcdEndpoints=%s\netcdLeaseTtlSeconds=%d\n"
             "haSendHeartbeatInterval=300\nhaHousekeepingInterval=4000\nslaveTimeout=3000\n"
             "registerNameServerPeriod=500\nflushConsumerOffsetInterval=200\n%s",
             i + 1, eps, CG_TTL_S, g->extra);
    return th_broker_start(&g->br[i], g->ns.port, conf);
}

bool cg_restart(cg_t *g, int i)
{
    return th_broker_restart(&g->br[i]);
}

static bool has_topic(int port, const char *topic)
{
    th_client_t c;
    if (!th_connect(&c, port))
        return false;
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 21); /* GET_ALL_TOPIC_CONFIG */
    bool ok = th_call(&c, &req, &resp, 5000) && resp.code == 0;
    bool found = false;
    if (ok) {
        char needle[128];
        snprintf(needle, sizeof(needle), "\"%s\"", topic);
        found = resp.body && memmem(resp.body, resp.body_len, needle, strlen(needle)) != NULL;
        rmq_cmd_deinit(&resp);
    }
    rmq_cmd_deinit(&req);
    th_close(&c);
    return found;
}

int cg_start(cg_t *g, int n_etcd, bool proxies, const char *extra)
{
    memset(g, 0, sizeof(*g));
    snprintf(g->extra, sizeof(g->extra), "%s", extra ? extra : "");
    g->n_etcd = n_etcd;
    if (!tc_etcd_bin()) {
        fprintf(stderr, "ctrl_util: no etcd binary (install Debian's etcd-server: scripts/deps.sh --test)\n");
        return -1;
    }
    if (!tc_etcd_cluster_start(g->etcd, n_etcd))
        return -1;
    if (proxies)
        for (int i = 0; i < 2; i++)
            g->proxy[i] = ha_proxy_start(g->etcd[0].proc.port);
    if (!th_namesrv_start(&g->ns, NULL))
        return -1;
    for (int i = 0; i < 2; i++)
        if (!start_broker(g, i))
            return -1;
    int m = cg_wait_master(g, -1, 60000);
    if (m < 0) {
        fprintf(stderr, "ctrl_util: no master elected\n");
        return -1;
    }
    if (!cg_wait_isr(g, m, "1,2", 60000)) {
        fprintf(stderr, "ctrl_util: the in-sync set never held both replicas\n");
        return -1;
    }
    if (ha_create_topic(g->br[m].port, CG_TOPIC, CG_QUEUES) != 0)
        return -1;
    if (!TH_WAIT_UNTIL(has_topic(g->br[1 - m].port, CG_TOPIC), 30000)) {
        fprintf(stderr, "ctrl_util: the replica never got topic %s\n", CG_TOPIC);
        return -1;
    }
    return m;
}

void cg_stop(cg_t *g)
{
    for (int i = 0; i < 2; i++)
        if (g->br[i].pid > 0)
            th_proc_stop(&g->br[i], SIGTERM);
    if (g->ns.pid > 0)
        th_proc_stop(&g->ns, SIGTERM);
    for (int i = 0; i < g->n_etcd; i++)
        if (g->etcd[i].proc.pid > 0)
            tc_etcd_kill(&g->etcd[i]);
    for (int i = 0; i < 2; i++) {
        ha_proxy_stop(g->proxy[i]);
        g->proxy[i] = NULL;
    }
}

bool cg_info(int port, const char *key, char *out, size_t n)
{
    return ha_info(port, key, out, n);
}

int64_t cg_info_i64(int port, const char *key, int64_t def)
{
    return ha_info_i64(port, key, def);
}

bool cg_is_master(const cg_t *g, int i)
{
    if (g->br[i].pid <= 0)
        return false;
    char role[32], fenced[16];
    return cg_info(g->br[i].port, "controllerRole", role, sizeof(role)) && !strcmp(role, "MASTER") &&
           cg_info(g->br[i].port, "controllerFenced", fenced, sizeof(fenced)) && !strcmp(fenced, "false");
}

int cg_wait_master(cg_t *g, int not, int timeout_ms)
{
    int found = -1;
    TH_WAIT_UNTIL(__extension__({
                      for (int i = 0; i < 2 && found < 0; i++)
                          if (i != not &&cg_is_master(g, i))
                              found = i;
                      found >= 0;
                  }),
                  timeout_ms);
    return found;
}

static bool isr_is(int port, const char *set)
{
    char v[64];
    return cg_info(port, "syncStateSet", v, sizeof(v)) && !strcmp(v, set);
}

bool cg_wait_isr(cg_t *g, int master, const char *set, int timeout_ms)
{
    return TH_WAIT_UNTIL(isr_is(g->br[master].port, set), timeout_ms);
}

/* ------------------------------------------------------------------ load */

typedef struct sender_s {
    struct cg_load_s *l;
    int idx;
    pthread_t thr;
} sender_t;

struct cg_load_s {
    comet_producer_t *p;
    size_t body_size;
    sender_t s[8];
    int n;
    _Atomic bool stop;
    pthread_mutex_t mu;
    cg_ack_t *r;
    size_t nr, cap;
    _Atomic int64_t ok, failed; /* counted under mu with r, read without it */
};

static void record(cg_load_t *l, const cg_ack_t *a)
{
    pthread_mutex_lock(&l->mu);
    if (l->nr == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->r = rmq_realloc(l->r, l->cap * sizeof(*l->r));
    }
    l->r[l->nr++] = *a;
    if (a->err == 0 && a->status == COMET_SEND_OK)
        l->ok++;
    else
        l->failed++;
    pthread_mutex_unlock(&l->mu);
}

static void *sender_main(void *arg)
{
    sender_t *s = arg;
    cg_load_t *l = s->l;
    for (int i = 0; i < 10000000 && !atomic_load(&l->stop); i++) {
        cg_ack_t a = {0};
        snprintf(a.body, sizeof(a.body), "w%d-%d", s->idx, i);
        size_t bl = strlen(a.body);
        char *body = a.body;
        if (l->body_size > bl + 1) { /* "<id>|xxx...": the id identifies it */
            body = rmq_malloc(l->body_size);
            uint64_t x = 0x9E3779B97F4A7C15ull ^ (uint64_t)i ^ ((uint64_t)s->idx << 40);
            for (size_t k = 0; k < l->body_size; k++) { /* incompressible: libcomet compresses large bodies */
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                body[k] = (char)('0' + (x % 64));
            }
            memcpy(body, a.body, bl);
            body[bl] = '|';
            bl = l->body_size;
        }
        comet_message_t *m = comet_message_new(CG_TOPIC, body, bl, COMET_MSG_F_COPY);
        if (body != a.body)
            free(body);
        comet_send_result_t res;
        /* 10 s: a slow answer on a loaded machine is not a failure; a
         * refusal, a dead connection or a withheld acknowledgement is */
        comet_err_t e = comet_producer_send(l->p, m, &res, 10000);
        comet_message_destroy(m);
        a.err = e;
        a.status = e == COMET_ERR_NO_ERROR ? (int)res.status : -1;
        a.t_ack = rmq_mono_ms();
        a.port = -1;
        a.offset = -1;
        if (e == COMET_ERR_NO_ERROR) {
            rmq_msg_host_t h;
            int64_t off;
            if (rmq_msg_id_parse(res.offset_msg_id, strlen(res.offset_msg_id), &h, &off) == RMQ_OK) {
                a.port = h.port;
                a.offset = off;
            }
        }
        record(l, &a);
        if (e != COMET_ERR_NO_ERROR || a.status != COMET_SEND_OK)
            th_pace_ms(20, "after a failed send: no busy loop while there is no master");
    }
    return NULL;
}

cg_load_t *cg_load_start(int ns_port, int threads, size_t body_size)
{
    cg_load_t *l = rmq_calloc(1, sizeof(*l));
    l->body_size = body_size;
    pthread_mutex_init(&l->mu, NULL);
    comet_conf_t *conf = comet_conf_new();
    char err[256], ns[64];
    snprintf(ns, sizeof(ns), "127.0.0.1:%d", ns_port);
    comet_conf_set(conf, "namesrvAddr", ns, err, sizeof(err));
    comet_conf_set(conf, "producerGroup", "FoProducer", err, sizeof(err));
    comet_conf_set(conf, "logLevel", "ERROR", err, sizeof(err));
    l->p = comet_producer_new(conf, err, sizeof(err));
    cr_assert_not_null(l->p, "producer: %s", err);
    cr_assert_eq(comet_producer_start(l->p, err, sizeof(err)), 0, "producer start: %s", err);
    l->n = threads > 8 ? 8 : threads;
    for (int i = 0; i < l->n; i++) {
        l->s[i].l = l;
        l->s[i].idx = i;
        cr_assert_eq(pthread_create(&l->s[i].thr, NULL, sender_main, &l->s[i]), 0);
    }
    return l;
}

int64_t cg_load_ok(cg_load_t *l)
{
    return atomic_load(&l->ok);
}

static bool acked(const cg_ack_t *a);

int64_t cg_load_failures(cg_load_t *l, int64_t after, char *out, size_t n)
{
    static const char *status_names[] = {"SEND_OK", "FLUSH_DISK_TIMEOUT", "FLUSH_SLAVE_TIMEOUT",
                                         "SLAVE_NOT_AVAILABLE"};
    int64_t count = 0;
    size_t o = 0;
    out[0] = 0;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->nr; i++) {
        const cg_ack_t *a = &l->r[i];
        if (a->t_ack <= after || acked(a))
            continue;
        if (count++ < 5 && o < n) {
            const char *what = a->err                            ? comet_err2name((comet_err_t)a->err)
                               : a->status >= 0 && a->status < 4 ? status_names[a->status]
                                                                 : "status ?";
            o += (size_t)snprintf(out + o, n - o, "%s+%lld ms %s", o ? ", " : "",
                                  (long long)(a->t_ack - after), what);
        }
    }
    pthread_mutex_unlock(&l->mu);
    return count;
}

int64_t cg_load_failed(cg_load_t *l)
{
    return atomic_load(&l->failed);
}

static bool acked(const cg_ack_t *a)
{
    return a->err == 0 && a->status == COMET_SEND_OK;
}

int64_t cg_load_first_ack(cg_load_t *l, int port, int64_t after)
{
    int64_t t = -1;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->nr; i++)
        if (acked(&l->r[i]) && l->r[i].port == port && l->r[i].t_ack > after && (t < 0 || l->r[i].t_ack < t))
            t = l->r[i].t_ack;
    pthread_mutex_unlock(&l->mu);
    return t;
}

int64_t cg_load_acks_from(cg_load_t *l, int port, int64_t after)
{
    int64_t n = 0;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->nr; i++)
        n += acked(&l->r[i]) && l->r[i].port == port && l->r[i].t_ack > after;
    pthread_mutex_unlock(&l->mu);
    return n;
}

void cg_load_stop(cg_load_t *l)
{
    if (atomic_exchange(&l->stop, true))
        return;
    for (int i = 0; i < l->n; i++)
        pthread_join(l->s[i].thr, NULL);
    comet_producer_destroy(l->p);
    l->p = NULL;
}

size_t cg_load_results(cg_load_t *l, cg_ack_t **out)
{
    *out = l->r;
    return l->nr;
}

void cg_load_free(cg_load_t *l)
{
    cg_load_stop(l);
    free(l->r);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* ----------------------------------------------------------- verification */

/* The body of the record at a commit-log offset of a store (read from its
 * files; the broker may be running). */
static bool body_at(const char *store_dir, int64_t offset, char *out, size_t n)
{
    char path[600];
    int64_t base = offset / SEGMENT * SEGMENT;
    snprintf(path, sizeof(path), "%s/commitlog/%020lld", store_dir, (long long)base);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    uint8_t hdr[4];
    bool ok = fseek(f, (long)(offset - base), SEEK_SET) == 0 && fread(hdr, 1, 4, f) == 4;
    int32_t size =
        ok ? (int32_t)((uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3]) : 0;
    ok = ok && size > 20 && size < (64 << 20);
    uint8_t *rec = ok ? rmq_malloc((size_t)size) : NULL;
    if (ok) {
        memcpy(rec, hdr, 4);
        ok = fread(rec + 4, 1, (size_t)size - 4, f) == (size_t)size - 4;
    }
    fclose(f);
    rmq_msg_rec_t r;
    if (ok && rmq_msg_decode(rec, (size_t)size, true, &r) == RMQ_OK && r.commitlog_offset == offset) {
        const char *bar = memchr(r.body, '|', (size_t)r.body_len);
        snprintf(out, n, "%.*s", (int)(bar ? bar - (const char *)r.body : r.body_len), (const char *)r.body);
    } else {
        ok = false;
    }
    free(rec);
    return ok;
}

static void pulled(void *arg, const rmq_msg_rec_t *rec)
{
    rmq_map_t *m = arg;
    char body[64];
    const char *bar = memchr(rec->body, '|', (size_t)rec->body_len);
    snprintf(body, sizeof(body), "%.*s", (int)(bar ? bar - (const char *)rec->body : rec->body_len),
             (const char *)rec->body);
    rmq_map_put(m, body, NULL);
}

bool cg_verify_acked(cg_load_t *l, const char *store_dir, int port, char *why, size_t n)
{
    why[0] = 0;
    rmq_map_t seen;
    rmq_map_init(&seen, NULL);
    for (int q = 0; q < CG_QUEUES; q++)
        if (ha_pull_all(port, "FoChecker", CG_TOPIC, q, pulled, &seen) < 0) {
            snprintf(why, n, "pulling queue %d from port %d failed", q, port);
            rmq_map_deinit(&seen);
            return false;
        }
    size_t bad = 0, checked = 0;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->nr; i++) {
        const cg_ack_t *a = &l->r[i];
        if (!acked(a))
            continue;
        checked++;
        char body[64] = "";
        bool at =
            a->offset >= 0 && body_at(store_dir, a->offset, body, sizeof(body)) && !strcmp(body, a->body);
        bool in = rmq_map_has(&seen, a->body);
        if (!at || !in) {
            if (bad++ < 5) {
                size_t w = strlen(why);
                snprintf(why + w, n - w, "%s%s (acknowledged by port %d at offset %lld): %s%s", w ? "; " : "",
                         a->body, a->port, (long long)a->offset,
                         at ? "" : (body[0] ? "another message at its offset" : "nothing at its offset"),
                         in ? "" : (at ? "not pulled" : ", not pulled"));
            }
        }
    }
    pthread_mutex_unlock(&l->mu);
    rmq_map_deinit(&seen);
    if (bad) {
        size_t w = strlen(why);
        snprintf(why + w, n - w, " -- %zu of %zu acknowledged messages missing", bad, checked);
    }
    return bad == 0;
}
