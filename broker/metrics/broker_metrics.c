/* metrics/broker_metrics.c - the broker's metrics: per-topic and per-group
 * counters bumped by the processors, request latency from the remoting
 * observer, and the snapshot (lag, connections, store, process) rendered
 * for the HTTP thread.
 * Thread: io only. Counters are plain integers in hash tables owned here;
 * a hook costs one hash lookup (an allocation only the first time a topic
 * or group is seen). The render walks the broker's tables on the io thread,
 * at most once per metricsRefreshIntervalMs whatever the scrape rate
 * (common/http/rmq_metrics_http.c). */
#include "metrics/broker_metrics.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "broker.h"
#include "client/client_mgr.h"
#include "ha/ha.h"
#include "longpoll/pull_hold.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_log.h"
#include "rmq_map.h"
#include "rmq_metrics_http.h"
#include "rmq_rpc_metrics.h"
#include "rmq_time.h"

#define KEY_SEP '\001'

enum { MT_NORMAL, MT_FIFO, MT_DELAY, MT_TRANSACTION, MT_COUNT };
static const char *const mt_names[MT_COUNT] = {"normal", "fifo", "delay", "transaction"};

/* RocketMQ 5's buckets of rocketmq_message_size (bytes). */
static const int64_t size_bounds[] = {1024, 4096, 524288, 1048576, 2097152, 4194304};
static const int64_t gc_bounds[RMQ_STORE_GC_BUCKETS - 1] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

/* What a stat counts for; every stat block starts with it. */
typedef struct stat_names_s {
    char *topic;
    char *group; /* NULL for in_stat */
} stat_names_t;

typedef struct in_stat_s { /* "topic\1type" */
    stat_names_t id;
    int type;
    int64_t msgs, bytes;
    rmq_hist_t size;
} in_stat_t;

typedef struct out_stat_s { /* "topic\1group" */
    stat_names_t id;
    int64_t msgs, bytes;
    int64_t *pulled; /* next offset per queue id, -1 = unknown */
    int32_t nq;
} out_stat_t;

typedef struct dlq_stat_s { /* "group\1origin topic" */
    stat_names_t id;
    int64_t msgs;
} dlq_stat_t;

typedef struct collector_s {
    rmq_bm_collector_fn *fn;
    void *arg;
    struct collector_s *next;
} collector_t;

struct rmq_broker_metrics_s {
    rmq_broker_t *b;
    rmq_metrics_http_t *http;
    rmq_map_t in, out, dlq;
    rmq_rpc_metrics_t rpc;
    collector_t *collectors;
};

/* ---------- hooks ---------- */

static void stat_free(void *p)
{
    stat_names_t *n = p;
    free(n->topic);
    free(n->group);
    free(n);
}

static void out_free(void *p)
{
    free(((out_stat_t *)p)->pulled);
    stat_free(p);
}

/* "a\1b" into buf; false if it does not fit (then the sample is skipped:
 * names are bounded by the request validation long before that). */
static bool key2(char *buf, size_t n, const char *a, const char *b)
{
    int w = snprintf(buf, n, "%s%c%s", a, KEY_SEP, b);
    return w > 0 && (size_t)w < n;
}

/* The stat block under key "a\1b" in map; on first use `size` bytes are
 * allocated zeroed and named topic and group (NULL: none), and *fresh (if
 * asked for) is true. NULL when the key does not fit. */
static void *stat_get(rmq_map_t *map, const char *a, const char *b, const char *topic, const char *group,
                      size_t size, bool *fresh)
{
    char key[600];
    if (!key2(key, sizeof(key), a, b))
        return NULL;
    stat_names_t *s = rmq_map_get(map, key);
    if (fresh)
        *fresh = !s;
    if (!s) {
        s = rmq_calloc(1, size);
        s->topic = rmq_strdup(topic);
        s->group = group ? rmq_strdup(group) : NULL;
        rmq_map_put(map, key, s);
    }
    return s;
}

/* The value of property name in a RocketMQ properties string, or NULL
 * (*vlen set). One pass over the string, no allocation. */
static const char *prop_find(const char *p, size_t len, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    size_t i = 0;
    while (i < len) {
        const char *k = p + i;
        const char *sep = memchr(k, RMQ_PROP_NAME_SEP, len - i);
        if (!sep)
            return NULL;
        const char *v = sep + 1;
        const char *end = memchr(v, RMQ_PROP_PAIR_SEP, (size_t)(p + len - v));
        size_t l = end ? (size_t)(end - v) : (size_t)(p + len - v);
        if ((size_t)(sep - k) == nl && !memcmp(k, name, nl)) {
            *vlen = l;
            return v;
        }
        if (!end)
            return NULL;
        i = (size_t)(end - p) + 1;
    }
    return NULL;
}

