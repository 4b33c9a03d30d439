/* queries.c - mqconsole requests answered from the cluster on a worker:
 * topic and group details, message searches by time range, key and id
 * (with which groups have consumed it), dead-letter queues, resending a
 * message to one consumer group (through %RETRY%<group>, so only that group
 * sees it again) and resetting a group's offsets to a time.
 * Thread: Worker-N. Every call is bounded: at most queryMaxMessages
 * messages, 32 per pull, requestTimeoutMs per remoting call. */
#include "queries.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fjson.h"
#include "jobs.h"
#include "msgjson.h"
#include "poller.h"
#include "rmq_admin_req.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_msg_codec.h"
#include "rmq_time.h"

#define PULL_BATCH 32

void mc_query_free(void *p)
{
    mc_query_t *q = p;
    if (!q)
        return;
    free(q->topic);
    free(q->group);
    free(q->key);
    free(q->id);
    free(q->user_ak);
    if (q->user_sk)
        memset(q->user_sk, 0, strlen(q->user_sk));
    free(q->user_sk);
    free(q);
}

static void reply_json(mc_query_t *q, int status, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    rmq_http_reply(q->req, status, "application/json", text ? text : "{}", text ? strlen(text) : 2);
    free(text);
}

/* ---------- small remoting helpers ---------- */

/* Master address of every broker of a route: parallel arrays. */
typedef struct masters_s {
    char **name, **addr;
    size_t n;
} masters_t;

static void masters_free(masters_t *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->name[i]);
        free(m->addr[i]);
    }
    free(m->name);
    free(m->addr);
    memset(m, 0, sizeof(*m));
}

static void masters_add(masters_t *m, const char *name, const char *addr)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->name[i], name))
            return;
    m->name = rmq_realloc(m->name, (m->n + 1) * sizeof(char *));
    m->addr = rmq_realloc(m->addr, (m->n + 1) * sizeof(char *));
    m->name[m->n] = rmq_strdup(name);
    m->addr[m->n] = rmq_strdup(addr);
    m->n++;
}

static const char *master_addr(const masters_t *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->name[i], name))
            return m->addr[i];
    return NULL;
}

/* Masters of a route's brokerDatas, or of the whole cluster (route NULL). */
static bool masters_of(mc_rpc_t *r, json_t *route, masters_t *out)
{
    memset(out, 0, sizeof(*out));
    json_t *ci = NULL;
    json_t *bds = NULL;
    if (route) {
        bds = json_object_get(route, "brokerDatas");
        for (size_t i = 0; i < json_array_size(bds); i++) {
            json_t *bd = json_array_get(bds, i);
            const char *a = mc_master_of(bd), *n = rmq_json_str(bd, "brokerName");
            if (a && n)
                masters_add(out, n, a);
        }
        return out->n > 0;
    }
    ci = mc_cluster_info(r);
    if (!ci)
        return false;
    const char *k;
    json_t *bd;
    json_object_foreach(json_object_get(ci, "brokerAddrTable"), k, bd)
    {
        const char *a = mc_master_of(bd);
        if (a)
            masters_add(out, k, a);
    }
    json_decref(ci);
    return true;
}

static bool offset_call(mc_rpc_t *r, const char *addr, int code, const char *topic, int qid, int64_t ts,
                        const char *group, int64_t *out)
{
    rmq_cmd_t req, resp;
    rmq_admin_req_queue(&req, code, group, topic, qid);
    if (code == RMQ_REQ_SEARCH_OFFSET_BY_TIMESTAMP)
        rmq_cmd_set_ext_i64(&req, "timestamp", ts);
    if (mc_rpc_call(r, addr, &req, &resp) != 0)
        return false;
    bool ok = resp.code == 0 && rmq_cmd_ext_i64(&resp, "offset", out) == RMQ_OK;
    if (!ok)
        snprintf(r->err, sizeof(r->err), "%s: %s", rmq_err2name(resp.code), resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    return ok;
}

/* One pull of topic/qid at off by the console's tools group (no offset is
 * committed). Records are appended to recs (their bytes kept alive in
 * bodies); returns the response code, *next the next offset. */
typedef struct pulled_s {
    rmq_msg_rec_t *recs;
    size_t n, cap;
    uint8_t **bodies;
    char **brokers; /* per record: borrowed broker names */
    size_t nbodies;
} pulled_t;

static void pulled_free(pulled_t *p)
{
    for (size_t i = 0; i < p->nbodies; i++)
        free(p->bodies[i]);
    free(p->bodies);
    free(p->recs);
    free(p->brokers);
    memset(p, 0, sizeof(*p));
}

static void pulled_add(pulled_t *p, const rmq_msg_rec_t *r, const char *broker)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->recs = rmq_realloc(p->recs, p->cap * sizeof(*p->recs));
        p->brokers = rmq_realloc(p->brokers, p->cap * sizeof(*p->brokers));
    }
    p->recs[p->n] = *r;
    p->brokers[p->n] = (char *)broker;
    p->n++;
}

/* Keep a response body alive for the records that borrow it. */
static void pulled_keep(pulled_t *p, rmq_cmd_t *resp)
{
    p->bodies = rmq_realloc(p->bodies, (p->nbodies + 1) * sizeof(uint8_t *));
    p->bodies[p->nbodies++] = resp->body;
    resp->body = NULL;
    resp->body_len = 0;
}

