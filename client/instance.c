/* instance.c - MQClientInstance: the threads of one client handle, the
 * request primitives every other file uses, the route cache, heartbeats,
 * name-server failover and clean unregistration.
 *
 * Threads (all from the common kit, all logging through the handle's own
 * logger):
 *  - io ("comet-io", a service running the event loop): owns the event_base
 *    and the remoting endpoint (all connections). Other threads hand it work
 *    through the instance mailbox (loop/rmq_mailbox.h). Response callbacks
 *    run here.
 *  - service ("comet-svc", rmq_service.h): every 200 ms or when kicked,
 *    checks its timers: route refresh (pollNameServerInterval), heartbeats
 *    (heartbeatBrokerInterval), and the role's tick (rebalance, offset
 *    persistence). Blocking calls are fine here.
 *  - callback ("comet-cb", rmq_worker.h): runs posted closures (send
 *    results) in order, never under an internal lock.
 * The route cache is shared under rlock; routes are immutable and
 * reference counted. Never block on the io thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <ifaddrs.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "comet_int.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_conn.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_mailbox.h"
#include "rmq_service.h"
#include "rmq_time.h"
#include "rmq_worker.h"

#define FAC "client"

typedef struct route_ent_s {
    char *topic;
    cm_route_t *route;
} route_ent_t;

struct cm_instance_s {
    const cm_settings_t *s;
    uint8_t serialize; /* RMQ_SERIALIZE_JSON or _ROCKETMQ for every request */
    bool sign;         /* ACL: requests are signed (accessKey and secretKey set) */
    char client_id[256];
    char **ns;
    size_t nns;
    _Atomic size_t ns_cur;

    rmq_logger_t logger; /* logLevel, log callback and opaque of this handle */

    /* io */
    struct event_base *base;
    rmq_endpoint_t *ep;
    rmq_mailbox_t *mbox;
    rmq_service_t *io;
    rmq_tls_t *tls; /* useTLS (security.c) */
    _Atomic bool io_stopped;

    /* service */
    rmq_service_t *svc;
    _Atomic bool stopping;
    _Atomic bool want_route_refresh;
    _Atomic bool want_heartbeat;
    _Atomic size_t oneway_backlog; /* unsent bytes on the last oneway connection */

    /* callback */
    rmq_worker_t *cb;

    /* routes */
    pthread_mutex_t rlock;
    route_ent_t *routes;
    size_t nroutes, routes_cap;

    cm_role_t role;
    bool has_role;
};

static _Atomic uint32_t instance_seq;

/* ---------------- helpers ---------------- */

static void split_ns(cm_instance_t *inst, const char *list)
{
    char *dup = rmq_strdup(list ? list : ""), *save = NULL;
    for (char *t = strtok_r(dup, ";, ", &save); t; t = strtok_r(NULL, ";, ", &save)) {
        inst->ns = rmq_realloc(inst->ns, (inst->nns + 1) * sizeof(char *));
        inst->ns[inst->nns++] = rmq_strdup(t);
    }
    free(dup);
}

static void local_ip(char *out, size_t n)
{
    snprintf(out, n, "127.0.0.1");
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
        if ((ntohl(a.s_addr) >> 24) == 127)
            continue;
        inet_ntop(AF_INET, &a, out, (socklen_t)n);
        break;
    }
    freeifaddrs(ifs);
}

static void cmd_copy(rmq_cmd_t *dst, const rmq_cmd_t *src)
{
    rmq_cmd_init_request(dst, src->code);
    dst->serialize = src->serialize;
    dst->language = src->language;
    dst->version = src->version;
    for (size_t i = 0; i < src->ext_n; i++)
        rmq_cmd_set_ext(dst, src->ext[i].key, src->ext[i].val);
    if (src->body_len)
        rmq_cmd_set_body(dst, src->body, src->body_len);
}

/* ---------------- io thread ---------------- */

static __thread cm_instance_t *tls_io_inst;

bool cm_instance_on_io(const cm_instance_t *inst)
{
    return tls_io_inst == inst;
}
bool cm_instance_stopping(const cm_instance_t *inst)
{
    return inst->stopping;
}

static void io_main(rmq_service_t *svc, void *arg)
{
    cm_instance_t *inst = arg;
    tls_io_inst = inst;
    event_base_loop(inst->base, EVLOOP_NO_EXIT_ON_EMPTY); /* until io_stop_task */
}

void cm_post(cm_instance_t *inst, int delay_ms, cm_task_fn_t fn, void *arg)
{
    if (delay_ms > 0)
        rmq_mailbox_post_after(inst->mbox, delay_ms, fn, arg);
    else
        rmq_mailbox_post(inst->mbox, fn, arg);
}

/* ---------------- requests ---------------- */

typedef struct req_ctx_s {
    cm_instance_t *inst;
    char *addr;
    rmq_cmd_t *req; /* or, when NULL, a frame encoded by the caller: */
    cm_frame_t frame;
    int timeout_ms;
    cm_resp_cb_t cb;
    void *arg;
    bool oneway;
} req_ctx_t;