/* RocketMQ 5's TopicMessageType for a stored message. */
static int msg_type(const rmq_store_msg_t *m)
{
    if ((m->sys_flag & RMQ_SYSFLAG_TRANSACTION_MASK) == RMQ_SYSFLAG_TRANSACTION_PREPARED)
        return MT_TRANSACTION;
    if (!m->props || !m->props_len)
        return MT_NORMAL;
    size_t vl;
    const char *v = prop_find(m->props, m->props_len, RMQ_PROP_TRAN_MSG, &vl);
    if (v && vl == 4 && !memcmp(v, "true", 4))
        return MT_TRANSACTION;
    if (prop_find(m->props, m->props_len, "__SHARDINGKEY", &vl))
        return MT_FIFO;
    if (prop_find(m->props, m->props_len, RMQ_PROP_DELAY, &vl) ||
        prop_find(m->props, m->props_len, "TIMER_DELIVER_MS", &vl) ||
        prop_find(m->props, m->props_len, "__STARTDELIVERTIME", &vl) ||
        prop_find(m->props, m->props_len, "TIMER_DELAY_SEC", &vl) ||
        prop_find(m->props, m->props_len, "TIMER_DELAY_MS", &vl))
        return MT_DELAY;
    return MT_NORMAL;
}

void rmq_bm_put(rmq_broker_metrics_t *m, const rmq_store_msg_t *msgs, size_t n)
{
    if (!m || !n)
        return;
    int type = msg_type(&msgs[0]);
    char tn[4] = {(char)('0' + type), 0};
    bool fresh;
    in_stat_t *s = stat_get(&m->in, msgs[0].topic, tn, msgs[0].topic, NULL, sizeof(*s), &fresh);
    if (!s)
        return;
    if (fresh) {
        s->type = type;
        rmq_hist_init(&s->size, size_bounds, (int)(sizeof(size_bounds) / sizeof(size_bounds[0])));
    }
    for (size_t i = 0; i < n; i++) {
        s->msgs++;
        s->bytes += (int64_t)msgs[i].body_len;
        rmq_hist_observe(&s->size, (int64_t)msgs[i].body_len);
    }
    /* dead letters: %DLQ%<group>, the original topic in RETRY_TOPIC */
    if (!strncmp(msgs[0].topic, RMQ_DLQ_PREFIX, strlen(RMQ_DLQ_PREFIX))) {
        const char *group = msgs[0].topic + strlen(RMQ_DLQ_PREFIX);
        size_t vl = 0;
        const char *ot =
            msgs[0].props ? prop_find(msgs[0].props, msgs[0].props_len, "RETRY_TOPIC", &vl) : NULL;
        char origin[300];
        snprintf(origin, sizeof(origin), "%.*s", ot ? (int)vl : 0, ot ? ot : "");
        /* the property is the sender's: a label only when it names a topic
         * of this broker, else the dead-letter topic itself (bounded) */
        if (!*origin || !rmq_topic_get(&m->b->topics, origin))
            snprintf(origin, sizeof(origin), "%s", msgs[0].topic);
        dlq_stat_t *d = stat_get(&m->dlq, group, origin, origin, group, sizeof(*d), NULL);
        if (!d)
            return;
        d->msgs += (int64_t)n;
    }
}

void rmq_bm_pull(rmq_broker_metrics_t *m, const char *topic, const char *group, int32_t qid, int64_t next,
                 size_t count, size_t bytes)
{
    if (!m)
        return;
    out_stat_t *s = stat_get(&m->out, topic, group, topic, group, sizeof(*s), NULL);
    if (!s)
        return;
    s->msgs += (int64_t)count;
    s->bytes += (int64_t)bytes;
    if (qid >= 0 && qid < 65536) {
        if (qid >= s->nq) {
            int32_t nq = qid + 1;
            s->pulled = rmq_realloc(s->pulled, (size_t)nq * sizeof(*s->pulled));
            for (int32_t i = s->nq; i < nq; i++)
                s->pulled[i] = -1;
            s->nq = nq;
        }
        s->pulled[qid] = next;
    }
}

void rmq_bm_rpc_deferred(rmq_broker_metrics_t *m, int req_code, int resp_code, int64_t elapsed_us)
{
    if (m)
        rmq_rpc_metrics_observe(&m->rpc, req_code, resp_code, elapsed_us);
}