static int pull_once(mc_rpc_t *r, const char *addr, const char *group, const char *topic, int qid,
                     int64_t off, rmq_cmd_t *resp, int64_t *next)
{
    rmq_cmd_t req;
    rmq_admin_req_browse(&req, group, topic, qid, off, PULL_BATCH);
    if (mc_rpc_call(r, addr, &req, resp) != 0)
        return -1;
    if (rmq_cmd_ext_i64(resp, "nextBeginOffset", next) != RMQ_OK)
        *next = off;
    return resp->code;
}

/* Messages of one queue with store time in [begin, end], from the offset
 * of `begin`, at most max of them. */
static void scan_queue(mc_rpc_t *r, const char *group, const char *addr, const char *broker,
                       const char *topic, int qid, int64_t begin, int64_t end, int64_t max, pulled_t *out)
{
    int64_t off = 0, maxoff = 0;
    if (!offset_call(r, addr, RMQ_REQ_GET_MAX_OFFSET, topic, qid, 0, NULL, &maxoff))
        return;
    if (begin > 0 && !offset_call(r, addr, RMQ_REQ_SEARCH_OFFSET_BY_TIMESTAMP, topic, qid, begin, NULL, &off))
        return;
    if (begin <= 0 && !offset_call(r, addr, RMQ_REQ_GET_MIN_OFFSET, topic, qid, 0, NULL, &off))
        return;
    int64_t taken = 0;
    for (int guard = 0; guard < 10000 && off < maxoff && taken < max; guard++) {
        rmq_cmd_t resp;
        int64_t next = off;
        int code = pull_once(r, addr, group, topic, qid, off, &resp, &next);
        if (code == 0 && resp.body_len) {
            rmq_msg_rec_t *recs = NULL;
            size_t n = 0;
            bool past_end = false;
            if (rmq_msg_decode_all(resp.body, resp.body_len, false, &recs, &n) == RMQ_OK) {
                for (size_t i = 0; i < n && taken < max; i++) {
                    if (end > 0 && recs[i].store_timestamp > end) {
                        past_end = true;
                        break;
                    }
                    if (recs[i].store_timestamp >= begin) {
                        pulled_add(out, &recs[i], (char *)broker);
                        taken++;
                    }
                }
                pulled_keep(out, &resp);
            }
            free(recs);
            rmq_cmd_deinit(&resp);
            if (past_end || next <= off)
                break;
            off = next;
        } else {
            rmq_cmd_deinit(&resp);
            if ((code == RMQ_ERR_PULL_OFFSET_MOVED || code == RMQ_ERR_PULL_RETRY_IMMEDIATELY) && next > off) {
                off = next;
                continue;
            }
            break;
        }
    }
}

static int cmp_store_time(const void *a, const void *b)
{
    const rmq_msg_rec_t *x = a, *y = b;
    return x->store_timestamp < y->store_timestamp ? -1 : x->store_timestamp > y->store_timestamp;
}

/* Records in store-time order with their broker names kept aligned. */
static void sort_pulled(pulled_t *p)
{
    typedef struct {
        rmq_msg_rec_t r;
        char *b;
    } pair_t;
    pair_t *v = rmq_malloc((p->n ? p->n : 1) * sizeof(*v));
    for (size_t i = 0; i < p->n; i++)
        v[i] = (pair_t){p->recs[i], p->brokers[i]};
    qsort(v, p->n, sizeof(*v), cmp_store_time); /* r is the first member */
    for (size_t i = 0; i < p->n; i++) {
        p->recs[i] = v[i].r;
        p->brokers[i] = v[i].b;
    }
    free(v);
}

static json_t *pulled_json(pulled_t *p, size_t limit, bool full, size_t max_body, bool *truncated)
{
    json_t *arr = json_array();
    *truncated = p->n > limit;
    for (size_t i = 0; i < p->n && i < limit; i++)
        json_array_append_new(arr, mc_msg_json(&p->recs[i], p->brokers[i], full, max_body));
    return arr;
}

/* Whether a record's KEYS (space-separated) contain key. */
static bool has_key(const rmq_msg_rec_t *r, const char *key)
{
    const char *v;
    size_t vl;
    if (!rmq_msg_props_find(r->props, r->props_len, RMQ_PROP_KEYS, &v, &vl))
        return false;
    size_t kl = strlen(key);
    size_t i = 0;
    while (i < vl) {
        while (i < vl && v[i] == ' ')
            i++;
        size_t s = i;
        while (i < vl && v[i] != ' ')
            i++;
        if (i - s == kl && !memcmp(v + s, key, kl))
            return true;
    }
    return false;
}

static bool uniq_is(const rmq_msg_rec_t *r, const char *id)
{
    const char *v;
    size_t vl;
    return rmq_msg_props_find(r->props, r->props_len, RMQ_PROP_UNIQ_KEY, &v, &vl) && vl == strlen(id) &&
           !memcmp(v, id, vl);
}

static bool topic_is(const rmq_msg_rec_t *r, const char *topic)
{
    return r->topic_len == strlen(topic) && !memcmp(r->topic, topic, r->topic_len);
}