/* Answer the request's callback (none for oneway) and free its context. */
static void req_end(req_ctx_t *rc, rmq_err_t err, rmq_cmd_t *resp)
{
    if (rc->cb)
        rc->cb(rc->inst, err, resp, rc->arg);
    free(rc->addr);
    free(rc);
}

static void req_done(rmq_conn_t *conn, rmq_err_t err, rmq_cmd_t *resp, void *arg)
{
    req_end(arg, err, err == RMQ_OK ? resp : NULL);
}

static void req_task(void *arg)
{
    req_ctx_t *rc = arg;
    rmq_err_t e;
    if (!rc->req) { /* a ready frame */
        rmq_conn_t *c = rc->inst->io_stopped ? NULL : rmq_client_conn(rc->inst->ep, rc->addr);
        e = c ? rmq_conn_request_frame(c, rc->frame.data, rc->frame.len, rc->frame.opaque, rc->timeout_ms,
                                       req_done, rc)
              : (rc->inst->io_stopped ? RMQ_ERR__DESTROY : RMQ_ERR__TRANSPORT);
        if (!c)
            free(rc->frame.data);
    } else {
        rc->req->serialize = rc->inst->serialize;
        if (rc->inst->io_stopped) {
            e = RMQ_ERR__DESTROY;
        } else if (rc->oneway) {
            rmq_conn_t *c = rmq_client_conn(rc->inst->ep, rc->addr);
            if (c) {
                rmq_conn_oneway(c, rc->req);
                rc->inst->oneway_backlog = rmq_conn_is_closed(c) ? 0 : rmq_conn_output_len(c);
            }
            e = RMQ_OK;
        } else {
            e = rmq_client_request(rc->inst->ep, rc->addr, rc->req, rc->timeout_ms, req_done, rc);
        }
        rmq_cmd_destroy(rc->req);
    }
    if (e != RMQ_OK || rc->oneway) /* else req_done ends it */
        req_end(rc, e, NULL);
}

/* A request's context, run on the I/O thread (now, when called there). */
static void req_submit(cm_instance_t *inst, const char *addr, int timeout_ms, cm_resp_cb_t cb, void *arg,
                       req_ctx_t *rc)
{
    rc->inst = inst;
    rc->addr = rmq_strdup(addr);
    rc->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    rc->cb = cb;
    rc->arg = arg;
    if (cm_instance_on_io(inst))
        req_task(rc);
    else
        cm_post(inst, 0, req_task, rc);
}

void cm_request(cm_instance_t *inst, const char *addr, rmq_cmd_t *req, int timeout_ms, cm_resp_cb_t cb,
                void *arg)
{
    req_ctx_t *rc = rmq_calloc(1, sizeof(*rc));
    rc->req = req;
    req_submit(inst, addr, timeout_ms, cb, arg, rc);
}

void cm_frame_encode(cm_instance_t *inst, rmq_cmd_t *cmd, const void *body, size_t body_len, cm_frame_t *out)
{
    cmd->serialize = inst->serialize;
    cmd->flag &= ~(RMQ_FLAG_RESPONSE | RMQ_FLAG_ONEWAY);
    cmd->opaque = rmq_conn_next_opaque();
    if (inst->sign) { /* what the I/O thread's send hook does for other requests */
        uint8_t *own = cmd->body;
        size_t own_len = cmd->body_len;
        cmd->body = (uint8_t *)body; /* borrowed for the signature */
        cmd->body_len = body_len;
        cm_security_sign(cmd, inst->s);
        cmd->body = own;
        cmd->body_len = own_len;
    }
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_buf_reserve(&b, 512 + body_len);
    rmq_cmd_encode_header(cmd, body_len, &b);
    rmq_buf_put(&b, body, body_len);
    out->opaque = cmd->opaque;
    out->data = rmq_buf_detach(&b, &out->len);
}

bool cm_instance_plain_binary(const cm_instance_t *inst)
{
    return inst->serialize == RMQ_SERIALIZE_ROCKETMQ && !inst->sign;
}

void cm_request_frame(cm_instance_t *inst, const char *addr, cm_frame_t *frame, int timeout_ms,
                      cm_resp_cb_t cb, void *arg)
{
    req_ctx_t *rc = rmq_calloc(1, sizeof(*rc));
    rc->frame = *frame;
    frame->data = NULL;
    req_submit(inst, addr, timeout_ms, cb, arg, rc);
}

void cm_oneway(cm_instance_t *inst, const char *addr, rmq_cmd_t *req)
{
    req_ctx_t *rc = rmq_calloc(1, sizeof(*rc));
    rc->req = req;
    rc->oneway = true;
    req_submit(inst, addr, 0, NULL, NULL, rc);
}

