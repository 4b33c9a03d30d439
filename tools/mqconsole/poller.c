/* poller.c - the Poller thread of mqconsole: one round every
 * pollIntervalMs asks the name server for the cluster, every broker for its
 * runtime counters, topic and subscription-group tables, topic offsets and
 * consume stats; renders the cluster, topics and groups documents; appends
 * one point per broker / topic / group to the history ring.
 * Thread: Poller, an rmq_service (everything but the accessors; a kick is
 * its wake-up); mc_poller_view/history on the HTTP thread under `mu`. A
 * round costs 1 + 3B + B*T + 2B*G remoting calls (B brokers, T <=
 * maxTopicsPolled topics, G <= maxGroupsPolled groups), all from this one
 * thread, one at a time. */
#include "poller.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_map.h"
#include "rmq_service.h"
#include "rmq_time.h"
#include "rpc.h"

#define NFIELDS 3

static const char *const broker_fields[NFIELDS] = {"putTps", "getTps", "replicationLagBytes"};
static const char *const topic_fields[NFIELDS] = {"tps", "messages", NULL};
static const char *const group_fields[NFIELDS] = {"lag", "consumeTps", NULL};

typedef struct series_s {
    double *v[NFIELDS];
    int64_t last_round; /* last round that wrote it */
} series_t;

/* A counter sample for rates. */
typedef struct rate_s {
    double value;
    int64_t at_ms;
} rate_t;

struct mc_poller_s {
    const mc_conf_t *conf;
    rmq_service_t *svc; /* the Poller thread; a wake-up is a kick */
    pthread_mutex_t mu;
    /* under mu */
    rmq_http_blob_t *views[MC_VIEW_COUNT];
    int64_t *t; /* ring of poll times */
    int cap, start, count;
    rmq_map_t series; /* "broker:addr" / "topic:T" / "group:G" -> series_t* */
    int64_t rounds;
    /* Poller only */
    mc_rpc_t rpc;
    rmq_map_t rates; /* "put:addr", "topic:T", ... -> rate_t* */
};

static void series_free(void *p)
{
    series_t *s = p;
    for (int i = 0; i < NFIELDS; i++)
        free(s->v[i]);
    free(s);
}

/* ---------- classification ---------- */

const char *mc_topic_kind(const char *t)
{
    static const char *const sys[] = {"TBW102",
                                      "SELF_TEST_TOPIC",
                                      "BenchmarkTest",
                                      "OFFSET_MOVED_EVENT",
                                      "SCHEDULE_TOPIC_XXXX",
                                      "TRANS_CHECK_MAX_TIME_TOPIC",
                                      "RMQ_SYS_TRANS_HALF_TOPIC",
                                      "RMQ_SYS_TRACE_TOPIC",
                                      "RMQ_SYS_TRANS_OP_HALF_TOPIC",
                                      "rmq_sys_REVIVE_LOG_",
                                      NULL};
    if (!strncmp(t, "%RETRY%", 7))
        return "retry";
    if (!strncmp(t, "%DLQ%", 5))
        return "dlq";
    for (int i = 0; sys[i]; i++)
        if (!strcmp(t, sys[i]))
            return "system";
    size_t n = strlen(t);
    if (!strncmp(t, "rmq_sys_", 8) || !strncmp(t, "RMQ_SYS_", 8) ||
        (n > 12 && !strcmp(t + n - 12, "_REPLY_TOPIC")))
        return "system";
    return "normal";
}

bool mc_group_is_system(const char *g)
{
    static const char *const sys[] = {"TOOLS_CONSUMER",
                                      "FILTERSRV_CONSUMER",
                                      "__MONITOR_CONSUMER",
                                      "CLIENT_INNER_PRODUCER",
                                      "SELF_TEST_P_GROUP",
                                      "SELF_TEST_C_GROUP",
                                      "CID_ONS-HTTP-PROXY",
                                      "CID_ONSAPI_PERMISSION",
                                      "CID_ONSAPI_OWNER",
                                      "CID_ONSAPI_PULL",
                                      NULL};
    for (int i = 0; sys[i]; i++)
        if (!strcmp(g, sys[i]))
            return true;
    return !strncmp(g, "CID_RMQ_SYS_", 12);
}