/* QUERY_MESSAGE on every master: records with this key (or UNIQ_KEY). */
static void query_index(mc_rpc_t *r, const masters_t *m, const char *topic, const char *key, bool uniq,
                        int64_t begin, int64_t end, int64_t max, pulled_t *out)
{
    for (size_t i = 0; i < m->n; i++) {
        rmq_cmd_t req, resp;
        rmq_cmd_init_request(&req, RMQ_REQ_QUERY_MESSAGE);
        rmq_cmd_set_ext(&req, "topic", topic);
        rmq_cmd_set_ext(&req, "key", key);
        rmq_cmd_set_ext_i64(&req, "maxNum", max > 64 ? 64 : max);
        rmq_cmd_set_ext_i64(&req, "beginTimestamp", begin > 0 ? begin : 0);
        rmq_cmd_set_ext_i64(&req, "endTimestamp", end > 0 ? end : INT64_MAX);
        rmq_cmd_set_ext(&req, "_UNIQUE_KEY_QUERY", uniq ? "true" : "false");
        if (mc_rpc_call(r, m->addr[i], &req, &resp) != 0)
            continue;
        if (resp.code == 0 && resp.body_len) {
            rmq_msg_rec_t *recs = NULL;
            size_t n = 0;
            if (rmq_msg_decode_all(resp.body, resp.body_len, false, &recs, &n) == RMQ_OK) {
                /* the index is a hash: drop collisions */
                for (size_t k = 0; k < n; k++)
                    if (topic_is(&recs[k], topic) && (uniq ? uniq_is(&recs[k], key) : has_key(&recs[k], key)))
                        pulled_add(out, &recs[k], m->name[i]);
                pulled_keep(out, &resp);
            }
            free(recs);
        }
        rmq_cmd_deinit(&resp);
    }
}

/* ---------- find one message by id ---------- */

/* Broker name of an address, from the cluster info (NULL if unknown). */
static char *broker_of_addr(mc_rpc_t *r, const char *addr)
{
    json_t *ci = mc_cluster_info(r);
    char *name = NULL;
    const char *k;
    json_t *bd;
    json_object_foreach(json_object_get(ci, "brokerAddrTable"), k, bd)
    {
        const char *ik;
        json_t *a;
        json_object_foreach(json_object_get(bd, "brokerAddrs"), ik, a)
        {
            if (!name && json_is_string(a) && !strcmp(json_string_value(a), addr))
                name = rmq_strdup(k);
        }
    }
    json_decref(ci);
    return name;
}

/* The message with id (offset msgId, or UNIQ_KEY within topic). On success
 * out holds exactly one record; *broker_name and *addr are heap strings. */
static bool find_by_id(mc_rpc_t *r, const char *topic, const char *id, pulled_t *out, char **broker_name,
                       char **addr, char *why, size_t whyn)
{
    rmq_msg_host_t host;
    int64_t off;
    *broker_name = *addr = NULL;
    size_t idl = strlen(id);
    if ((idl == 32 || idl == 56) && rmq_msg_id_parse(id, idl, &host, &off) == RMQ_OK) {
        char a[80];
        mc_host_str(&host, a, sizeof(a));
        rmq_cmd_t req, resp;
        rmq_cmd_init_request(&req, RMQ_REQ_VIEW_MESSAGE_BY_ID);
        rmq_cmd_set_ext_i64(&req, "offset", off);
        if (mc_rpc_call(r, a, &req, &resp) == 0 && resp.code == 0) {
            rmq_msg_rec_t rec;
            if (rmq_msg_decode(resp.body, resp.body_len, false, &rec) == RMQ_OK &&
                (!topic || !*topic || topic_is(&rec, topic))) {
                *broker_name = broker_of_addr(r, a);
                *addr = rmq_strdup(a);
                pulled_add(out, &rec, NULL);
                pulled_keep(out, &resp);
                rmq_cmd_deinit(&resp);
                return true;
            }
        }
        rmq_cmd_deinit(&resp);
    }
    if (!topic || !*topic) {
        snprintf(why, whyn,
                 "%s is not an offset message id of a reachable broker; give the topic to look it up as a "
                 "client message id (UNIQ_KEY)",
                 id);
        return false;
    }
    json_t *route = mc_topic_route(r, topic);
    masters_t m;
    if (!route || !masters_of(r, route, &m)) {
        snprintf(why, whyn, "topic %s has no route", topic);
        json_decref(route);
        return false;
    }
    pulled_t found = {0};
    query_index(r, &m, topic, id, true, 0, 0, 4, &found);
    bool ok = found.n > 0;
    if (ok) {
        /* the newest copy, should an id appear twice */
        size_t best = 0;
        for (size_t i = 1; i < found.n; i++)
            if (found.recs[i].store_timestamp > found.recs[best].store_timestamp)
                best = i;
        pulled_add(out, &found.recs[best], NULL);
        *broker_name = rmq_strdup(found.brokers[best]);
        const char *a = master_addr(&m, found.brokers[best]);
        *addr = rmq_strdup(a ? a : "");
        /* move the bodies over: the record borrows them */
        for (size_t i = 0; i < found.nbodies; i++) {
            out->bodies = rmq_realloc(out->bodies, (out->nbodies + 1) * sizeof(uint8_t *));
            out->bodies[out->nbodies++] = found.bodies[i];
        }
        found.nbodies = 0;
    } else {
        snprintf(why, whyn, "no message with id %s in topic %s", id, topic);
    }
    pulled_free(&found);
    masters_free(&m);
    json_decref(route);
    return ok;
}