void rmq_broker_metrics_add_collector(rmq_broker_metrics_t *m, rmq_bm_collector_fn *fn, void *arg)
{
    if (!m)
        return;
    collector_t *c = rmq_calloc(1, sizeof(*c));
    c->fn = fn;
    c->arg = arg;
    collector_t **tail = &m->collectors;
    while (*tail)
        tail = &(*tail)->next;
    *tail = c;
}

/* ---------- render ---------- */

static const char *tf(bool v)
{
    return v ? "true" : "false";
}

static bool is_system_topic(const char *t)
{
    return rmq_topic_is_system(t) || !strncmp(t, "rmq_sys_", 8) || !strcmp(t, RMQ_TOPIC_TBW102);
}

static bool is_system_group(const char *g)
{
    return !strncasecmp(g, "CID_RMQ_SYS_", 12);
}

static bool is_retry(const char *t)
{
    return !strncmp(t, RMQ_RETRY_PREFIX, strlen(RMQ_RETRY_PREFIX)) ||
           !strncmp(t, RMQ_DLQ_PREFIX, strlen(RMQ_DLQ_PREFIX));
}

/* Lowercase name into out (RocketMQ's label style). */
static const char *lower(const char *s, char *out, size_t n)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++)
        out[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
    out[i] = 0;
    return out;
}

/* Series of topics and groups that no longer exist are dropped (their
 * counters end with the topic or group), so the number of series follows
 * the topic and subscription-group tables, not what clients once named. */
static bool stat_gone(rmq_broker_metrics_t *m, const void *v)
{
    const stat_names_t *n = v;
    return !rmq_topic_get(&m->b->topics, n->topic) ||
           (n->group && !rmq_sub_group_get(&m->b->groups, n->group));
}

static void prune(rmq_broker_metrics_t *m)
{
    rmq_map_t *maps[] = {&m->in, &m->out, &m->dlq};
    for (int k = 0; k < 3; k++) {
        size_t n;
        const char **keys = rmq_map_sorted_keys(maps[k], &n);
        char **gone = rmq_calloc(n ? n : 1, sizeof(char *));
        size_t ng = 0;
        for (size_t i = 0; i < n; i++)
            if (stat_gone(m, rmq_map_get(maps[k], keys[i])))
                gone[ng++] = rmq_strdup(keys[i]);
        for (size_t i = 0; i < ng; i++) {
            rmq_map_del(maps[k], gone[i]);
            free(gone[i]);
        }
        free(gone);
        free(keys);
    }
}

/* One sample per incoming stat: its message count, or its bytes. */
static void render_in_counter(rmq_broker_metrics_t *m, rmq_prom_t *w, const char **keys, size_t n, bool bytes)
{
    for (size_t i = 0; i < n; i++) {
        in_stat_t *s = rmq_map_get(&m->in, keys[i]);
        const char *topic = s->id.topic;
        const char *l[] = {
            "topic", topic, "message_type", mt_names[s->type], "is_system", tf(is_system_topic(topic)), NULL};
        rmq_prom_int(w, l, bytes ? s->bytes : s->msgs);
    }
}

static void render_in(rmq_broker_metrics_t *m, rmq_prom_t *w)
{
    size_t n;
    const char **keys = rmq_map_sorted_keys(&m->in, &n);
    rmq_prom_family(w, "rocketmq_messages_in_total", "counter", "Total number of incoming messages");
    render_in_counter(m, w, keys, n, false);
    rmq_prom_family(w, "rocketmq_throughput_in_total", "counter",
                    "Total traffic of incoming messages (body bytes)");
    render_in_counter(m, w, keys, n, true);
    rmq_prom_family(w, "rocketmq_message_size", "histogram", "Incoming messages size (body bytes)");
    for (size_t i = 0; i < n; i++) {
        in_stat_t *s = rmq_map_get(&m->in, keys[i]);
        const char *l[] = {"topic", s->id.topic, "message_type", mt_names[s->type], NULL};
        rmq_prom_hist(w, l, &s->size);
    }
    free(keys);
}

