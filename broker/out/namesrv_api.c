/* namesrv_api.c - broker registration with the name servers.
 * Owns: per-name-server registration state (topics waiting for an
 * incremental registration, whether the next one must be whole), its retry
 * timers and the coalescing timer; the callers waiting for a registration
 * to come back (each with a timeout).
 * Thread: io. Builds the RegisterBrokerBody JSON (the whole topic table, or
 * the changed topics only) and sends it through the client endpoint;
 * answers are handled in callbacks.
 * Never: waits for a name server (every call is asynchronous). */
#include "out/namesrv_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "broker.h"
#include "ha/ha.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_msg_codec.h"
#include "rmq_timer.h"

/* Topic changes within this window go out in one registration. */
#define COALESCE_MS 10
/* A whole registration whose JSON body is larger goes compressed
 * (RegisterBrokerBody.encode(true), Java's compressedRegister): half the
 * name servers' default frame limit of 16 MiB, about 50,000 topics. */
#define COMPRESS_OVER (8u * 1024 * 1024)

typedef struct ns_peer_s {
    struct rmq_namesrv_api_s *api;
    char *addr;
    bool in_flight;
    bool again;     /* a whole registration was requested while one was in flight */
    bool need_full; /* the last registration failed: the retry sends the whole table */
    bool ok_once;
    int retry_ms;
    uint64_t sent_gen; /* the change generation the registration in flight carries */
    uint64_t done_gen; /* the generation the last answered (or failed) one carried */
    rmq_map_t pending; /* names of changed topics not sent yet (a set) */
    struct event *ev_retry;
} ns_peer_t;

struct rmq_namesrv_api_s {
    rmq_broker_t *b;
    ns_peer_t *peers;
    size_t n;
    struct event *ev_period;
    struct event *ev_coalesce;
    bool coalesce_armed;
    bool said_compressed; /* logged once */
    int64_t registered, registered_incr;
    uint64_t gen; /* registrations asked for (topic changes, whole tables) */
    struct ns_waiter_s *waiters;
    int unreg_left;
    void (*unreg_done)(rmq_broker_t *b);
    struct event *ev_unreg_timeout;
};

/* Someone waiting until the changes up to gen reached every name server
 * (Java's updateAndCreateTopic answers once registerIncrementBrokerData
 * returned). */
typedef struct ns_waiter_s {
    struct ns_waiter_s *next;
    rmq_namesrv_api_t *ns;
    uint64_t gen;
    void (*done)(void *arg);
    void *arg;
    struct event *ev_timeout;
} ns_waiter_t;

static void register_one(ns_peer_t *p, bool full);
static void arm_coalesce(rmq_namesrv_api_t *ns);

/* A peer is past gen when an answer for it came back, when it is waiting
 * for its retry (down: the retry sends the whole table), or when this
 * broker does not register now (shutting down; a fenced master). */
static bool peer_past(const ns_peer_t *p, uint64_t gen)
{
    const rmq_broker_t *b = p->api->b;
    return p->done_gen >= gen || (!p->in_flight && p->need_full) || b->shutting_down || b->reg_id < 0;
}

static void waiter_finish(ns_waiter_t *w)
{
    ns_waiter_t **pp = &w->ns->waiters;
    while (*pp && *pp != w)
        pp = &(*pp)->next;
    if (*pp)
        *pp = w->next;
    event_free(w->ev_timeout);
    void (*done)(void *) = w->done;
    void *arg = w->arg;
    free(w);
    done(arg);
}

/* Waiters are in generation order: the first one not past ends the walk. */
static void release_waiters(rmq_namesrv_api_t *ns)
{
    while (ns->waiters) {
        bool past = true;
        for (size_t i = 0; i < ns->n && past; i++)
            past = peer_past(&ns->peers[i], ns->waiters->gen);
        if (!past)
            return;
        waiter_finish(ns->waiters);
    }
}

/* A waiter's time is up: the ones asked before it waited at least as long
 * and go first (timers of one deadline - creations read in one go - fire in
 * any order; answers keep the order asked). */
static void waiter_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ns_waiter_t *w = arg;
    rmq_namesrv_api_t *ns = w->ns;
    while (ns->waiters && ns->waiters != w)
        waiter_finish(ns->waiters);
    waiter_finish(w);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    register_one(arg, true);
}