/* Which groups consume topic, and whether each has consumed the record. */
static json_t *deliveries(mc_rpc_t *r, const rmq_msg_rec_t *rec, const char *addr)
{
    json_t *arr = json_array();
    char topic[300];
    snprintf(topic, sizeof(topic), "%.*s", (int)rec->topic_len, rec->topic);
    rmq_cmd_t req;
    rmq_cmd_init_request(&req, RMQ_REQ_QUERY_TOPIC_CONSUME_BY_WHO);
    rmq_cmd_set_ext(&req, "topic", topic);
    json_t *who = mc_rpc_json(r, addr, &req, NULL);
    json_t *gl = json_object_get(who, "groupList");
    for (size_t i = 0; i < json_array_size(gl) && i < 64; i++) {
        const char *g = json_string_value(json_array_get(gl, i));
        if (!g || mc_group_is_system(g))
            continue;
        int64_t co = -1;
        bool known = offset_call(r, addr, RMQ_REQ_QUERY_CONSUMER_OFFSET, topic, rec->queue_id, 0, g, &co);
        json_t *d = json_object();
        json_object_set_new(d, "group", mc_jstr0(g));
        json_object_set_new(d, "committedOffset", known ? json_integer(co) : json_null());
        json_object_set_new(d, "consumed", json_boolean(known && co > rec->queue_offset));
        json_array_append_new(arr, d);
    }
    json_decref(who);
    return arr;
}

/* ---------- the queries ---------- */

/* The route of topic and the master of each of its brokers; NULL, the query
 * answered 404, when the name servers do not know the topic. */
static json_t *topic_masters(mc_rpc_t *r, mc_query_t *q, const char *topic, masters_t *m)
{
    json_t *route = mc_topic_route(r, topic);
    if (!route) {
        rmq_http_reply_error(q->req, 404, "topic %s: %s", topic, r->err);
        return NULL;
    }
    masters_of(r, route, m);
    return route;
}

/* Answer doc, then release what topic_masters gave. */
static void reply_routed(mc_query_t *q, json_t *route, masters_t *m, json_t *doc)
{
    masters_free(m);
    json_decref(route);
    reply_json(q, 200, doc);
}

static void q_topic(mc_rpc_t *r, mc_query_t *q)
{
    masters_t m;
    json_t *route = topic_masters(r, q, q->topic, &m);
    if (!route)
        return;
    json_t *doc = json_object();
    json_object_set_new(doc, "topic", json_string(q->topic));
    json_object_set_new(doc, "kind", json_string(mc_topic_kind(q->topic)));
    json_object_set(doc, "route", route);
    json_t *queues = json_array();
    json_t *groups = json_object();
    for (size_t i = 0; i < m.n; i++) {
        json_t *rows = mc_rpc_offset_rows(r, m.addr[i], RMQ_REQ_GET_TOPIC_STATS_INFO, NULL, q->topic);
        for (size_t k = 0; k < json_array_size(rows); k++) {
            json_t *row = json_array_get(rows, k), *v = json_object_get(row, "value");
            json_t *o = json_object();
            json_object_set(o, "brokerName", json_object_get(row, "brokerName"));
            json_object_set(o, "queueId", json_object_get(row, "queueId"));
            json_object_set(o, "minOffset", json_object_get(v, "minOffset"));
            json_object_set(o, "maxOffset", json_object_get(v, "maxOffset"));
            json_object_set(o, "lastUpdateTimestamp", json_object_get(v, "lastUpdateTimestamp"));
            json_array_append_new(queues, o);
        }
        json_decref(rows);
        rmq_cmd_t req;
        rmq_cmd_init_request(&req, RMQ_REQ_QUERY_TOPIC_CONSUME_BY_WHO);
        rmq_cmd_set_ext(&req, "topic", q->topic);
        json_t *who = mc_rpc_json(r, m.addr[i], &req, NULL);
        json_t *gl = json_object_get(who, "groupList");
        for (size_t k = 0; k < json_array_size(gl); k++)
            if (json_is_string(json_array_get(gl, k)))
                json_object_set_new(groups, json_string_value(json_array_get(gl, k)), json_integer(0));
        json_decref(who);
    }
    /* lag of each consuming group on this topic */
    json_t *garr = json_array();
    const char *g;
    json_t *gv;
    size_t gi = 0;
    json_object_foreach(groups, g, gv)
    {
        if (gi++ >= 64)
            break;
        int64_t lag = 0;
        bool any = false;
        for (size_t i = 0; i < m.n; i++) {
            json_t *rows = mc_rpc_offset_rows(r, m.addr[i], RMQ_REQ_GET_CONSUME_STATS, g, q->topic);
            for (size_t k = 0; k < json_array_size(rows); k++) {
                json_t *v = json_object_get(json_array_get(rows, k), "value");
                int64_t bo = 0, co = 0;
                rmq_json_int(v, "brokerOffset", &bo);
                rmq_json_int(v, "consumerOffset", &co);
                lag += bo > co ? bo - co : 0;
                any = true;
            }
            json_decref(rows);
        }
        json_t *o = json_object();
        json_object_set_new(o, "group", json_string(g));
        json_object_set_new(o, "system", json_boolean(mc_group_is_system(g)));
        json_object_set_new(o, "lag", any ? json_integer(lag) : json_null());
        json_array_append_new(garr, o);
    }
    json_decref(groups);
    json_object_set_new(doc, "queues", queues);
    json_object_set_new(doc, "groups", garr);
    reply_routed(q, route, &m, doc);
}