static void render_out(rmq_broker_metrics_t *m, rmq_prom_t *w)
{
    size_t n;
    const char **keys = rmq_map_sorted_keys(&m->out, &n);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            rmq_prom_family(w, "rocketmq_messages_out_total", "counter", "Total number of outgoing messages");
        else
            rmq_prom_family(w, "rocketmq_throughput_out_total", "counter",
                            "Total traffic of outgoing messages (record bytes)");
        for (size_t i = 0; i < n; i++) {
            out_stat_t *s = rmq_map_get(&m->out, keys[i]);
            const char *l[] = {"topic",
                               s->id.topic,
                               "consumer_group",
                               s->id.group,
                               "is_retry",
                               tf(is_retry(s->id.topic)),
                               "is_system",
                               tf(is_system_topic(s->id.topic) || is_system_group(s->id.group)),
                               NULL};
            rmq_prom_int(w, l, pass == 0 ? s->msgs : s->bytes);
        }
    }
    free(keys);
    keys = rmq_map_sorted_keys(&m->dlq, &n);
    rmq_prom_family(w, "rocketmq_send_to_dlq_messages_total", "counter", "Consumer send to DLQ messages");
    for (size_t i = 0; i < n; i++) {
        dlq_stat_t *d = rmq_map_get(&m->dlq, keys[i]);
        const char *l[] = {"topic",     d->id.topic, "consumer_group",
                           d->id.group, "is_system", tf(is_system_group(d->id.group)),
                           NULL};
        rmq_prom_int(w, l, d->msgs);
    }
    free(keys);
}

typedef struct lag_row_s {
    const char *topic, *group;
    int64_t lag, latency_ms, inflight, ready;
} lag_row_t;

/* Lag per (topic, group) from the committed offsets (RocketMQ's
 * ConsumerLagCalculator, summed over the topic's queues): lag = max offset -
 * committed offset; latency = now - store time of the oldest unconsumed
 * message; inflight = pulled - committed; ready = max - pulled. */