static void schedule_retry(ns_peer_t *p)
{
    rmq_broker_t *b = p->api->b;
    if (b->shutting_down)
        return;
    int period = b->conf.registerNameServerPeriod;
    p->retry_ms = p->retry_ms ? p->retry_ms * 2 : 1000;
    if (p->retry_ms > period)
        p->retry_ms = period;
    rmq_timer_add(p->ev_retry, p->retry_ms);
}

/* The answer to a registration; arg: the peer, with the low bit set for an
 * incremental one. */
static void register_resp(rmq_conn_t *conn, rmq_err_t err, rmq_cmd_t *resp, void *arg)
{
    bool incremental = ((uintptr_t)arg & 1) != 0;
    ns_peer_t *p = (ns_peer_t *)((uintptr_t)arg & ~(uintptr_t)1);
    p->in_flight = false;
    p->done_gen = p->sent_gen;
    if (err == RMQ_OK && resp->code == RMQ_OK) {
        if (!p->ok_once || p->retry_ms)
            rmq_log(RMQ_LOG_INFO, "broker", "registered with name server %s", p->addr);
        p->ok_once = true;
        p->retry_ms = 0;
        p->api->registered++;
        if (incremental)
            p->api->registered_incr++;
        /* a slave learns its master's HA address here (unless haMasterAddress is set) */
        rmq_ha_set_master(p->api->b->ha, rmq_cmd_ext(resp, "haServerAddr"), rmq_cmd_ext(resp, "masterAddr"));
        if (p->again) {
            p->again = false;
            register_one(p, true);
        } else if (rmq_map_count(&p->pending) > 0) {
            arm_coalesce(p->api);
        }
        release_waiters(p->api);
        return;
    }
    rmq_log(RMQ_LOG_WARN, "broker", "register to name server %s failed: %s%s%s", p->addr,
            err == RMQ_OK ? rmq_err2name(resp->code) : rmq_err2str(err),
            err == RMQ_OK && resp->remark ? ": " : "", err == RMQ_OK && resp->remark ? resp->remark : "");
    /* what that registration carried may be lost: the retry sends everything */
    p->again = false;
    p->need_full = true;
    schedule_retry(p);
    release_waiters(p->api);
}

/* One TopicConfig of the body; as Java's registerBrokerAll, a broker that
 * is not readable and writable registers every topic with its own perm. */
static void put_topic(rmq_broker_t *b, rmq_buf_t *body, bool *first, const rmq_topic_config_t *tc)
{
    rmq_topic_config_t t = *tc;
    int32_t bp = b->conf.brokerPermission;
    if (!(bp & RMQ_PERM_READ) || !(bp & RMQ_PERM_WRITE))
        t.perm = bp;
    if (!*first)
        rmq_buf_putc(body, ',');
    *first = false;
    rmq_json_escape(body, t.name, strlen(t.name), false);
    rmq_buf_putc(body, ':');
    rmq_topic_json_one(body, &t);
}

/* RegisterBrokerBody: the whole table (names NULL) or the topics of names
 * that still exist (RocketMQ's registerIncrementBrokerData: the same
 * TopicConfigSerializeWrapper holding only those, with the table's data
 * version). Returns the number of topics in it. */
static size_t build_body(rmq_broker_t *b, const rmq_map_t *names, rmq_buf_t *body)
{
    const rmq_topic_mgr_t *m = &b->topics;
    rmq_buf_puts(body, "{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{\"dataVersion\":");
    rmq_data_version_json(body, &m->dv);
    rmq_buf_puts(body, ",\"topicConfigTable\":{");
    bool first = true;
    size_t n = 0;
    const char *k;
    void *v;
    if (!names) {
        for (size_t it = 0; rmq_map_next(&m->map, &it, &k, &v); n++)
            put_topic(b, body, &first, v);
    } else {
        for (size_t it = 0; rmq_map_next(names, &it, &k, NULL);) {
            const rmq_topic_config_t *tc = rmq_map_get(&m->map, k);
            if (tc) {
                put_topic(b, body, &first, tc);
                n++;
            }
        }
    }
    rmq_buf_puts(body, "}}}");
    return n;
}

static void put_u32(rmq_buf_t *b, uint32_t v)
{
    uint8_t x[4];
    rmq_wbe32(x, v);
    rmq_buf_put(b, x, 4);
}