/* Whether any master has the subscription group. */
static bool group_exists(mc_rpc_t *r, const masters_t *m, const char *group)
{
    for (size_t i = 0; i < m->n; i++) {
        rmq_cmd_t req;
        rmq_cmd_init_request(&req, RMQ_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG);
        json_t *gc = mc_rpc_json(r, m->addr[i], &req, NULL);
        bool has = json_object_get(json_object_get(gc, "subscriptionGroupTable"), group) != NULL;
        json_decref(gc);
        if (has)
            return true;
    }
    return false;
}

static void q_group(mc_rpc_t *r, mc_query_t *q)
{
    masters_t m;
    if (!masters_of(r, NULL, &m)) {
        rmq_http_reply_error(q->req, 502, "%s", r->err);
        return;
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "group", json_string(q->group));
    json_object_set_new(doc, "system", json_boolean(mc_group_is_system(q->group)));
    json_t *queues = json_array();
    json_t *conn = NULL;
    int64_t total = 0;
    bool any = false;
    for (size_t i = 0; i < m.n; i++) {
        json_t *rows = mc_rpc_offset_rows(r, m.addr[i], RMQ_REQ_GET_CONSUME_STATS, q->group, NULL);
        for (size_t k = 0; k < json_array_size(rows); k++) {
            json_t *row = json_array_get(rows, k), *v = json_object_get(row, "value");
            int64_t bo = 0, co = 0, lt = 0;
            rmq_json_int(v, "brokerOffset", &bo);
            rmq_json_int(v, "consumerOffset", &co);
            rmq_json_int(v, "lastTimestamp", &lt);
            json_t *o = json_object();
            json_object_set(o, "topic", json_object_get(row, "topic"));
            json_object_set(o, "brokerName", json_object_get(row, "brokerName"));
            json_object_set(o, "queueId", json_object_get(row, "queueId"));
            json_object_set_new(o, "brokerOffset", json_integer(bo));
            json_object_set_new(o, "consumerOffset", json_integer(co));
            json_object_set_new(o, "lag", json_integer(bo > co ? bo - co : 0));
            json_object_set_new(o, "lastTimestamp", json_integer(lt));
            json_array_append_new(queues, o);
            total += bo > co ? bo - co : 0;
            any = true;
        }
        json_decref(rows);
        if (!conn) {
            rmq_cmd_t req;
            rmq_cmd_init_request(&req, RMQ_REQ_GET_CONSUMER_CONNECTION_LIST);
            rmq_cmd_set_ext(&req, "consumerGroup", q->group);
            conn = mc_rpc_json(r, m.addr[i], &req, NULL);
        }
    }
    json_t *cs0 = json_object_get(conn, "connectionSet");
    if (!any && json_array_size(cs0) == 0 && !group_exists(r, &m, q->group)) {
        json_decref(queues);
        json_decref(conn);
        json_decref(doc);
        masters_free(&m);
        rmq_http_reply_error(q->req, 404, "no consumer group %s on any broker", q->group);
        return;
    }
    json_object_set_new(doc, "queues", queues);
    json_object_set_new(doc, "lag", any ? json_integer(total) : json_null());
    json_t *members = json_array();
    json_t *cs = json_object_get(conn, "connectionSet");
    for (size_t i = 0; i < json_array_size(cs); i++) {
        json_t *c = json_array_get(cs, i), *o = json_object();
        json_object_set_new(o, "clientId", mc_jstr0(rmq_json_str(c, "clientId")));
        json_object_set_new(o, "clientAddr", mc_jstr0(rmq_json_str(c, "clientAddr")));
        json_object_set_new(o, "language", mc_jstr0(rmq_json_str(c, "language")));
        json_object_set(o, "version", json_object_get(c, "version"));
        json_array_append_new(members, o);
    }
    json_object_set_new(doc, "members", members);
    json_object_set_new(doc, "online", json_boolean(json_array_size(cs) > 0));
    json_t *subs = json_array();
    const char *t;
    json_t *sd;
    json_object_foreach(json_object_get(conn, "subscriptionTable"), t, sd)
    {
        json_t *o = json_object();
        json_object_set_new(o, "topic", mc_jstr0(t));
        json_object_set_new(o, "expression", mc_jstr0(rmq_json_str(sd, "subString")));
        json_array_append_new(subs, o);
    }
    json_object_set_new(doc, "subscriptions", subs);
    static const char *const cfields[] = {"consumeType", "messageModel", "consumeFromWhere", NULL};
    for (int i = 0; cfields[i]; i++) {
        const char *v = rmq_json_str(conn, cfields[i]);
        json_object_set_new(doc, cfields[i], v ? mc_jstr0(v) : json_null());
    }
    json_decref(conn);
    masters_free(&m);
    reply_json(q, 200, doc);
}