static void render_lag(rmq_broker_metrics_t *m, rmq_prom_t *w)
{
    rmq_broker_t *b = m->b;
    size_t n;
    const char **keys = rmq_map_sorted_keys(&b->offsets.map, &n);
    lag_row_t *rows = rmq_calloc(n ? n : 1, sizeof(*rows));
    char **names = rmq_calloc(n ? n : 1, sizeof(*names));
    size_t nr = 0;
    int64_t now = rmq_now_ms();
    for (size_t i = 0; i < n; i++) {
        const char *at = strchr(keys[i], '@');
        if (!at)
            continue;
        names[nr] = rmq_strndup(keys[i], (size_t)(at - keys[i]));
        const char *topic = names[nr], *group = at + 1;
        rmq_topic_config_t *tc = rmq_topic_get(&b->topics, topic);
        const rmq_qoffsets_t *qo = rmq_map_get(&b->offsets.map, keys[i]);
        if (!tc || !qo) {
            free(names[nr]);
            names[nr] = NULL;
            continue;
        }
        char okey[600];
        out_stat_t *os = key2(okey, sizeof(okey), topic, group) ? rmq_map_get(&m->out, okey) : NULL;
        lag_row_t *r = &rows[nr++];
        r->topic = topic;
        r->group = group;
        int64_t oldest = 0;
        for (size_t k = 0; k < qo->n; k++) {
            int32_t q = qo->qids[k];
            int64_t co = qo->offsets[k];
            if (q < 0 || q >= tc->read_queues || co < 0)
                continue;
            int64_t max = rmq_store_get_max_offset_in_queue(b->store, topic, q);
            if (max > co) {
                r->lag += max - co;
                int64_t ts = rmq_store_get_msg_store_time(b->store, topic, q, co);
                if (ts > 0 && (!oldest || ts < oldest))
                    oldest = ts;
            }
            int64_t pulled = os && q < os->nq ? os->pulled[q] : -1;
            if (pulled > co)
                r->inflight += pulled - co;
            int64_t from = pulled > co ? pulled : co;
            if (max > from)
                r->ready += max - from;
        }
        r->latency_ms = oldest ? (now > oldest ? now - oldest : 0) : 0;
    }
    static const struct {
        const char *name, *help;
    } fams[] = {
        {"rocketmq_consumer_lag_messages", "Consumer lag messages (max offset - committed offset)"},
        {"rocketmq_consumer_lag_latency",
         "Consumer lag time in ms (now - store time of the oldest unconsumed message)"},
        {"rocketmq_consumer_inflight_messages", "Consumer inflight messages (pulled - committed)"},
        {"rocketmq_consumer_ready_messages", "Consumer ready messages (max offset - pulled)"},
    };
    for (int f = 0; f < 4; f++) {
        rmq_prom_family(w, fams[f].name, "gauge", fams[f].help);
        for (size_t i = 0; i < nr; i++) {
            lag_row_t *r = &rows[i];
            const char *l[] = {"topic",
                               r->topic,
                               "consumer_group",
                               r->group,
                               "is_retry",
                               tf(is_retry(r->topic)),
                               "is_system",
                               tf(is_system_topic(r->topic) || is_system_group(r->group)),
                               NULL};
            int64_t v = f == 0 ? r->lag : f == 1 ? r->latency_ms : f == 2 ? r->inflight : r->ready;
            rmq_prom_int(w, l, v);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(rows);
    free(keys);
}

typedef struct conn_count_s {
    char key[160];
    const char *group;
    int lang, version;
    const char *mode;
    int64_t n;
} conn_count_t;

/* Count channels into agg by (language, version): "lang/version" -> conn_count_t. */
static void count_chans(rmq_map_t *agg, const rmq_client_chan_t *chans, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char key[64];
        snprintf(key, sizeof(key), "%d/%d", chans[i].language, chans[i].version);
        conn_count_t *c = rmq_map_get(agg, key);
        if (!c) {
            c = rmq_calloc(1, sizeof(*c));
            c->lang = chans[i].language;
            c->version = chans[i].version;
            rmq_map_put(agg, key, c);
        }
        c->n++;
    }
}

/* One sample per (language, version) of agg (count_chans). A consumer
 * group's samples (group non-NULL) also carry consumer_group, consume_mode
 * and is_system. */
static void render_conn_counts(rmq_prom_t *w, rmq_map_t *agg, const char *group, const char *mode)
{
    size_t n;
    const char **keys = rmq_map_sorted_keys(agg, &n);
    for (size_t i = 0; i < n; i++) {
        conn_count_t *c = rmq_map_get(agg, keys[i]);
        char lang[32], ver[16];
        snprintf(ver, sizeof(ver), "%d", c->version);
        const char *lv = lower(rmq_lang_name(c->lang), lang, sizeof(lang));
        if (!group) {
            const char *l[] = {"language", lv, "version", ver, "protocol_type", "remoting", NULL};
            rmq_prom_int(w, l, c->n);
            continue;
        }
        const char *l[] = {"consumer_group",
                           group,
                           "language",
                           lv,
                           "version",
                           ver,
                           "consume_mode",
                           mode,
                           "protocol_type",
                           "remoting",
                           "is_system",
                           tf(is_system_group(group)),
                           NULL};
        rmq_prom_int(w, l, c->n);
    }
    free(keys);
}

static void render_connections(rmq_broker_metrics_t *m, rmq_prom_t *w)
{
    rmq_client_mgr_t *cm = m->b->clients;
    rmq_prom_family(w, "rocketmq_producer_connections", "gauge", "Producer connections");
    if (cm) {
        /* count by (language, version) */
        rmq_map_t agg;
        rmq_map_init(&agg, free);
        const char *k;
        void *v;
        for (size_t it = 0; rmq_map_next(&cm->producers, &it, &k, &v);) {
            const rmq_producer_group_info_t *g = v;
            count_chans(&agg, g->chans, g->n);
        }
        render_conn_counts(w, &agg, NULL, NULL);
        rmq_map_deinit(&agg);
    }
    rmq_prom_family(w, "rocketmq_consumer_connections", "gauge", "Consumer connections");
    if (cm) {
        size_t ng;
        const char **groups = rmq_map_sorted_keys(&cm->consumers, &ng);
        for (size_t gi = 0; gi < ng; gi++) {
            rmq_consumer_group_info_t *g = rmq_map_get(&cm->consumers, groups[gi]);
            const char *mode =
                g->consume_type && !strcmp(g->consume_type, "CONSUME_ACTIVELY") ? "pull" : "push";
            rmq_map_t agg;
            rmq_map_init(&agg, free);
            count_chans(&agg, g->chans, g->n);
            render_conn_counts(w, &agg, groups[gi], mode);
            rmq_map_deinit(&agg);
        }
        free(groups);
    }
    rmq_prom_family(w, "comet_connections", "gauge", "Open remoting connections per listening port");
    {
        const char *l1[] = {"port", "main", NULL};
        rmq_prom_int(w, l1, m->b->server ? (int64_t)rmq_endpoint_conn_count(m->b->server) : 0);
        const char *l2[] = {"port", "vip", NULL};
        rmq_prom_int(w, l2, m->b->vip_server ? (int64_t)rmq_endpoint_conn_count(m->b->vip_server) : 0);
    }
}

static void render_store(rmq_broker_metrics_t *m, rmq_prom_t *w)
{
    rmq_broker_t *b = m->b;
    rmq_store_t *st = b->store;
    const char *l[] = {"storage_type", "local", "storage_medium", "disk", NULL};
    struct statvfs vfs;
    if (statvfs(b->store_conf.storePathRootDir, &vfs) == 0) {
        rmq_prom_family(w, "rocketmq_storage_size", "gauge",
                        "Bytes used on the file system holding storePathRootDir");
        rmq_prom_int(w, l, (int64_t)(vfs.f_blocks - vfs.f_bfree) * (int64_t)vfs.f_frsize);
    }
    int64_t max = rmq_store_get_commitlog_max_offset(st);
    int64_t min = rmq_store_get_commitlog_min_offset(st);
    int64_t flushed = rmq_store_get_flushed_offset(st);
    int64_t dispatched = rmq_store_get_dispatched_offset(st);
    rmq_prom_family(w, "rocketmq_storage_flush_behind_bytes", "gauge", "Commit-log bytes not flushed yet");
    rmq_prom_int(w, l, max > flushed ? max - flushed : 0);
    rmq_prom_family(w, "rocketmq_storage_dispatch_behind_bytes", "gauge",
                    "Commit-log bytes not dispatched to consume queues yet");
    rmq_prom_int(w, l, max > dispatched ? max - dispatched : 0);
    int64_t earliest = rmq_store_get_earliest_store_time(st);
    if (earliest > 0) {
        rmq_prom_family(w, "rocketmq_storage_message_reserve_time", "gauge",
                        "Age in ms of the oldest message on disk");
        int64_t now = rmq_now_ms();
        rmq_prom_int(w, l, now > earliest ? now - earliest : 0);
    }
    rmq_prom_family(w, "comet_commitlog_max_offset_bytes", "gauge",
                    "Commit-log end offset (bytes ever written)");
    rmq_prom_int(w, NULL, max);
    rmq_prom_family(w, "comet_commitlog_min_offset_bytes", "gauge", "Commit-log start offset (retention)");
    rmq_prom_int(w, NULL, min);
    rmq_store_stats_t ss;
    rmq_store_get_stats(st, &ss);
    rmq_prom_family(w, "comet_store_flushes_total", "counter", "Commit-log flushes that wrote data");
    rmq_prom_int(w, NULL, ss.commitlog_flushes);
    rmq_prom_family(w, "comet_store_put_messages_total", "counter", "Records appended to the commit log");
    rmq_prom_int(w, NULL, ss.put_messages);
    rmq_prom_family(w, "comet_group_commit_batch_size", "histogram",
                    "SYNC_FLUSH group commits by the number of waiting sends one flush completed");
    rmq_hist_t h;
    rmq_hist_init(&h, gc_bounds, RMQ_STORE_GC_BUCKETS - 1);
    for (int i = 0; i < RMQ_STORE_GC_BUCKETS; i++)
        h.counts[i] = (uint64_t)ss.gc_batches[i];
    h.sum = ss.gc_batch_sum;
    h.count = (uint64_t)ss.gc_batch_count;
    rmq_prom_hist(w, NULL, &h);
}

/* ---------- replication (from the HA service's status, ha/ha.h) ---------- */

#define REPL_MAX_SLAVES 32

typedef struct repl_slave_s {
    char id[24], addr[128];
    int64_t acked, lag;
    int64_t in_sync; /* 1 or 0 */
} repl_slave_t;

typedef struct {
    int64_t v;
    bool has; /* the status had it */
} repl_val_t;

typedef struct repl_status_s {
    char role[32];
    repl_val_t epoch, connected, in_sync, lag, master_connected;
    int nslaves;
    repl_slave_t slaves[REPL_MAX_SLAVES];
} repl_status_t;

/* "k1=v1 k2=v2" -> the value of k (copied into out), false if absent. */
static bool field(const char *s, const char *k, char *out, size_t n)
{
    size_t kl = strlen(k);
    for (const char *p = s; p && *p;) {
        while (*p == ' ')
            p++;
        if (!strncmp(p, k, kl) && p[kl] == '=') {
            const char *v = p + kl + 1, *e = strchr(v, ' ');
            size_t l = e ? (size_t)(e - v) : strlen(v);
            snprintf(out, n, "%.*s", (int)l, v);
            return true;
        }
        p = strchr(p, ' ');
    }
    return false;
}

static void repl_kv(void *o, const char *k, const char *v)
{
    repl_status_t *st = o;
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    bool num = end && end != v && !*end;
    if (!strcmp(k, "haRole"))
        snprintf(st->role, sizeof(st->role), "%s", v);
    else if (!strcmp(k, "haEpoch") && num)
        st->epoch = (repl_val_t){x, true};
    else if (!strcmp(k, "haConnectedSlaves") && num)
        st->connected = (repl_val_t){x, true};
    else if (!strcmp(k, "haInSyncSlaves") && num)
        st->in_sync = (repl_val_t){x, true};
    else if (!strcmp(k, "haLagBytes") && num)
        st->lag = (repl_val_t){x, true};
    else if (!strcmp(k, "haMasterConnected"))
        st->master_connected = (repl_val_t){!strcmp(v, "true"), true};
    else if (!strncmp(k, "haSlave", 7) && st->nslaves < REPL_MAX_SLAVES) {
        /* "addr=... peer=... ackOffset=N flushOffset=N sentOffset=N lagBytes=N inSync=true" */
        char buf[64];
        repl_slave_t *sl = &st->slaves[st->nslaves];
        snprintf(sl->id, sizeof(sl->id), "%s", k + 7);
        if (!field(v, "addr", sl->addr, sizeof(sl->addr)))
            sl->addr[0] = 0;
        sl->acked = field(v, "ackOffset", buf, sizeof(buf)) ? strtoll(buf, NULL, 10) : 0;
        sl->lag = field(v, "lagBytes", buf, sizeof(buf)) ? strtoll(buf, NULL, 10) : 0;
        sl->in_sync = field(v, "inSync", buf, sizeof(buf)) && !strcmp(buf, "true");
        st->nslaves++;
    }
}

/* An unlabelled gauge of the replication status, when the status had it. */
static void repl_gauge(rmq_prom_t *w, const char *name, const char *help, repl_val_t v)
{
    if (!v.has)
        return;
    rmq_prom_family(w, name, "gauge", help);
    rmq_prom_int(w, NULL, v.v);
}

/* The gauges a master has for each of its slaves (a field of repl_slave_t). */
static const struct {
    const char *name, *help;
    size_t off;
} slave_gauges[] = {
    {"comet_replication_slave_lag_bytes", "Master side: commit-log bytes a slave has not acknowledged yet",
     offsetof(repl_slave_t, lag)},
    {"comet_replication_slave_acked_offset_bytes", "Master side: commit-log offset a slave acknowledged",
     offsetof(repl_slave_t, acked)},
    {"comet_replication_slave_in_sync", "Master side: 1 while a slave is in sync",
     offsetof(repl_slave_t, in_sync)},
};

/* comet_replication_*: a master's slaves (lag, acknowledged offset, in
 * sync), the in-sync set size and the epoch; a slave's own lag behind its
 * master. Read on the I/O thread from the HA service's status snapshot. */
static void render_replication(rmq_broker_metrics_t *m, rmq_prom_t *w)
{
    if (!m->b->ha)
        return;
    repl_status_t st;
    memset(&st, 0, sizeof(st));
    rmq_ha_runtime_info(m->b->ha, repl_kv, &st);
    repl_gauge(w, "comet_replication_epoch", "Replication epoch of this broker (grows with every new master)",
               st.epoch);
    repl_gauge(w, "comet_replication_connected_slaves", "Slaves streaming from this master", st.connected);
    repl_gauge(w, "comet_replication_in_sync_slaves",
               "Slaves within haSlaveFallbehindMax of this master (the in-sync set a SYNC_MASTER waits for)",
               st.in_sync);
    for (size_t g = 0; g < sizeof(slave_gauges) / sizeof(slave_gauges[0]); g++) {
        rmq_prom_family(w, slave_gauges[g].name, "gauge", slave_gauges[g].help);
        for (int i = 0; i < st.nslaves; i++) {
            const char *l[] = {"slave_id", st.slaves[i].id, "slave_addr", st.slaves[i].addr, NULL};
            rmq_prom_int(w, l, *(const int64_t *)((const char *)&st.slaves[i] + slave_gauges[g].off));
        }
    }
    repl_gauge(w, "comet_replication_lag_bytes",
               "Slave side: commit-log bytes the master has and this slave has not", st.lag);
    repl_gauge(w, "comet_replication_master_connected", "Slave side: 1 while streaming from its master",
               st.master_connected);
}

void rmq_broker_metrics_collect(rmq_prom_t *w, void *arg)
{
    rmq_broker_metrics_t *m = arg;
    rmq_broker_t *b = m->b;
    rmq_prom_family(w, "comet_broker_info", "gauge", "Broker identity (value 1)");
    {
        char id[24];
        snprintf(id, sizeof(id), "%lld", (long long)b->conf.brokerId);
        const char *l[] = {"version",
                           "V4_9_8 (Comet)",
                           "broker_id",
                           id,
                           "role",
                           rmq_broker_role_names[b->store_conf.brokerRole],
                           "flush_disk_type",
                           rmq_flush_disk_type_names[b->store_conf.flushDiskType],
                           "address",
                           b->broker_addr,
                           NULL};
        rmq_prom_int(w, l, 1);
    }
    rmq_prom_family(w, "rocketmq_broker_permission", "gauge", "Broker permission");
    rmq_prom_int(w, NULL, b->conf.brokerPermission);
    rmq_prom_family(w, "comet_topics", "gauge", "Topics on this broker");
    rmq_prom_int(w, NULL, (int64_t)rmq_map_count(&b->topics.map));
    rmq_prom_family(w, "comet_subscription_groups", "gauge", "Subscription groups on this broker");
    rmq_prom_int(w, NULL, (int64_t)rmq_map_count(&b->groups.map));
    prune(m);
    render_in(m, w);
    render_out(m, w);
    render_lag(m, w);
    render_connections(m, w);
    rmq_rpc_metrics_render(&m->rpc, w);
    rmq_prom_family(w, "comet_pending_sends", "gauge", "Sends waiting for their SYNC_FLUSH group commit");
    rmq_prom_int(w, NULL, b->pending_sends);
    rmq_prom_family(w, "comet_pending_sends_limit", "gauge",
                    "maxPendingSendRequests: above it sends are answered SYSTEM_BUSY");
    rmq_prom_int(w, NULL, b->conf.maxPendingSendRequests);
    rmq_prom_family(w, "comet_held_pulls", "gauge", "Long-polling pulls parked until a message arrives");
    rmq_prom_int(w, NULL, b->hold ? rmq_pull_hold_count(b->hold) : 0);
    render_store(m, w);
    render_replication(m, w);
    for (collector_t *c = m->collectors; c; c = c->next)
        c->fn(w, c->arg);
}

/* ---------- lifecycle ---------- */

rmq_err_t rmq_broker_metrics_start(rmq_broker_t *b, rmq_broker_metrics_t **out, char *errstr,
                                   size_t errstr_size)
{
    *out = NULL;
    if (b->conf.metrics.exporter != RMQ_METRICS_PROM)
        return RMQ_OK;
    /* RocketMQ 5's labels on every sample: cluster, node_type, node_id */
    rmq_buf_t own;
    rmq_buf_init(&own);
    rmq_buf_puts(&own, "cluster=\"");
    rmq_prom_escape(&own, b->conf.brokerClusterName);
    rmq_buf_puts(&own, "\",node_type=\"broker\",node_id=\"");
    rmq_prom_escape(&own, b->conf.brokerName);
    rmq_buf_putc(&own, '"');
    rmq_buf_cstr(&own);

    rmq_broker_metrics_t *m = rmq_calloc(1, sizeof(*m));
    m->b = b;
    rmq_map_init(&m->in, stat_free);
    rmq_map_init(&m->out, out_free);
    rmq_map_init(&m->dlq, stat_free);
    rmq_err_t r =
        rmq_metrics_http_start_conf(b->base, &b->conf.metrics, b->conf.brokerIP1, (const char *)own.data,
                                    rmq_broker_metrics_collect, m, &m->http, errstr, errstr_size);
    rmq_buf_free(&own);
    if (r != RMQ_OK) {
        rmq_broker_metrics_stop(m);
        return r;
    }
    if (b->server)
        rmq_endpoint_set_observer(b->server, rmq_rpc_metrics_observer, &m->rpc);
    if (b->vip_server)
        rmq_endpoint_set_observer(b->vip_server, rmq_rpc_metrics_observer, &m->rpc);
    *out = m;
    return RMQ_OK;
}

void rmq_broker_metrics_stop(rmq_broker_metrics_t *m)
{
    if (!m)
        return;
    rmq_metrics_http_stop(m->http);
    if (m->b->server)
        rmq_endpoint_set_observer(m->b->server, NULL, NULL);
    if (m->b->vip_server)
        rmq_endpoint_set_observer(m->b->vip_server, NULL, NULL);
    rmq_map_deinit(&m->in);
    rmq_map_deinit(&m->out);
    rmq_map_deinit(&m->dlq);
    rmq_rpc_metrics_free(&m->rpc);
    while (m->collectors) {
        collector_t *c = m->collectors;
        m->collectors = c->next;
        free(c);
    }
    free(m);
}