/* ---------- rates and history ---------- */

/* Per-second rate of a monotonic counter (key "kind:name") since the
 * previous round; NAN the first time and after a reset (restart). */
static double rate(mc_poller_t *p, const char *kind, const char *name, double value, int64_t now)
{
    char key[320];
    snprintf(key, sizeof(key), "%s:%s", kind, name);
    rate_t *r = rmq_map_get(&p->rates, key);
    double out = NAN;
    if (r && now > r->at_ms && value >= r->value)
        out = (value - r->value) * 1000.0 / (double)(now - r->at_ms);
    if (!r) {
        r = rmq_calloc(1, sizeof(*r));
        rmq_map_put(&p->rates, key, r);
    }
    r->value = value;
    r->at_ms = now;
    return out;
}

/* Record one point of a series for the round being written (mu held). */
static void put_point(mc_poller_t *p, const char *key, const double *vals, int idx)
{
    series_t *s = rmq_map_get(&p->series, key);
    if (!s) {
        s = rmq_calloc(1, sizeof(*s));
        for (int i = 0; i < NFIELDS; i++) {
            s->v[i] = rmq_malloc((size_t)p->cap * sizeof(double));
            for (int k = 0; k < p->cap; k++)
                s->v[i][k] = NAN;
        }
        rmq_map_put(&p->series, key, s);
    }
    for (int i = 0; i < NFIELDS; i++)
        s->v[i][idx] = vals[i];
    s->last_round = p->rounds;
}

typedef struct point_s {
    char *key;
    double v[NFIELDS];
    struct point_s *next;
} point_t;

static void add_point(point_t **list, const char *kind, const char *name, double a, double b, double c)
{
    point_t *pt = rmq_calloc(1, sizeof(*pt));
    pt->key = rmq_asprintf("%s:%s", kind, name);
    pt->v[0] = a;
    pt->v[1] = b;
    pt->v[2] = c;
    pt->next = *list;
    *list = pt;
}