/* Search a topic (or a DLQ) by time range: every queue of its route. */
static void q_search(mc_rpc_t *r, mc_query_t *q, const char *topic, int64_t begin, int64_t end)
{
    json_t *route = mc_topic_route(r, topic);
    if (!route && q->kind == MC_Q_DLQ) {
        /* no dead letter ever: an empty queue, not an error */
        json_t *doc = json_object();
        json_object_set_new(doc, "topic", json_string(topic));
        json_object_set_new(doc, "group", json_string(q->group));
        json_object_set_new(doc, "messages", json_array());
        json_object_set_new(doc, "truncated", json_false());
        reply_json(q, 200, doc);
        return;
    }
    if (!route) {
        rmq_http_reply_error(q->req, 404, "topic %s: %s", topic, r->err);
        return;
    }
    masters_t m;
    masters_of(r, route, &m);
    pulled_t p = {0};
    json_t *qds = json_object_get(route, "queueDatas");
    const char *group = q->c->conf.toolsConsumerGroup;
    for (size_t i = 0; i < json_array_size(qds); i++) {
        json_t *qd = json_array_get(qds, i);
        const char *bn = rmq_json_str(qd, "brokerName");
        int64_t rq = 0;
        rmq_json_int(qd, "readQueueNums", &rq);
        const char *addr = bn ? master_addr(&m, bn) : NULL;
        if (!addr)
            continue;
        for (int qid = 0; qid < rq && qid < 1024; qid++)
            scan_queue(r, group, addr, master_addr(&m, bn) ? bn : "", topic, qid, begin, end, q->limit, &p);
    }
    /* the broker names borrowed by the records live in m until the reply */
    sort_pulled(&p);
    bool trunc;
    json_t *doc = json_object();
    json_object_set_new(doc, "topic", json_string(topic));
    json_object_set_new(doc, "begin", json_integer(begin));
    json_object_set_new(doc, "end", json_integer(end));
    json_object_set_new(doc, "messages",
                        pulled_json(&p, (size_t)q->limit, q->kind == MC_Q_DLQ, 1024, &trunc));
    json_object_set_new(doc, "truncated", json_boolean(trunc));
    if (q->kind == MC_Q_DLQ)
        json_object_set_new(doc, "group", json_string(q->group));
    pulled_free(&p);
    reply_routed(q, route, &m, doc);
}

static void q_key(mc_rpc_t *r, mc_query_t *q)
{
    masters_t m;
    json_t *route = topic_masters(r, q, q->topic, &m);
    if (!route)
        return;
    pulled_t p = {0};
    query_index(r, &m, q->topic, q->key, false, q->begin, q->end, q->limit, &p);
    sort_pulled(&p);
    bool trunc;
    json_t *doc = json_object();
    json_object_set_new(doc, "topic", json_string(q->topic));
    json_object_set_new(doc, "key", mc_jstr0(q->key));
    json_object_set_new(doc, "messages", pulled_json(&p, (size_t)q->limit, false, 1024, &trunc));
    json_object_set_new(doc, "truncated", json_boolean(trunc));
    pulled_free(&p);
    reply_routed(q, route, &m, doc);
}

static void q_id(mc_rpc_t *r, mc_query_t *q)
{
    pulled_t p = {0};
    char *bname = NULL, *addr = NULL;
    char why[512];
    if (!find_by_id(r, q->topic, q->id, &p, &bname, &addr, why, sizeof(why))) {
        rmq_http_reply_error(q->req, 404, "%s", why);
        pulled_free(&p);
        return;
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "message",
                        mc_msg_json(&p.recs[0], bname, true, (size_t)q->c->conf.maxBodyBytes));
    json_object_set_new(doc, "deliveries", addr && *addr ? deliveries(r, &p.recs[0], addr) : json_array());
    pulled_free(&p);
    free(bname);
    free(addr);
    reply_json(q, 200, doc);
}

/* The connections a write action uses: the operator's own credentials
 * under ACL (the broker decides whether they may), else the console's. */
static mc_rpc_t *writer(mc_rpc_t *r, mc_query_t *q, mc_rpc_t *user)
{
    if (!q->user_ak)
        return r;
    mc_rpc_init(user, q->c->conf.namesrvAddr, q->c->conf.requestTimeoutMs);
    mc_rpc_set_credentials(user, q->user_ak, q->user_sk);
    return user;
}

/* SEND_MESSAGE_V2 of a copy of rec to %RETRY%<group> on addr: only that
 * group's consumers receive it again, with the original topic restored by
 * the client from RETRY_TOPIC (as for a consumer's own retries). */