/* A blocking request's rendezvous. state goes WAITING -> DONE (the
 * callback filled err and resp) or WAITING -> ABANDONED (the caller gave up
 * and the callback frees it). The answer costs one futex wake: no mutex the
 * woken thread would have to take again behind the waker. */
enum { W_WAITING = 0, W_DONE = 1, W_ABANDONED = 2 };
typedef struct waiter_s {
    _Atomic uint32_t state;
    rmq_err_t err;
    rmq_cmd_t resp;
} waiter_t;

static void waiter_cb(cm_instance_t *inst, rmq_err_t err, rmq_cmd_t *resp, void *arg)
{
    (void)inst;
    waiter_t *w = arg;
    w->err = err;
    if (resp) {
        w->resp = *resp; /* steal */
        rmq_cmd_init(resp);
    }
    if (atomic_exchange(&w->state, W_DONE) == W_ABANDONED) {
        rmq_cmd_deinit(&w->resp);
        free(w);
        return;
    }
    /* the caller may already have seen DONE and freed w: a wake on a stale
     * address is harmless (its waits re-check their own state) */
    syscall(SYS_futex, &w->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* req (taken) or frame (taken) */
static rmq_err_t request_sync(cm_instance_t *inst, const char *addr, rmq_cmd_t *req, cm_frame_t *frame,
                              int timeout_ms, rmq_cmd_t *resp)
{
    rmq_assert(!cm_instance_on_io(inst));
    if (inst->io_stopped) {
        rmq_cmd_destroy(req);
        if (frame)
            free(frame->data);
        return RMQ_ERR__DESTROY;
    }
    waiter_t *w = rmq_calloc(1, sizeof(*w));
    rmq_cmd_init(&w->resp);
    if (frame)
        cm_request_frame(inst, addr, frame, timeout_ms, waiter_cb, w);
    else
        cm_request(inst, addr, req, timeout_ms, waiter_cb, w);
    int64_t deadline = rmq_mono_ms() + timeout_ms + 2000; /* the request has its own timeout */
    while (atomic_load(&w->state) == W_WAITING) {
        int64_t left = deadline - rmq_mono_ms();
        if (left <= 0)
            break;
        struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
        syscall(SYS_futex, &w->state, FUTEX_WAIT_PRIVATE, W_WAITING, &ts, NULL, 0);
    }
    uint32_t expect = W_WAITING;
    if (atomic_compare_exchange_strong(&w->state, &expect, W_ABANDONED))
        return RMQ_ERR__TIMED_OUT; /* the callback frees w */
    rmq_err_t e = w->err;
    if (e == RMQ_OK && resp)
        *resp = w->resp;
    else
        rmq_cmd_deinit(&w->resp);
    free(w);
    return e;
}

rmq_err_t cm_request_sync(cm_instance_t *inst, const char *addr, rmq_cmd_t *req, int timeout_ms,
                          rmq_cmd_t *resp)
{
    if (inst->io_stopped)
        return RMQ_ERR__DESTROY;
    rmq_cmd_t *copy = rmq_cmd_new();
    cmd_copy(copy, req);
    return request_sync(inst, addr, copy, NULL, timeout_ms, resp);
}

rmq_err_t cm_request_sync_owned(cm_instance_t *inst, const char *addr, rmq_cmd_t *req, int timeout_ms,
                                rmq_cmd_t *resp)
{
    return request_sync(inst, addr, req, NULL, timeout_ms, resp);
}

rmq_err_t cm_request_frame_sync(cm_instance_t *inst, const char *addr, cm_frame_t *frame, int timeout_ms,
                                rmq_cmd_t *resp)
{
    return request_sync(inst, addr, NULL, frame, timeout_ms, resp);
}

rmq_err_t cm_namesrv_request_sync(cm_instance_t *inst, rmq_cmd_t *req, int timeout_ms, rmq_cmd_t *resp)
{
    if (inst->nns == 0)
        return RMQ_ERR__NO_ROUTE;
    rmq_err_t e = RMQ_ERR__TRANSPORT;
    for (size_t i = 0; i < inst->nns; i++) {
        size_t cur = inst->ns_cur % inst->nns;
        e = cm_request_sync(inst, inst->ns[cur], req, timeout_ms, resp);
        if (e == RMQ_OK)
            return e;
        if (e == RMQ_ERR__DESTROY)
            return e;
        cm_log(inst, RMQ_LOG_WARN, FAC, "name server %s: %s; trying the next one", inst->ns[cur],
               rmq_err2str(e));
        inst->ns_cur = cur + 1;
    }
    return e;
}

/* Oneway sends get no answer, so nothing else slows a fast sender down: it
 * waits here while the connection's unsent output is above `limit`. */
typedef struct backlog_probe_s {
    cm_instance_t *inst;
    char *addr;
} backlog_probe_t;

static void probe_task(void *arg)
{
    backlog_probe_t *bp = arg;
    rmq_conn_t *c = bp->inst->io_stopped ? NULL : rmq_client_conn(bp->inst->ep, bp->addr);
    bp->inst->oneway_backlog = c && !rmq_conn_is_closed(c) ? rmq_conn_output_len(c) : 0;
    free(bp->addr);
    free(bp);
}

bool cm_oneway_wait(cm_instance_t *inst, const char *addr, size_t limit, int timeout_ms)
{
    int64_t end = rmq_mono_ms() + timeout_ms;
    while (inst->oneway_backlog > limit) {
        if (rmq_mono_ms() >= end || inst->io_stopped)
            return false;
        backlog_probe_t *bp = rmq_calloc(1, sizeof(*bp));
        bp->inst = inst;
        bp->addr = rmq_strdup(addr);
        cm_post(inst, 0, probe_task, bp);
        struct timespec ts = {0, 2 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return true;
}

/* ---------------- callback thread ---------------- */

void cm_post_callback(cm_instance_t *inst, cm_task_fn_t fn, void *arg)
{
    if (inst->cb)
        rmq_worker_post(inst->cb, fn, arg);
    else
        fn(arg); /* never started */
}

rmq_logger_t *cm_instance_logger(cm_instance_t *inst)
{
    return &inst->logger;
}

/* ---------------- routes ---------------- */

static route_ent_t *route_find(cm_instance_t *inst, const char *topic)
{
    for (size_t i = 0; i < inst->nroutes; i++)
        if (strcmp(inst->routes[i].topic, topic) == 0)
            return &inst->routes[i];
    return NULL;
}

static void route_store(cm_instance_t *inst, const char *topic, cm_route_t *r)
{
    pthread_mutex_lock(&inst->rlock);
    route_ent_t *e = route_find(inst, topic);
    if (!e) {
        inst->routes =
            rmq_array_grow(inst->routes, inst->nroutes, &inst->routes_cap, 8, sizeof(*inst->routes));
        e = &inst->routes[inst->nroutes++];
        e->topic = rmq_strdup(topic);
        e->route = NULL;
    }
    cm_route_t *old = e->route;
    e->route = r;
    pthread_mutex_unlock(&inst->rlock);
    cm_route_release(old);
}

static rmq_err_t route_query(cm_instance_t *inst, const char *topic, cm_route_t **out, char *errstr, size_t n)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, RMQ_REQ_GET_ROUTEINFO_BY_TOPIC);
    rmq_cmd_set_ext(&req, "topic", topic);
    rmq_err_t e = cm_namesrv_request_sync(inst, &req, inst->s->mqClientApiTimeout, &resp);
    rmq_cmd_deinit(&req);
    if (e != RMQ_OK) {
        char why[400] = "";
        if (e == RMQ_ERR__TRANSPORT || e == RMQ_ERR__TIMED_OUT)
            rmq_endpoint_last_error(inst->ep, why, sizeof(why));
        cm_errstr(errstr, n, "route query for %s failed: %s%s%s%s", topic, rmq_err2str(e), why[0] ? " (" : "",
                  why, why[0] ? ")" : "");
        return e;
    }
    if (resp.code != 0) {
        e = (rmq_err_t)resp.code;
        cm_errstr(errstr, n, "route for %s: %s%s%s", topic, rmq_err2name(e), resp.remark ? ": " : "",
                  resp.remark ? resp.remark : "");
        rmq_cmd_deinit(&resp);
        return e;
    }
    cm_route_t *r = cm_route_parse(topic, (const char *)resp.body, resp.body_len, errstr, n);
    rmq_cmd_deinit(&resp);
    if (!r)
        return RMQ_ERR__CORRUPT;
    *out = r;
    return RMQ_OK;
}

/* A route for `topic` built from the auto-create template's brokers
 * (MQClientInstance with isDefault=true). */
static cm_route_t *route_from_default(cm_instance_t *inst, const char *topic, char *errstr, size_t n)
{
    cm_route_t *def = NULL;
    if (route_query(inst, inst->s->createTopicKey, &def, errstr, n) != RMQ_OK)
        return NULL;
    /* re-parse is the simplest way to get a copy under the new topic */
    rmq_buf_t b;
    rmq_jw_t w;
    cm_json_body_begin(&w, &b);
    rmq_jw_key(&w, "brokerDatas");
    rmq_jw_arr_begin(&w);
    for (size_t i = 0; i < def->nbds; i++) {
        rmq_jw_obj_begin(&w);
        rmq_jw_key(&w, "brokerAddrs");
        rmq_jw_obj_begin(&w);
        for (size_t j = 0; j < def->bds[i].naddrs; j++) {
            rmq_jw_key_int(&w, def->bds[i].addrs[j].id, true);
            rmq_jw_str(&w, def->bds[i].addrs[j].addr);
        }
        rmq_jw_obj_end(&w);
        rmq_jw_kstr(&w, "brokerName", def->bds[i].broker_name);
        rmq_jw_kstr(&w, "cluster", def->bds[i].cluster);
        rmq_jw_obj_end(&w);
    }
    rmq_jw_arr_end(&w);
    rmq_jw_key(&w, "queueDatas");
    rmq_jw_arr_begin(&w);
    for (size_t i = 0; i < def->nqds; i++) {
        int q = def->qds[i].read_queue_nums < inst->s->defaultTopicQueueNums ? def->qds[i].read_queue_nums
                                                                             : inst->s->defaultTopicQueueNums;
        rmq_jw_obj_begin(&w);
        rmq_jw_kstr(&w, "brokerName", def->qds[i].broker_name);
        rmq_jw_kint(&w, "perm", def->qds[i].perm);
        rmq_jw_kint(&w, "readQueueNums", q);
        rmq_jw_kint(&w, "writeQueueNums", q);
        rmq_jw_obj_end(&w);
    }
    rmq_jw_arr_end(&w);
    rmq_jw_obj_end(&w);
    cm_route_t *r = cm_route_parse(topic, (const char *)b.data, b.len, errstr, n);
    rmq_buf_free(&b);
    cm_route_release(def);
    return r;
}

static rmq_err_t refresh_one(cm_instance_t *inst, const char *topic, char *errstr, size_t n)
{
    cm_route_t *r = NULL;
    rmq_err_t e = route_query(inst, topic, &r, errstr, n);
    if (e == RMQ_ERR_TOPIC_NOT_EXIST && inst->has_role && inst->role.producer_group &&
        !rmq_topic_is_retry(topic)) {
        r = route_from_default(inst, topic, errstr, n);
        e = r ? RMQ_OK : RMQ_ERR_TOPIC_NOT_EXIST;
    }
    if (e == RMQ_OK)
        route_store(inst, topic, r);
    return e;
}

rmq_err_t cm_route_refresh(cm_instance_t *inst, const char *topic)
{
    char err[256];
    return refresh_one(inst, topic, err, sizeof(err));
}

cm_route_t *cm_route_get(cm_instance_t *inst, const char *topic, bool fetch, rmq_err_t *err, char *errstr,
                         size_t n)
{
    pthread_mutex_lock(&inst->rlock);
    route_ent_t *e = route_find(inst, topic);
    cm_route_t *r = e ? e->route : NULL;
    if (r)
        cm_route_hold(r);
    pthread_mutex_unlock(&inst->rlock);
    if (r || !fetch) {
        if (err)
            *err = r ? RMQ_OK : RMQ_ERR__NO_ROUTE;
        return r;
    }
    rmq_err_t e2 = refresh_one(inst, topic, errstr, n);
    if (err)
        *err = e2;
    if (e2 != RMQ_OK)
        return NULL;
    return cm_route_get(inst, topic, false, err, errstr, n);
}

static bool broker_addr(cm_instance_t *inst, const char *broker, bool master_only, char *out, size_t n)
{
    bool ok = false;
    pthread_mutex_lock(&inst->rlock);
    for (size_t i = 0; i < inst->nroutes && !ok; i++) {
        const char *a = master_only ? cm_route_master_addr(inst->routes[i].route, broker)
                                    : cm_route_any_addr(inst->routes[i].route, broker);
        if (a) {
            cm_strcpy(out, n, a);
            ok = true;
        }
    }
    pthread_mutex_unlock(&inst->rlock);
    return ok;
}

bool cm_broker_master_addr(cm_instance_t *inst, const char *b, char *out, size_t n)
{
    return broker_addr(inst, b, true, out, n);
}
bool cm_broker_any_addr(cm_instance_t *inst, const char *b, char *out, size_t n)
{
    return broker_addr(inst, b, false, out, n);
}

bool cm_broker_addrs(cm_instance_t *inst, const char *broker, cm_broker_addr_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&inst->rlock);
    for (size_t i = 0; i < inst->nroutes && !*out; i++) {
        cm_route_t *r = inst->routes[i].route;
        for (size_t b = 0; b < r->nbds && !*out; b++) {
            if (strcmp(r->bds[b].broker_name, broker) != 0 || r->bds[b].naddrs == 0)
                continue;
            *out = rmq_calloc(r->bds[b].naddrs, sizeof(**out));
            for (size_t k = 0; k < r->bds[b].naddrs; k++) {
                (*out)[k].id = r->bds[b].addrs[k].id;
                (*out)[k].addr = rmq_strdup(r->bds[b].addrs[k].addr);
            }
            *n = r->bds[b].naddrs;
        }
    }
    pthread_mutex_unlock(&inst->rlock);
    return *out != NULL;
}

/* Every known broker address (masters only when masters_only). */
static size_t all_addrs(cm_instance_t *inst, bool masters_only, char ***out)
{
    char **v = NULL;
    size_t n = 0;
    pthread_mutex_lock(&inst->rlock);
    for (size_t i = 0; i < inst->nroutes; i++) {
        cm_route_t *r = inst->routes[i].route;
        for (size_t b = 0; b < r->nbds; b++)
            for (size_t a = 0; a < r->bds[b].naddrs; a++) {
                if (masters_only && r->bds[b].addrs[a].id != 0)
                    continue;
                bool dup = false;
                for (size_t k = 0; k < n && !dup; k++)
                    dup = strcmp(v[k], r->bds[b].addrs[a].addr) == 0;
                if (dup)
                    continue;
                v = rmq_realloc(v, (n + 1) * sizeof(char *));
                v[n++] = rmq_strdup(r->bds[b].addrs[a].addr);
            }
    }
    pthread_mutex_unlock(&inst->rlock);
    *out = v;
    return n;
}

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---------------- JSON bodies ---------------- */

void cm_json_body_begin(rmq_jw_t *w, rmq_buf_t *b)
{
    rmq_buf_init(b);
    rmq_jw_init(w, b);
    rmq_jw_obj_begin(w);
}

/* ---------------- heartbeats ---------------- */

void cm_heartbeat_body(cm_instance_t *inst, rmq_buf_t *b)
{
    rmq_jw_t w;
    rmq_jw_init(&w, b);
    rmq_jw_obj_begin(&w);
    rmq_jw_kstr(&w, "clientID", inst->client_id);
    rmq_jw_key(&w, "consumerDataSet");
    rmq_jw_arr_begin(&w);
    if (inst->has_role && inst->role.consumer_heartbeat)
        inst->role.consumer_heartbeat(inst->role.ctx, &w);
    rmq_jw_arr_end(&w);
    rmq_jw_key(&w, "producerDataSet");
    rmq_jw_arr_begin(&w);
    if (inst->has_role && inst->role.producer_group) {
        rmq_jw_obj_begin(&w);
        rmq_jw_kstr(&w, "groupName", inst->role.producer_group);
        rmq_jw_obj_end(&w);
    }
    rmq_jw_obj_begin(&w);
    rmq_jw_kstr(&w, "groupName", "CLIENT_INNER_PRODUCER");
    rmq_jw_obj_end(&w);
    rmq_jw_arr_end(&w);
    rmq_jw_obj_end(&w);
}

void cm_instance_heartbeat_now(cm_instance_t *inst)
{
    bool producer_only = !(inst->has_role && inst->role.consumer_heartbeat);
    char **addrs;
    size_t n = all_addrs(inst, producer_only, &addrs);
    if (n == 0) {
        free(addrs);
        return;
    }
    rmq_buf_t b;
    rmq_buf_init(&b);
    cm_heartbeat_body(inst, &b);
    /* send to all in parallel, then collect */
    for (size_t i = 0; i < n; i++) {
        rmq_cmd_t req, resp;
        rmq_cmd_init_request(&req, RMQ_REQ_HEART_BEAT);
        rmq_cmd_set_body(&req, b.data, b.len);
        rmq_err_t e = cm_request_sync(inst, addrs[i], &req, inst->s->mqClientApiTimeout, &resp);
        rmq_cmd_deinit(&req);
        if (e != RMQ_OK)
            cm_log(inst, RMQ_LOG_INFO, FAC, "heartbeat to %s failed: %s", addrs[i], rmq_err2str(e));
        else {
            if (resp.code != 0)
                cm_log(inst, RMQ_LOG_WARN, FAC, "heartbeat to %s: code %d %s", addrs[i], resp.code,
                       resp.remark ? resp.remark : "");
            rmq_cmd_deinit(&resp);
        }
    }
    rmq_buf_free(&b);
    free_strs(addrs, n);
}

/* ---------------- service thread ---------------- */

void cm_instance_kick(cm_instance_t *inst)
{
    rmq_service_wakeup(inst->svc);
}

static void refresh_all(cm_instance_t *inst)
{
    char **topics = NULL;
    size_t n = 0;
    pthread_mutex_lock(&inst->rlock);
    topics = rmq_calloc(inst->nroutes + 1, sizeof(char *));
    for (size_t i = 0; i < inst->nroutes; i++)
        topics[n++] = rmq_strdup(inst->routes[i].topic);
    pthread_mutex_unlock(&inst->rlock);
    for (size_t i = 0; i < n && !inst->stopping; i++) {
        char err[256];
        if (refresh_one(inst, topics[i], err, sizeof(err)) != RMQ_OK)
            cm_log(inst, RMQ_LOG_INFO, FAC, "%s", err);
    }
    free_strs(topics, n);
}

static void svc_main(rmq_service_t *svc, void *arg)
{
    cm_instance_t *inst = arg;
    int64_t now = rmq_mono_ms();
    int64_t next_route = now + inst->s->pollNameServerInterval;
    int64_t next_hb = now; /* at once: the role may have fetched routes already */
    bool kicked = true;
    while (!inst->stopping) {
        now = rmq_mono_ms();
        if (now >= next_route || inst->want_route_refresh) {
            inst->want_route_refresh = false;
            refresh_all(inst);
            next_route = rmq_mono_ms() + inst->s->pollNameServerInterval;
        }
        if (now >= next_hb || inst->want_heartbeat) {
            inst->want_heartbeat = false;
            cm_instance_heartbeat_now(inst);
            next_hb = rmq_mono_ms() + inst->s->heartbeatBrokerInterval;
        }
        if (inst->has_role && inst->role.on_service_tick && !inst->stopping)
            inst->role.on_service_tick(inst->role.ctx, rmq_mono_ms(), kicked);
        kicked = rmq_service_wait_for_running(svc, 200);
    }
}

void cm_instance_want_route_refresh(cm_instance_t *inst)
{
    inst->want_route_refresh = true;
}

void cm_instance_want_heartbeat(cm_instance_t *inst)
{
    if (!inst->want_heartbeat) {
        inst->want_heartbeat = true;
        cm_instance_kick(inst);
    }
}

/* ---------------- server-initiated requests ---------------- */

static void on_notify_ids_changed(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    cm_instance_t *inst = ctx;
    cm_log(inst, RMQ_LOG_INFO, FAC, "NOTIFY_CONSUMER_IDS_CHANGED from %s", rmq_conn_peer(conn));
    if (inst->has_role && inst->role.on_notify_ids_changed)
        inst->role.on_notify_ids_changed(inst->role.ctx);
    cm_instance_kick(inst);
}

static void on_check_transaction(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    cm_instance_t *inst = ctx;
    if (inst->has_role && inst->role.on_check_transaction)
        inst->role.on_check_transaction(inst->role.ctx, req, rmq_conn_peer(conn));
    else
        rmq_log(RMQ_LOG_WARN, FAC, "CHECK_TRANSACTION_STATE from %s ignored: not a producer",
                rmq_conn_peer(conn));
}

static void on_reset_offset(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    cm_instance_t *inst = ctx;
    cm_log(inst, RMQ_LOG_INFO, FAC, "RESET_CONSUMER_CLIENT_OFFSET from %s", rmq_conn_peer(conn));
    if (inst->has_role && inst->role.on_reset_offset)
        inst->role.on_reset_offset(inst->role.ctx, req);
    cm_instance_kick(inst);
}

/* ---------------- lifecycle ---------------- */

cm_instance_t *cm_instance_for_group(const comet_conf_t *conf, bool producer, char *errstr,
                                     size_t errstr_size)
{
    if (!conf) {
        cm_errstr(errstr, errstr_size, "NULL conf");
        return NULL;
    }
    const char *group = producer ? conf->s.producerGroup : conf->s.consumerGroup;
    if (!group || !*group) {
        cm_errstr(errstr, errstr_size, "%s is empty", producer ? "producerGroup" : "consumerGroup");
        return NULL;
    }
    return cm_instance_new(conf, errstr, errstr_size);
}

cm_instance_t *cm_instance_new(const comet_conf_t *conf, char *errstr, size_t errstr_size)
{
    const cm_settings_t *s = &conf->s;
    cm_instance_t *inst = rmq_calloc(1, sizeof(*inst));
    inst->s = s;
    cm_logger_init(&inst->logger, conf);
    inst->serialize = s->serializeType == CM_SERIALIZE_ROCKETMQ ? RMQ_SERIALIZE_ROCKETMQ : RMQ_SERIALIZE_JSON;
    const char *ns = s->namesrvAddr && *s->namesrvAddr ? s->namesrvAddr : getenv("NAMESRV_ADDR");
    split_ns(inst, ns);
    if (inst->nns == 0) {
        cm_errstr(errstr, errstr_size, "no name server: set namesrvAddr or NAMESRV_ADDR");
        cm_instance_destroy(inst);
        return NULL;
    }
    char ip[64];
    if (s->clientIP && *s->clientIP)
        snprintf(ip, sizeof(ip), "%s", s->clientIP);
    else
        local_ip(ip, sizeof(ip));
    char inst_name[128];
    if (!s->instanceName || !*s->instanceName || strcmp(s->instanceName, "DEFAULT") == 0)
        snprintf(inst_name, sizeof(inst_name), "%d#%lld%u", (int)getpid(), (long long)rmq_mono_us(),
                 atomic_fetch_add(&instance_seq, 1));
    else
        snprintf(inst_name, sizeof(inst_name), "%s", s->instanceName);
    if (s->unitName && *s->unitName)
        snprintf(inst->client_id, sizeof(inst->client_id), "%s@%s@%s", ip, inst_name, s->unitName);
    else
        snprintf(inst->client_id, sizeof(inst->client_id), "%s@%s", ip, inst_name);
    pthread_mutex_init(&inst->rlock, NULL);
    inst->io = rmq_service_new("comet-io", io_main, inst);
    rmq_service_set_logger(inst->io, &inst->logger);
    inst->svc = rmq_service_new("comet-svc", svc_main, inst);
    rmq_service_set_logger(inst->svc, &inst->logger);
    inst->base = rmq_loop_base_new();
    if (!inst->base) {
        cm_errstr(errstr, errstr_size, "event_base_new failed");
        cm_instance_destroy(inst);
        return NULL;
    }
    rmq_endpoint_opts_t o;
    rmq_endpoint_opts_default(&o);
    o.name = "client";
    o.connect_timeout_ms = 3000;
    if (!cm_security_setup(s, &o, &inst->tls, errstr, errstr_size)) {
        cm_instance_destroy(inst);
        return NULL;
    }
    inst->ep = rmq_client_new(inst->base, &o);
    inst->sign = cm_security_install(inst->ep, s);
    rmq_endpoint_set_handler(inst->ep, RMQ_REQ_NOTIFY_CONSUMER_IDS_CHANGED, on_notify_ids_changed, inst);
    rmq_endpoint_set_handler(inst->ep, RMQ_REQ_RESET_CONSUMER_CLIENT_OFFSET, on_reset_offset, inst);
    rmq_endpoint_set_handler(inst->ep, RMQ_REQ_CHECK_TRANSACTION_STATE, on_check_transaction, inst);
    inst->mbox = rmq_mailbox_new(inst->base);
    return inst;
}

void cm_instance_set_role(cm_instance_t *inst, const cm_role_t *role)
{
    inst->role = *role;
    inst->has_role = true;
}

const char *cm_instance_client_id(const cm_instance_t *inst)
{
    return inst->client_id;
}
const cm_settings_t *cm_instance_settings(const cm_instance_t *inst)
{
    return inst->s;
}

rmq_err_t cm_instance_start(cm_instance_t *inst, char *errstr, size_t errstr_size)
{
    rmq_logger_t *prev = rmq_log_use(&inst->logger); /* an application thread */
    rmq_err_t e = rmq_service_start(inst->io);
    if (e == RMQ_OK && !(inst->cb = rmq_worker_start("comet-cb", &inst->logger)))
        e = RMQ_ERR__IO;
    if (e == RMQ_OK)
        e = rmq_service_start(inst->svc);
    if (e != RMQ_OK)
        cm_errstr(errstr, errstr_size, "cannot start the client threads");
    rmq_log_use(prev);
    return e;
}

static void io_stop_task(void *arg)
{
    cm_instance_t *inst = arg;
    inst->io_stopped = true;
    rmq_endpoint_destroy(inst->ep); /* fails pending requests with _DESTROY */
    inst->ep = NULL;
    event_base_loopbreak(inst->base);
}

void cm_instance_stop(cm_instance_t *inst, const char *producer_group, const char *consumer_group)
{
    if (!inst)
        return;
    inst->stopping = true;
    rmq_service_stop(inst->svc);
    if (rmq_service_started(inst->io) && !inst->io_stopped) {
        /* clean unregistration */
        char **addrs;
        size_t n = all_addrs(inst, false, &addrs);
        for (size_t i = 0; i < n; i++) {
            rmq_cmd_t req, resp;
            rmq_cmd_init_request(&req, RMQ_REQ_UNREGISTER_CLIENT);
            rmq_cmd_set_ext(&req, "clientID", inst->client_id);
            if (producer_group)
                rmq_cmd_set_ext(&req, "producerGroup", producer_group);
            if (consumer_group)
                rmq_cmd_set_ext(&req, "consumerGroup", consumer_group);
            if (cm_request_sync(inst, addrs[i], &req, 1000, &resp) == RMQ_OK)
                rmq_cmd_deinit(&resp);
            rmq_cmd_deinit(&req);
        }
        free_strs(addrs, n);
        cm_post(inst, 0, io_stop_task, inst);
    }
    rmq_service_stop(inst->io); /* joins once io_stop_task broke the loop */
    inst->io_stopped = true;
    if (inst->cb)
        rmq_worker_stop(inst->cb); /* later results run on the posting thread */
}

void cm_instance_destroy(cm_instance_t *inst)
{
    if (!inst)
        return;
    cm_instance_stop(inst, NULL, NULL);
    /* tasks that never ran (also delayed ones) run now: requests see _DESTROY */
    rmq_mailbox_free(inst->mbox);
    rmq_worker_free(inst->cb);
    rmq_service_free(inst->svc);
    rmq_service_free(inst->io);
    if (inst->ep)
        rmq_endpoint_destroy(inst->ep);
    rmq_tls_free(inst->tls);
    if (inst->base)
        event_base_free(inst->base);
    for (size_t i = 0; i < inst->nroutes; i++) {
        free(inst->routes[i].topic);
        cm_route_release(inst->routes[i].route);
    }
    free(inst->routes);
    for (size_t i = 0; i < inst->nns; i++)
        free(inst->ns[i]);
    free(inst->ns);
    pthread_mutex_destroy(&inst->rlock);
    free(inst);
}