static json_t *num_or_null(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

/* ---------- one round ---------- */

static const char *rt_str(json_t *table, const char *k)
{
    json_t *v = json_object_get(table, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static double rt_num(json_t *table, const char *k)
{
    const char *s = rt_str(table, k);
    return s ? strtod(s, NULL) : NAN;
}

typedef struct topic_acc_s {
    json_t *brokers; /* array of broker names */
    int64_t read_q, write_q, perm;
    int64_t max_sum, min_sum, last_update;
    bool stats_ok;
} topic_acc_t;

typedef struct group_acc_s {
    json_t *brokers;
    json_t *topics; /* object used as a set */
    int64_t lag, consumed;
    bool stats_ok;
    json_t *conn; /* consumer connection answer, first one that worked */
} group_acc_t;

static void topic_acc_free(void *p)
{
    topic_acc_t *a = p;
    json_decref(a->brokers);
    free(a);
}

static void group_acc_free(void *p)
{
    group_acc_t *a = p;
    json_decref(a->brokers);
    json_decref(a->topics);
    json_decref(a->conn);
    free(a);
}

typedef struct master_s {
    const char *name, *addr;
} master_t;

static void poll_once(mc_poller_t *p)
{
    mc_rpc_t *r = &p->rpc;
    int64_t t0 = rmq_mono_ms();
    int64_t now = rmq_now_ms();
    json_t *errors = json_array();
    json_t *cluster = json_object();
    json_t *brokers = json_array();
    json_t *repl = json_array();
    point_t *points = NULL;
    master_t *masters = NULL;
    size_t nmasters = 0;
    double tot_put = 0, tot_get = 0;

    json_t *ci = mc_cluster_info(r);
    if (!ci)
        json_array_append_new(errors, json_sprintf("name server: %s", r->err));
    json_t *bat = json_object_get(ci, "brokerAddrTable");
    json_t *cat = json_object_get(ci, "clusterAddrTable");
    json_object_set_new(cluster, "clusters", cat ? json_incref(cat) : json_object());
    size_t nb;
    const char **bnames = rmq_json_sorted_keys(bat, &nb); /* a stable page */
    for (size_t bi = 0; bi < nb; bi++) {
        json_t *bd = json_object_get(bat, bnames[bi]);
        const char *cl = rmq_json_str(bd, "cluster");
        json_t *addrs = json_object_get(bd, "brokerAddrs");
        json_t *group = json_object();
        json_object_set_new(group, "brokerName", json_string(bnames[bi]));
        json_object_set_new(group, "cluster", json_string(cl ? cl : ""));
        json_t *slaves = json_array();
        double master_max = NAN;
        json_t *mtable = NULL; /* the master's runtime info: its HA status (haEpoch, haSlave<id>...) */
        /* ids in order: master (0) first */
        int64_t ids[64];
        size_t nid = 0;
        const char *ik;
        json_t *iv;
        json_object_foreach(addrs, ik, iv)
        {
            if (nid < 64)
                ids[nid++] = strtoll(ik, NULL, 10);
        }
        for (size_t x = 1; x < nid; x++)
            for (size_t y = x; y > 0 && ids[y - 1] > ids[y]; y--) {
                int64_t tmp = ids[y];
                ids[y] = ids[y - 1];
                ids[y - 1] = tmp;
            }
        for (size_t k = 0; k < nid; k++) {
            char idk[24];
            snprintf(idk, sizeof(idk), "%lld", (long long)ids[k]);
            const char *addr = json_string_value(json_object_get(addrs, idk));
            if (!addr)
                continue;
            json_t *b = json_object();
            json_object_set_new(b, "cluster", json_string(cl ? cl : ""));
            json_object_set_new(b, "brokerName", json_string(bnames[bi]));
            json_object_set_new(b, "brokerId", json_integer(ids[k]));
            json_object_set_new(b, "addr", json_string(addr));
            rmq_cmd_t req;
            rmq_cmd_init_request(&req, RMQ_REQ_GET_BROKER_RUNTIME_INFO);
            json_t *rt = mc_rpc_json(r, addr, &req, NULL);
            json_t *table = json_object_get(rt, "table");
            double put_tps = NAN, get_tps = NAN, maxoff = NAN;
            if (!table) {
                json_object_set_new(b, "up", json_false());
                json_object_set_new(b, "error", json_string(r->err));
                json_array_append_new(errors, json_sprintf("broker %s (%s): %s", bnames[bi], addr, r->err));
            } else {
                json_object_set_new(b, "up", json_true());
                const char *ver = rt_str(table, "brokerVersionDesc");
                json_object_set_new(b, "version", json_string(ver ? ver : "?"));
                const char *role = rt_str(table, "brokerRole");
                json_object_set_new(b, "role", json_string(role ? role : ids[k] == 0 ? "MASTER" : "SLAVE"));
                double put = rt_num(table, "msgPutTotalTodayNow"), get = rt_num(table, "msgGetTotalTodayNow");
                put_tps = isnan(put) ? NAN : rate(p, "put", addr, put, now);
                get_tps = isnan(get) ? NAN : rate(p, "get", addr, get, now);
                maxoff = rt_num(table, "commitLogMaxOffset");
                json_object_set_new(b, "putTotal", num_or_null(put));
                json_object_set_new(b, "getTotal", num_or_null(get));
                json_object_set_new(b, "putTps", num_or_null(put_tps));
                json_object_set_new(b, "getTps", num_or_null(get_tps));
                json_object_set_new(b, "commitLogMaxOffset", num_or_null(maxoff));
                json_object_set_new(b, "commitLogMinOffset",
                                    num_or_null(rt_num(table, "commitLogMinOffset")));
                json_object_set_new(b, "bootTimestamp", num_or_null(rt_num(table, "bootTimestamp")));
                const char *fdt = rt_str(table, "flushDiskType");
                if (fdt)
                    json_object_set_new(b, "flushDiskType", json_string(fdt));
                json_object_set(b, "runtime", table);
                if (!isnan(put_tps))
                    tot_put += put_tps;
                if (!isnan(get_tps))
                    tot_get += get_tps;
            }
            double lag = NAN;
            if (ids[k] == 0) {
                master_max = maxoff;
                mtable = json_incref(table);
                /* replication as the master's HA service reports it (Comet and RocketMQ 5 brokers) */
                if (table && rt_str(table, "haEpoch"))
                    json_object_set_new(group, "epoch",
                                        json_integer(strtoll(rt_str(table, "haEpoch"), NULL, 10)));
                if (table && rt_str(table, "haInSyncSlaves"))
                    json_object_set_new(group, "inSyncSlaves",
                                        json_integer(strtoll(rt_str(table, "haInSyncSlaves"), NULL, 10)));
                if (table && rt_str(table, "haRole"))
                    json_object_set_new(group, "haRole", json_string(rt_str(table, "haRole")));
                json_object_set_new(group, "master", json_string(addr));
                json_object_set_new(group, "masterMaxOffset", num_or_null(maxoff));
                if (table) {
                    masters = rmq_realloc(masters, (nmasters + 1) * sizeof(*masters));
                    masters[nmasters].name = bnames[bi];
                    masters[nmasters].addr = addr;
                    nmasters++;
                }
            } else {
                /* replication lag: what the master has written and this slave has not */
                if (!isnan(master_max) && !isnan(maxoff))
                    lag = master_max > maxoff ? master_max - maxoff : 0;
                json_t *s = json_object();
                json_object_set_new(s, "brokerId", json_integer(ids[k]));
                json_object_set_new(s, "addr", json_string(addr));
                json_object_set_new(s, "maxOffset", num_or_null(maxoff));
                json_object_set_new(s, "lagBytes", num_or_null(lag));
                json_object_set_new(s, "up", json_boolean(table != NULL));
                /* the master's own view of this slave: acknowledged offset, lag, in sync */
                char hk[40];
                snprintf(hk, sizeof(hk), "haSlave%lld", (long long)ids[k]);
                const char *hs = mtable ? rt_str(mtable, hk) : NULL;
                if (hs) {
                    const char *p = strstr(hs, "inSync=");
                    json_object_set_new(s, "inSync", json_boolean(p && !strncmp(p + 7, "true", 4)));
                    p = strstr(hs, "ackOffset=");
                    if (p)
                        json_object_set_new(s, "ackOffset", json_integer(strtoll(p + 10, NULL, 10)));
                    p = strstr(hs, "lagBytes=");
                    if (p)
                        json_object_set_new(s, "ackLagBytes", json_integer(strtoll(p + 9, NULL, 10)));
                } else if (table && rt_str(table, "haMasterConnected")) {
                    json_object_set_new(s, "masterConnected",
                                        json_boolean(!strcmp(rt_str(table, "haMasterConnected"), "true")));
                }
                json_array_append_new(slaves, s);
                json_object_set_new(b, "replicationLagBytes", num_or_null(lag));
            }
            add_point(&points, "broker", addr, put_tps, get_tps, lag);
            json_array_append_new(brokers, b);
            json_decref(rt);
        }
        json_object_set_new(group, "slaves", slaves);
        json_decref(mtable);
        json_array_append_new(repl, group);
    }

    /* topics: the union of every master's topic table */
    rmq_map_t topics;
    rmq_map_init(&topics, topic_acc_free);
    rmq_map_t groups;
    rmq_map_init(&groups, group_acc_free);
    for (size_t m = 0; m < nmasters; m++) {
        rmq_cmd_t req;
        rmq_cmd_init_request(&req, RMQ_REQ_GET_ALL_TOPIC_CONFIG);
        json_t *tc = mc_rpc_json(r, masters[m].addr, &req, NULL);
        json_t *tab = json_object_get(tc, "topicConfigTable");
        if (!tc)
            json_array_append_new(errors, json_sprintf("topics of %s: %s", masters[m].name, r->err));
        const char *k;
        json_t *v;
        json_object_foreach(tab, k, v)
        {
            topic_acc_t *a = rmq_map_get(&topics, k);
            if (!a) {
                a = rmq_calloc(1, sizeof(*a));
                a->brokers = json_array();
                rmq_map_put(&topics, k, a);
            }
            json_array_append_new(a->brokers, json_string(masters[m].name));
            int64_t x = 0;
            if (rmq_json_int(v, "readQueueNums", &x))
                a->read_q += x;
            if (rmq_json_int(v, "writeQueueNums", &x))
                a->write_q += x;
            if (rmq_json_int(v, "perm", &x))
                a->perm = x;
        }
        json_decref(tc);
        rmq_cmd_init_request(&req, RMQ_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG);
        json_t *gc = mc_rpc_json(r, masters[m].addr, &req, NULL);
        json_t *gtab = json_object_get(gc, "subscriptionGroupTable");
        json_object_foreach(gtab, k, v)
        {
            group_acc_t *a = rmq_map_get(&groups, k);
            if (!a) {
                a = rmq_calloc(1, sizeof(*a));
                a->brokers = json_array();
                a->topics = json_object();
                rmq_map_put(&groups, k, a);
            }
            json_array_append_new(a->brokers, json_string(masters[m].name));
        }
        json_decref(gc);
    }
    /* offsets of the first maxTopicsPolled topics (normal ones first) */
    size_t nt;
    const char **tnames = rmq_map_sorted_keys(&topics, &nt);
    json_t *topics_out = json_array();
    int polled = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < nt; i++) {
            bool own = json_object_get(bat, tnames[i]) ||
                       json_object_get(json_object_get(ci, "clusterAddrTable"), tnames[i]);
            const char *kind = own ? "system" : mc_topic_kind(tnames[i]);
            bool normal = !strcmp(kind, "normal");
            /* system topics (TBW102, BenchmarkTest's 1024 queues...) are read on demand only */
            if ((pass == 0) != normal || !strcmp(kind, "system"))
                continue;
            topic_acc_t *a = rmq_map_get(&topics, tnames[i]);
            if (polled >= p->conf->maxTopicsPolled)
                continue;
            polled++;
            for (size_t m = 0; m < nmasters; m++) {
                bool has = false;
                for (size_t x = 0; x < json_array_size(a->brokers); x++)
                    if (!strcmp(json_string_value(json_array_get(a->brokers, x)), masters[m].name))
                        has = true;
                if (!has)
                    continue;
                json_t *rows =
                    mc_rpc_offset_rows(r, masters[m].addr, RMQ_REQ_GET_TOPIC_STATS_INFO, NULL, tnames[i]);
                for (size_t x = 0; x < json_array_size(rows); x++) {
                    json_t *val = json_object_get(json_array_get(rows, x), "value");
                    int64_t mx = 0, mn = 0, lu = 0;
                    rmq_json_int(val, "maxOffset", &mx);
                    rmq_json_int(val, "minOffset", &mn);
                    rmq_json_int(val, "lastUpdateTimestamp", &lu);
                    a->max_sum += mx;
                    a->min_sum += mn;
                    if (lu > a->last_update)
                        a->last_update = lu;
                    a->stats_ok = true;
                }
                json_decref(rows);
            }
        }
    }
    for (size_t i = 0; i < nt; i++) {
        topic_acc_t *a = rmq_map_get(&topics, tnames[i]);
        json_t *o = json_object();
        json_object_set_new(o, "topic", json_string(tnames[i]));
        /* topics named after a cluster or a broker are the brokers' own */
        bool own = rmq_map_has(&topics, tnames[i]) &&
                   (json_object_get(bat, tnames[i]) ||
                    json_object_get(json_object_get(ci, "clusterAddrTable"), tnames[i]));
        json_object_set_new(o, "kind", json_string(own ? "system" : mc_topic_kind(tnames[i])));
        json_object_set(o, "brokers", a->brokers);
        json_object_set_new(o, "readQueues", json_integer(a->read_q));
        json_object_set_new(o, "writeQueues", json_integer(a->write_q));
        json_object_set_new(o, "perm", json_integer(a->perm));
        double tps = NAN;
        if (a->stats_ok) {
            tps = rate(p, "topic", tnames[i], (double)a->max_sum, now);
            json_object_set_new(o, "maxOffset", json_integer(a->max_sum));
            json_object_set_new(o, "minOffset", json_integer(a->min_sum));
            json_object_set_new(o, "messages", json_integer(a->max_sum - a->min_sum));
            json_object_set_new(o, "lastUpdate", json_integer(a->last_update));
            add_point(&points, "topic", tnames[i], tps, (double)(a->max_sum - a->min_sum), NAN);
        }
        json_object_set_new(o, "tps", num_or_null(tps));
        json_object_set_new(o, "polled", json_boolean(a->stats_ok));
        json_array_append_new(topics_out, o);
    }
    free(tnames);

    /* groups: lag and members of the first maxGroupsPolled (non-system first) */
    size_t ng;
    const char **gnames = rmq_map_sorted_keys(&groups, &ng);
    json_t *groups_out = json_array();
    polled = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < ng; i++) {
            if ((pass == 0) == mc_group_is_system(gnames[i]))
                continue;
            if (polled >= p->conf->maxGroupsPolled)
                continue;
            polled++;
            group_acc_t *a = rmq_map_get(&groups, gnames[i]);
            for (size_t m = 0; m < nmasters; m++) {
                json_t *rows =
                    mc_rpc_offset_rows(r, masters[m].addr, RMQ_REQ_GET_CONSUME_STATS, gnames[i], NULL);
                for (size_t x = 0; x < json_array_size(rows); x++) {
                    json_t *row = json_array_get(rows, x);
                    json_t *val = json_object_get(row, "value");
                    int64_t bo = 0, co = 0;
                    rmq_json_int(val, "brokerOffset", &bo);
                    rmq_json_int(val, "consumerOffset", &co);
                    a->lag += bo > co ? bo - co : 0;
                    a->consumed += co;
                    const char *t = rmq_json_str(row, "topic");
                    if (t)
                        json_object_set_new(a->topics, t, json_true());
                    a->stats_ok = true;
                }
                json_decref(rows);
                if (!a->conn) {
                    rmq_cmd_t req;
                    rmq_cmd_init_request(&req, RMQ_REQ_GET_CONSUMER_CONNECTION_LIST);
                    rmq_cmd_set_ext(&req, "consumerGroup", gnames[i]);
                    a->conn = mc_rpc_json(r, masters[m].addr, &req, NULL);
                }
            }
        }
    }
    for (size_t i = 0; i < ng; i++) {
        group_acc_t *a = rmq_map_get(&groups, gnames[i]);
        json_t *o = json_object();
        json_object_set_new(o, "group", json_string(gnames[i]));
        json_object_set_new(o, "system", json_boolean(mc_group_is_system(gnames[i])));
        json_object_set(o, "brokers", a->brokers);
        json_t *tl = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(a->topics, k, v) json_array_append_new(tl, json_string(k));
        json_object_set_new(o, "topics", tl);
        json_t *cs = json_object_get(a->conn, "connectionSet");
        json_object_set_new(o, "members", json_integer((json_int_t)json_array_size(cs)));
        const char *ct = rmq_json_str(a->conn, "consumeType");
        const char *mm = rmq_json_str(a->conn, "messageModel");
        json_object_set_new(o, "consumeType", ct ? json_string(ct) : json_null());
        json_object_set_new(o, "messageModel", mm ? json_string(mm) : json_null());
        double ctps = NAN;
        if (a->stats_ok) {
            ctps = rate(p, "consumed", gnames[i], (double)a->consumed, now);
            json_object_set_new(o, "lag", json_integer(a->lag));
            add_point(&points, "group", gnames[i], (double)a->lag, ctps, NAN);
        } else {
            json_object_set_new(o, "lag", json_null());
        }
        json_object_set_new(o, "consumeTps", num_or_null(ctps));
        json_object_set_new(o, "polled", json_boolean(a->stats_ok));
        json_array_append_new(groups_out, o);
    }
    free(gnames);

    json_object_set_new(cluster, "updatedAt", json_integer(now));
    json_object_set_new(cluster, "pollMillis", json_integer(rmq_mono_ms() - t0));
    json_object_set_new(cluster, "brokers", brokers);
    json_object_set_new(cluster, "replication", repl);
    json_object_set_new(cluster, "errors", errors);
    json_t *tot = json_object();
    json_object_set_new(tot, "putTps", json_real(tot_put));
    json_object_set_new(tot, "getTps", json_real(tot_get));
    json_object_set_new(tot, "topics", json_integer((json_int_t)nt));
    json_object_set_new(tot, "groups", json_integer((json_int_t)ng));
    json_object_set_new(cluster, "totals", tot);
    json_t *tdoc = json_object();
    json_object_set_new(tdoc, "updatedAt", json_integer(now));
    json_object_set_new(tdoc, "topics", topics_out);
    json_t *gdoc = json_object();
    json_object_set_new(gdoc, "updatedAt", json_integer(now));
    json_object_set_new(gdoc, "groups", groups_out);
    json_t *docs[MC_VIEW_COUNT] = {cluster, tdoc, gdoc};
    rmq_http_blob_t *blobs[MC_VIEW_COUNT];
    for (int i = 0; i < MC_VIEW_COUNT; i++) {
        char *text = json_dumps(docs[i], JSON_COMPACT);
        rmq_buf_t b;
        rmq_buf_init(&b);
        rmq_buf_puts(&b, text ? text : "{}");
        free(text);
        blobs[i] = rmq_http_blob_new(&b);
        json_decref(docs[i]);
    }

    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < MC_VIEW_COUNT; i++) {
        rmq_http_blob_unref(p->views[i]);
        p->views[i] = blobs[i];
    }
    /* history: the new round takes the next ring slot; every series gets
     * NaN there unless this round measured it */
    int idx;
    if (p->count < p->cap) {
        idx = (p->start + p->count) % p->cap;
        p->count++;
    } else {
        idx = p->start;
        p->start = (p->start + 1) % p->cap;
    }
    p->t[idx] = now;
    p->rounds++;
    const char *k;
    void *v;
    char **stale = NULL;
    size_t nstale = 0;
    for (size_t it = 0; rmq_map_next(&p->series, &it, &k, &v);) {
        series_t *s = v;
        for (int f = 0; f < NFIELDS; f++)
            s->v[f][idx] = NAN;
        if (p->rounds - s->last_round > p->cap) {
            stale = rmq_realloc(stale, (nstale + 1) * sizeof(char *));
            stale[nstale++] = rmq_strdup(k);
        }
    }
    for (size_t i = 0; i < nstale; i++) {
        rmq_map_del(&p->series, stale[i]);
        free(stale[i]);
    }
    free(stale);
    for (point_t *pt = points; pt; pt = pt->next)
        put_point(p, pt->key, pt->v, idx);
    pthread_mutex_unlock(&p->mu);

    while (points) {
        point_t *n = points->next;
        free(points->key);
        free(points);
        points = n;
    }
    free(masters);
    free(bnames);
    rmq_map_deinit(&topics);
    rmq_map_deinit(&groups);
    json_decref(ci);
}