static void resend(mc_rpc_t *r, mc_query_t *q, const rmq_msg_rec_t *rec, const char *addr, const char *bname)
{
    char retry[300];
    snprintf(retry, sizeof(retry), "%%RETRY%%%s", q->group);
    rmq_msg_props_t props;
    rmq_msg_props_init(&props);
    rmq_msg_props_parse(&props, rec->props, rec->props_len);
    char origin_topic[300];
    snprintf(origin_topic, sizeof(origin_topic), "%.*s", (int)rec->topic_len, rec->topic);
    if (!rmq_msg_props_get(&props, "RETRY_TOPIC"))
        rmq_msg_props_set(&props, "RETRY_TOPIC", origin_topic);
    char offid[RMQ_MSG_ID_MAX];
    rmq_msg_id_create(offid, &rec->store_host, rec->commitlog_offset);
    if (!rmq_msg_props_get(&props, "ORIGIN_MESSAGE_ID"))
        rmq_msg_props_set(&props, "ORIGIN_MESSAGE_ID", offid);
    static const char *const drop[] = {
        RMQ_PROP_DELAY,    RMQ_PROP_REAL_TOPIC, RMQ_PROP_REAL_QID, "TIMER_DELIVER_MS", "__STARTDELIVERTIME",
        "TIMER_DELAY_SEC", "TIMER_DELAY_MS",    RMQ_PROP_CLUSTER,  RMQ_PROP_TRAN_MSG,  NULL};
    for (int i = 0; drop[i]; i++)
        rmq_msg_props_del(&props, drop[i]);
    rmq_buf_t ps;
    rmq_buf_init(&ps);
    rmq_msg_props_encode(&props, &ps);
    rmq_msg_props_free(&props);
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, RMQ_REQ_SEND_MESSAGE_V2);
    rmq_cmd_set_ext(&req, "a", "CLIENT_INNER_PRODUCER");
    rmq_cmd_set_ext(&req, "b", retry);
    rmq_cmd_set_ext(&req, "c", "TBW102");
    rmq_cmd_set_ext_i64(&req, "d", 1); /* a new retry topic gets one queue, as the broker's own */
    rmq_cmd_set_ext_i64(&req, "e", -1);
    rmq_cmd_set_ext_i64(&req, "f", rec->sys_flag & RMQ_SYSFLAG_COMPRESSED);
    rmq_cmd_set_ext_i64(&req, "g", rmq_now_ms());
    rmq_cmd_set_ext_i64(&req, "h", rec->flag);
    rmq_cmd_set_ext(&req, "i", rmq_buf_cstr(&ps));
    rmq_cmd_set_ext_i64(&req, "j", 0);
    rmq_cmd_set_ext(&req, "k", "false");
    rmq_cmd_set_ext_i64(&req, "l", 16);
    rmq_cmd_set_body(&req, rec->body, rec->body_len > 0 ? (size_t)rec->body_len : 0);
    rmq_buf_free(&ps);
    mc_rpc_t user, *w = writer(r, q, &user);
    int rc = mc_rpc_call(w, addr, &req, &resp);
    char err[sizeof(w->err)];
    snprintf(err, sizeof(err), "%s", w->err);
    if (w != r)
        mc_rpc_deinit(&user);
    if (rc != 0) {
        rmq_http_reply_error(q->req, 502, "%s", err);
        return;
    }
    if (resp.code != 0) {
        rmq_http_reply_error(q->req, 502, "the broker refused the resend: %s %s", rmq_err2name(resp.code),
                             resp.remark ? resp.remark : "");
        rmq_cmd_deinit(&resp);
        return;
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "sendStatus", json_string("SEND_OK"));
    json_object_set_new(doc, "group", json_string(q->group));
    json_object_set_new(doc, "topic", json_string(retry));
    json_object_set_new(doc, "originTopic", mc_jstr0(origin_topic));
    json_object_set_new(doc, "brokerName", mc_jstr0(bname));
    const char *mid = rmq_cmd_ext(&resp, "msgId");
    json_object_set_new(doc, "offsetMsgId", mc_jstr0(mid));
    int64_t qid = 0, qoff = 0;
    rmq_cmd_ext_i64(&resp, "queueId", &qid);
    rmq_cmd_ext_i64(&resp, "queueOffset", &qoff);
    json_object_set_new(doc, "queueId", json_integer(qid));
    json_object_set_new(doc, "queueOffset", json_integer(qoff));
    rmq_cmd_deinit(&resp);
    rmq_log(RMQ_LOG_INFO, "console", "resent message %s of %s to group %s (%s)", offid, origin_topic,
            q->group, rmq_http_req_peer(q->req));
    mc_poller_kick(q->c->poller);
    reply_json(q, 200, doc);
}

static void q_resend(mc_rpc_t *r, mc_query_t *q)
{
    char dlq[300];
    const char *topic = q->topic;
    if (q->kind == MC_Q_DLQ_RESEND) {
        snprintf(dlq, sizeof(dlq), "%%DLQ%%%s", q->group);
        topic = dlq;
    }
    pulled_t p = {0};
    char *bname = NULL, *addr = NULL;
    char why[512];
    if (!find_by_id(r, topic, q->id, &p, &bname, &addr, why, sizeof(why))) {
        rmq_http_reply_error(q->req, 404, "%s", why);
    } else if (!addr || !*addr) {
        rmq_http_reply_error(q->req, 502, "the broker holding %s is not reachable", q->id);
    } else {
        /* resend through the master of the broker that holds the message */
        masters_t m;
        const char *target = addr;
        if (bname && masters_of(r, NULL, &m)) {
            const char *ma = master_addr(&m, bname);
            resend(r, q, &p.recs[0], ma ? ma : target, bname);
            masters_free(&m);
        } else {
            resend(r, q, &p.recs[0], target, bname);
        }
    }
    pulled_free(&p);
    free(bname);
    free(addr);
}

/* INVOKE_BROKER_TO_RESET_OFFSET on every master of the topic; where the
 * group has no consumer online, the committed offsets are moved directly
 * (SEARCH_OFFSET_BY_TIMESTAMP + UPDATE_CONSUMER_OFFSET), as RocketMQ's
 * admin tools fall back to. */