/* The compressed RegisterBrokerBody of the whole table: zlib of the data
 * version JSON, the topic count, each TopicConfig.encode() ("name read
 * write perm filterType": topicSysFlag does not travel, as in Java) and the
 * filter server list, each behind its big-endian length. False if zlib
 * fails (the JSON body is sent then). */
static bool build_compressed(rmq_broker_t *b, rmq_buf_t *out)
{
    const rmq_topic_mgr_t *m = &b->topics;
    rmq_buf_t raw;
    rmq_buf_init(&raw);
    rmq_buf_t dv;
    rmq_buf_init(&dv);
    rmq_data_version_json(&dv, &m->dv);
    put_u32(&raw, (uint32_t)dv.len);
    rmq_buf_put(&raw, dv.data, dv.len);
    rmq_buf_free(&dv);
    put_u32(&raw, (uint32_t)rmq_map_count(&m->map));
    int32_t bp = b->conf.brokerPermission;
    bool own_perm = !(bp & RMQ_PERM_READ) || !(bp & RMQ_PERM_WRITE);
    char line[400];
    const char *k;
    void *v;
    for (size_t it = 0; rmq_map_next(&m->map, &it, &k, &v);) {
        const rmq_topic_config_t *tc = v;
        int n = snprintf(line, sizeof(line), "%s %d %d %d %s", tc->name, tc->read_queues, tc->write_queues,
                         own_perm ? bp : tc->perm, rmq_topic_filter_name(tc->filter_type));
        put_u32(&raw, (uint32_t)n);
        rmq_buf_put(&raw, line, (size_t)n);
    }
    put_u32(&raw, 2);
    rmq_buf_put(&raw, "[]", 2);
    uLongf clen = compressBound((uLong)raw.len);
    rmq_buf_reserve(out, clen);
    bool ok = compress2(out->data, &clen, raw.data, (uLong)raw.len, Z_BEST_SPEED) == Z_OK;
    if (ok)
        out->len = clen;
    rmq_buf_free(&raw);
    return ok;
}

/* REGISTER_BROKER / UNREGISTER_BROKER naming this broker (the caller adds
 * the rest: haServerAddr, brokerId). */
static void broker_request(rmq_cmd_t *req, int32_t code, const rmq_broker_t *b)
{
    rmq_cmd_init_request(req, code);
    rmq_cmd_set_ext(req, "brokerName", b->conf.brokerName);
    rmq_cmd_set_ext(req, "brokerAddr", b->broker_addr);
    rmq_cmd_set_ext(req, "clusterName", b->conf.brokerClusterName);
}

static void register_one(ns_peer_t *p, bool full)
{
    rmq_broker_t *b = p->api->b;
    if (b->shutting_down || b->reg_id < 0) /* controller mode: a fenced master is quiet */
        return;
    if (p->in_flight) {
        if (full)
            p->again = true; /* else the answer sends what is pending */
        return;
    }
    /* many changes (start-up, a slave's first sync): the whole table is as cheap */
    if (!full && rmq_map_count(&p->pending) > rmq_map_count(&b->topics.map) / 2)
        full = true;
    if (full) {
        evtimer_del(p->ev_retry);
        p->need_full = false;
    }
    rmq_cmd_t req;
    broker_request(&req, RMQ_REQ_REGISTER_BROKER, b);
    rmq_cmd_set_ext(&req, "haServerAddr", b->ha_addr);
    rmq_cmd_set_ext_i64(&req, "brokerId", b->reg_id);
    rmq_buf_t body;
    rmq_buf_init(&body);
    build_body(b, full ? NULL : &p->pending, &body);
    rmq_map_deinit(&p->pending); /* sent (or, on failure, covered by the whole retry) */
    bool compressed = false;
    if (full && body.len > COMPRESS_OVER) {
        rmq_buf_t z;
        rmq_buf_init(&z);
        if (build_compressed(b, &z)) {
            if (!p->api->said_compressed)
                rmq_log(RMQ_LOG_INFO, "broker",
                        "registering %zu topics compressed (%zu bytes; as JSON %zu, over %u): topicSysFlag "
                        "is not "
                        "carried in this form",
                        rmq_map_count(&b->topics.map), z.len, body.len, COMPRESS_OVER);
            p->api->said_compressed = true;
            rmq_buf_free(&body);
            body = z;
            compressed = true;
        } else {
            rmq_buf_free(&z);
        }
    }
    rmq_cmd_set_ext(&req, "compressed", compressed ? "true" : "false");
    bool big = full && (compressed || body.len > (1u << 20));
    rmq_cmd_set_ext_i64(&req, "bodyCrc32", rmq_msg_body_crc(body.data, body.len));
    rmq_cmd_take_body(&req, body.data, body.len);
    p->in_flight = true;
    p->sent_gen = p->api->gen;
    void *arg = (void *)((uintptr_t)p | (full ? 0 : 1));
    rmq_err_t r =
        rmq_client_request(b->client, p->addr, &req, b->conf.registerBrokerTimeoutMills, register_resp, arg);
    rmq_cmd_deinit(&req);
#ifdef __GLIBC__
    /* a large table's JSON came and went (the frame is in the connection's
     * output now): give the pages back, once a period, not per change */
    if (big)
        malloc_trim(0);
#else
    (void)big;
#endif
    if (r != RMQ_OK) {
        p->in_flight = false;
        p->need_full = true;
        rmq_log(RMQ_LOG_WARN, "broker", "register to name server %s failed: %s", p->addr, rmq_err2str(r));
        schedule_retry(p);
        release_waiters(p->api);
    }
}