static void poller_main(rmq_service_t *svc, void *arg)
{
    mc_poller_t *p = arg;
    for (;;) {
        poll_once(p);
        rmq_service_wait_for_running(svc, p->conf->pollIntervalMs); /* or a kick, or stop */
        if (rmq_service_stopped(svc))
            return;
    }
}

mc_poller_t *mc_poller_start(const mc_conf_t *conf)
{
    mc_poller_t *p = rmq_calloc(1, sizeof(*p));
    p->conf = conf;
    pthread_mutex_init(&p->mu, NULL);
    p->cap = conf->historyPoints;
    p->t = rmq_calloc((size_t)p->cap, sizeof(int64_t));
    rmq_map_init(&p->series, series_free);
    rmq_map_init(&p->rates, free);
    mc_rpc_init(&p->rpc, conf->namesrvAddr, conf->requestTimeoutMs);
    mc_rpc_set_credentials(&p->rpc, conf->accessKey, conf->secretKey);
    p->svc = rmq_service_new("Poller", poller_main, p);
    if (rmq_service_start(p->svc) == RMQ_OK)
        return p;
    mc_poller_stop(p);
    return NULL;
}

void mc_poller_stop(mc_poller_t *p)
{
    if (!p)
        return;
    rmq_service_free(p->svc); /* stops and joins the thread */
    for (int i = 0; i < MC_VIEW_COUNT; i++)
        rmq_http_blob_unref(p->views[i]);
    rmq_map_deinit(&p->series);
    rmq_map_deinit(&p->rates);
    mc_rpc_deinit(&p->rpc);
    free(p->t);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

rmq_http_blob_t *mc_poller_view(mc_poller_t *p, int view)
{
    pthread_mutex_lock(&p->mu);
    rmq_http_blob_t *b = p->views[view];
    if (b)
        rmq_http_blob_ref(b);
    pthread_mutex_unlock(&p->mu);
    return b;
}

bool mc_poller_history(mc_poller_t *p, const char *kind, const char *name, rmq_buf_t *out)
{
    const char *const *fields = !strcmp(kind, "broker")  ? broker_fields
                                : !strcmp(kind, "topic") ? topic_fields
                                : !strcmp(kind, "group") ? group_fields
                                                         : NULL;
    if (!fields)
        return false;
    char key[600];
    snprintf(key, sizeof(key), "%s:%s", kind, name);
    pthread_mutex_lock(&p->mu);
    series_t *s = rmq_map_get(&p->series, key);
    if (!s) {
        pthread_mutex_unlock(&p->mu);
        return false;
    }
    rmq_buf_puts(out, "{\"t\":[");
    for (int i = 0; i < p->count; i++)
        rmq_buf_printf(out, "%s%lld", i ? "," : "", (long long)p->t[(p->start + i) % p->cap]);
    rmq_buf_puts(out, "],\"series\":{");
    bool first = true;
    for (int f = 0; f < NFIELDS; f++) {
        if (!fields[f])
            continue;
        rmq_buf_printf(out, "%s\"%s\":[", first ? "" : ",", fields[f]);
        first = false;
        for (int i = 0; i < p->count; i++) {
            double v = s->v[f][(p->start + i) % p->cap];
            if (isnan(v) || isinf(v))
                rmq_buf_printf(out, "%snull", i ? "," : "");
            else
                rmq_buf_printf(out, "%s%.6g", i ? "," : "", v);
        }
        rmq_buf_putc(out, ']');
    }
    rmq_buf_puts(out, "},\"known\":true}");
    pthread_mutex_unlock(&p->mu);
    return true;
}

void mc_poller_kick(mc_poller_t *p)
{
    rmq_service_wakeup(p->svc);
}

int64_t mc_poller_rounds(mc_poller_t *p)
{
    pthread_mutex_lock(&p->mu);
    int64_t n = p->rounds;
    pthread_mutex_unlock(&p->mu);
    return n;
}