static void q_reset(mc_rpc_t *console_rpc, mc_query_t *q)
{
    mc_rpc_t user, *r = writer(console_rpc, q, &user);
    masters_t m;
    json_t *route = topic_masters(r, q, q->topic, &m);
    if (!route) {
        if (r != console_rpc)
            mc_rpc_deinit(&user);
        return;
    }
    json_t *queues = json_array(), *errors = json_array();
    const char *mode = "online";
    json_t *qds = json_object_get(route, "queueDatas");
    for (size_t i = 0; i < m.n; i++) {
        rmq_cmd_t req, resp;
        rmq_cmd_init_request(&req, RMQ_REQ_INVOKE_BROKER_TO_RESET_OFFSET);
        rmq_cmd_set_ext(&req, "topic", q->topic);
        rmq_cmd_set_ext(&req, "group", q->group);
        rmq_cmd_set_ext_i64(&req, "timestamp", q->timestamp);
        rmq_cmd_set_ext(&req, "isForce", q->force ? "true" : "false");
        if (mc_rpc_call(r, m.addr[i], &req, &resp) != 0) {
            json_array_append_new(errors, json_sprintf("%s: %s", m.name[i], r->err));
            continue;
        }
        if (resp.code == 0) {
            json_t *rows = mc_fjson_mq_table((const char *)resp.body, resp.body_len, "offsetTable");
            for (size_t k = 0; k < json_array_size(rows); k++) {
                json_t *row = json_array_get(rows, k), *o = json_object();
                json_object_set(o, "brokerName", json_object_get(row, "brokerName"));
                json_object_set(o, "queueId", json_object_get(row, "queueId"));
                json_object_set(o, "offset", json_object_get(row, "value"));
                json_array_append_new(queues, o);
            }
            json_decref(rows);
            rmq_cmd_deinit(&resp);
            continue;
        }
        bool offline =
            resp.code == RMQ_ERR_CONSUMER_NOT_ONLINE || (resp.remark && strstr(resp.remark, "not online"));
        if (!offline) {
            json_array_append_new(errors, json_sprintf("%s: %s %s", m.name[i], rmq_err2name(resp.code),
                                                       resp.remark ? resp.remark : ""));
            rmq_cmd_deinit(&resp);
            continue;
        }
        rmq_cmd_deinit(&resp);
        mode = "offline";
        int64_t rq = 0;
        for (size_t k = 0; k < json_array_size(qds); k++) {
            const char *bn = rmq_json_str(json_array_get(qds, k), "brokerName");
            if (bn && !strcmp(bn, m.name[i]))
                rmq_json_int(json_array_get(qds, k), "readQueueNums", &rq);
        }
        for (int qid = 0; qid < rq && qid < 1024; qid++) {
            int64_t to = 0, cur = -1;
            if (!offset_call(r, m.addr[i], RMQ_REQ_SEARCH_OFFSET_BY_TIMESTAMP, q->topic, qid, q->timestamp,
                             NULL, &to)) {
                json_array_append_new(errors, json_sprintf("%s queue %d: %s", m.name[i], qid, r->err));
                continue;
            }
            offset_call(r, m.addr[i], RMQ_REQ_QUERY_CONSUMER_OFFSET, q->topic, qid, 0, q->group, &cur);
            if (!q->force && cur >= 0 && to >= cur)
                to = cur; /* without force, offsets only move back */
            rmq_cmd_t u, ur;
            rmq_cmd_init_request(&u, RMQ_REQ_UPDATE_CONSUMER_OFFSET);
            rmq_cmd_set_ext(&u, "consumerGroup", q->group);
            rmq_cmd_set_ext(&u, "topic", q->topic);
            rmq_cmd_set_ext_i64(&u, "queueId", qid);
            rmq_cmd_set_ext_i64(&u, "commitOffset", to);
            if (mc_rpc_call(r, m.addr[i], &u, &ur) != 0 || ur.code != 0) {
                json_array_append_new(
                    errors, json_sprintf("%s queue %d: %s", m.name[i], qid, ur.remark ? ur.remark : r->err));
            } else {
                json_t *o = json_object();
                json_object_set_new(o, "brokerName", json_string(m.name[i]));
                json_object_set_new(o, "queueId", json_integer(qid));
                json_object_set_new(o, "offset", json_integer(to));
                json_array_append_new(queues, o);
            }
            rmq_cmd_deinit(&ur);
        }
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "group", json_string(q->group));
    json_object_set_new(doc, "topic", json_string(q->topic));
    json_object_set_new(doc, "timestamp", json_integer(q->timestamp));
    json_object_set_new(doc, "mode", json_string(mode));
    json_object_set_new(doc, "queues", queues);
    json_object_set_new(doc, "errors", errors);
    int status = json_array_size(queues) ? 200 : 502;
    rmq_log(RMQ_LOG_INFO, "console", "reset offsets of %s on %s to %lld (%s, %zu queues) for %s", q->group,
            q->topic, (long long)q->timestamp, mode, json_array_size(queues), rmq_http_req_peer(q->req));
    masters_free(&m);
    json_decref(route);
    if (r != console_rpc)
        mc_rpc_deinit(&user);
    mc_poller_kick(q->c->poller);
    reply_json(q, status, doc);
}

static void q_msg_time(mc_rpc_t *r, mc_query_t *q)
{
    q_search(r, q, q->topic, q->begin, q->end);
}

static void q_dlq(mc_rpc_t *r, mc_query_t *q)
{
    char dlq[300];
    snprintf(dlq, sizeof(dlq), "%%DLQ%%%s", q->group);
    q_search(r, q, dlq, 0, 0);
}

/* What runs each kind of query. */
static void (*const runners[])(mc_rpc_t *r, mc_query_t *q) = {
    [MC_Q_TOPIC] = q_topic,   [MC_Q_GROUP] = q_group,       [MC_Q_MSG_TIME] = q_msg_time,
    [MC_Q_MSG_KEY] = q_key,   [MC_Q_MSG_ID] = q_id,         [MC_Q_DLQ] = q_dlq,
    [MC_Q_RESEND] = q_resend, [MC_Q_DLQ_RESEND] = q_resend, [MC_Q_RESET] = q_reset,
};

void mc_query_run(mc_rpc_t *rpc, void *arg)
{
    mc_query_t *q = arg;
    runners[q->kind](rpc, q);
    mc_query_free(q);
}