/* The whole table to every name server; skip_busy leaves out those still
 * answering a registration (else the answer sends it again). */
static void register_whole(rmq_namesrv_api_t *ns, bool skip_busy)
{
    ns->gen++;
    for (size_t i = 0; i < ns->n; i++)
        if (!skip_busy || !ns->peers[i].in_flight)
            register_one(&ns->peers[i], true);
}

void rmq_namesrv_api_register_all(rmq_namesrv_api_t *ns)
{
    register_whole(ns, false);
}

static void coalesce_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_namesrv_api_t *ns = arg;
    ns->coalesce_armed = false;
    for (size_t i = 0; i < ns->n; i++) {
        ns_peer_t *p = &ns->peers[i];
        /* a peer waiting for its retry sends the whole table then */
        if (rmq_map_count(&p->pending) > 0 && !p->need_full)
            register_one(p, false);
    }
}

static void arm_coalesce(rmq_namesrv_api_t *ns)
{
    if (ns->coalesce_armed || ns->b->shutting_down)
        return;
    ns->coalesce_armed = true;
    rmq_timer_add(ns->ev_coalesce, COALESCE_MS);
}

void rmq_namesrv_api_topics_changed(rmq_namesrv_api_t *ns, const rmq_map_t *names)
{
    if (rmq_map_count(names) == 0)
        return;
    ns->gen++;
    const char *k;
    for (size_t i = 0; i < ns->n; i++)
        for (size_t it = 0; rmq_map_next(names, &it, &k, NULL);)
            rmq_map_put(&ns->peers[i].pending, k, NULL);
    arm_coalesce(ns);
}

void rmq_namesrv_api_after_registered(rmq_namesrv_api_t *ns, void (*done)(void *arg), void *arg)
{
    ns_waiter_t *w = rmq_calloc(1, sizeof(*w));
    w->ns = ns;
    w->gen = ns->gen;
    w->done = done;
    w->arg = arg;
    w->ev_timeout =
        rmq_timer_new(ns->b->base, ns->b->conf.registerBrokerTimeoutMills, false, waiter_timeout_cb, w);
    ns_waiter_t **tail = &ns->waiters; /* answered in the order asked */
    while (*tail)
        tail = &(*tail)->next;
    *tail = w;
    /* someone waits: the coalescing window ends now (changes made while a
     * registration is in flight still go as one, after its answer) */
    if (ns->coalesce_armed) {
        evtimer_del(ns->ev_coalesce);
        coalesce_cb(-1, EV_TIMEOUT, ns);
    }
    release_waiters(ns);
}

/* The period's whole registration. A name server still answering the last
 * registration is left to the next tick: a table whose registration takes
 * longer than the period would otherwise go back to back, and the topic
 * creations waiting for their registration behind it. */
static void period_cb(evutil_socket_t fd, short what, void *arg)
{
    register_whole(arg, true);
}

rmq_namesrv_api_t *rmq_namesrv_api_new(rmq_broker_t *b)
{
    rmq_namesrv_api_t *ns = rmq_calloc(1, sizeof(*ns));
    ns->b = b;
    char *list = rmq_strdup(b->conf.namesrvAddr ? b->conf.namesrvAddr : "");
    char *save = NULL;
    for (char *tok = strtok_r(list, ";, ", &save); tok; tok = strtok_r(NULL, ";, ", &save)) {
        ns->peers = rmq_realloc(ns->peers, (ns->n + 1) * sizeof(*ns->peers));
        ns_peer_t *p = &ns->peers[ns->n++];
        memset(p, 0, sizeof(*p));
        p->api = ns;
        p->addr = rmq_strdup(tok);
        rmq_map_init(&p->pending, NULL);
    }
    free(list);
    for (size_t i = 0; i < ns->n; i++)
        ns->peers[i].ev_retry = evtimer_new(b->base, retry_cb, &ns->peers[i]);
    ns->ev_coalesce = evtimer_new(b->base, coalesce_cb, ns);
    ns->ev_period = rmq_timer_new(b->base, b->conf.registerNameServerPeriod, true, period_cb, ns);
    return ns;
}

int64_t rmq_namesrv_api_registered(const rmq_namesrv_api_t *ns)
{
    return ns->registered;
}

int64_t rmq_namesrv_api_registered_incremental(const rmq_namesrv_api_t *ns)
{
    return ns->registered_incr;
}

static void unreg_finish(rmq_namesrv_api_t *ns)
{
    if (ns->ev_unreg_timeout)
        evtimer_del(ns->ev_unreg_timeout);
    void (*done)(rmq_broker_t *) = ns->unreg_done;
    ns->unreg_done = NULL;
    if (done)
        done(ns->b);
}

static void unreg_resp(rmq_conn_t *conn, rmq_err_t err, rmq_cmd_t *resp, void *arg)
{
    rmq_namesrv_api_t *ns = arg;
    if (err != RMQ_OK || resp->code != RMQ_OK)
        rmq_log(RMQ_LOG_WARN, "broker", "unregister from %s failed", rmq_conn_peer(conn));
    if (--ns->unreg_left == 0)
        unreg_finish(ns);
}

static void unreg_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_log(RMQ_LOG_WARN, "broker", "unregister: name servers did not answer in time");
    unreg_finish(arg);
}

int rmq_namesrv_api_unregister_all(rmq_namesrv_api_t *ns, void (*done)(rmq_broker_t *b))
{
    rmq_broker_t *b = ns->b;
    ns->unreg_done = done;
    ns->unreg_left = 0;
    /* a fenced master (controller mode) may have been replaced under id 0:
     * unregistering that id would remove its successor; closing the
     * connection removes this address alone */
    for (size_t i = 0; i < ns->n && b->reg_id >= 0; i++) {
        rmq_cmd_t req;
        broker_request(&req, RMQ_REQ_UNREGISTER_BROKER, b);
        rmq_cmd_set_ext_i64(&req, "brokerId", b->reg_id);
        ns->unreg_left++;
        if (rmq_client_request(b->client, ns->peers[i].addr, &req, 3000, unreg_resp, ns) != RMQ_OK)
            ns->unreg_left--;
        rmq_cmd_deinit(&req);
    }
    int sent = ns->unreg_left;
    if (sent == 0) {
        unreg_finish(ns);
        return 0;
    }
    ns->ev_unreg_timeout = evtimer_new(b->base, unreg_timeout_cb, ns);
    struct timeval tv = {3, 500000};
    evtimer_add(ns->ev_unreg_timeout, &tv);
    return sent;
}

void rmq_namesrv_api_destroy(rmq_namesrv_api_t *ns)
{
    if (!ns)
        return;
    for (size_t i = 0; i < ns->n; i++) {
        rmq_event_free(ns->peers[i].ev_retry);
        free(ns->peers[i].addr);
        rmq_map_deinit(&ns->peers[i].pending);
    }
    free(ns->peers);
    while (ns->waiters) /* shutting down: their answers go now */
        waiter_finish(ns->waiters);
    rmq_event_free(ns->ev_period);
    rmq_event_free(ns->ev_coalesce);
    rmq_event_free(ns->ev_unreg_timeout);
    free(ns);
}
