/* instance.c - MQClientInstance: the threads of one client handle, the
 * request primitives every other file uses, the route cache, heartbeats,
 * name-server failover and clean unregistration.
 *
 * Threads:
 *  - io: owns the event_base and the remoting endpoint (all connections).
 *    Other threads hand it work through a mutex-protected task list plus
 *    event_active() on a notify event. Response callbacks run here.
 *  - service: every ~100-500 ms checks its timers: route refresh
 *    (pollNameServerInterval), heartbeats (heartbeatBrokerInterval), and the
 *    role's tick (rebalance, offset persistence). Blocking calls are fine here.
 *  - callback: runs posted closures (send results) in order, never under an
 *    internal lock.
 * The route cache is shared under rlock; routes are immutable and
 * reference counted. Never block on the io thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "comet_int.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_conn.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_time.h"

#define FAC "client"

typedef struct task_s {
    cm_task_fn_t fn;
    void *arg;
    int delay_ms;
    cm_instance_t *inst;
    struct task_s *next;
} task_t;

typedef struct route_ent_s {
    char *topic;
    cm_route_t *route;
} route_ent_t;

struct cm_instance_s {
    const cm_settings_t *s;
    uint8_t serialize; /* RMQ_SERIALIZE_JSON or _ROCKETMQ for every request */
    char client_id[256];
    char **ns;
    size_t nns;
    _Atomic size_t ns_cur;

    /* io */
    struct event_base *base;
    rmq_endpoint_t *ep;
    struct event *notify;
    pthread_t io_thread;
    bool io_started;
    pthread_mutex_t qlock;
    task_t *qhead, *qtail;
    bool notify_pending; /* event_active already called for the queued tasks */
    _Atomic bool io_stopped;

    /* service */
    pthread_t svc_thread;
    bool svc_started;
    pthread_mutex_t svc_lock;
    pthread_cond_t svc_cond;
    bool svc_kick;
    _Atomic bool stopping;
    _Atomic bool want_route_refresh;
    _Atomic bool want_heartbeat;
    _Atomic size_t oneway_backlog; /* unsent bytes on the last oneway connection */

    /* callback */
    pthread_t cb_thread;
    bool cb_started;
    pthread_mutex_t cb_lock;
    pthread_cond_t cb_cond;
    task_t *cb_head, *cb_tail;
    bool cb_stop;

    /* routes */
    pthread_mutex_t rlock;
    route_ent_t *routes;
    size_t nroutes, routes_cap;

    cm_role_t role;
    bool has_role;
};

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static void evthread_init(void)
{
    evthread_use_pthreads();
}
static _Atomic uint32_t instance_seq;

/* ---------------- helpers ---------------- */

static void split_ns(cm_instance_t *inst, const char *list)
{
    char *dup = strdup(list ? list : ""), *save = NULL;
    for (char *t = strtok_r(dup, ";, ", &save); t; t = strtok_r(NULL, ";, ", &save)) {
        inst->ns = realloc(inst->ns, (inst->nns + 1) * sizeof(char *));
        inst->ns[inst->nns++] = strdup(t);
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

static void run_task(evutil_socket_t fd, short what, void *arg)
{
    task_t *t = arg;
    t->fn(t->arg);
    free(t);
}

static void notify_cb(evutil_socket_t fd, short what, void *arg)
{
    cm_instance_t *inst = arg;
    pthread_mutex_lock(&inst->qlock);
    task_t *t = inst->qhead;
    inst->qhead = inst->qtail = NULL;
    inst->notify_pending = false;
    pthread_mutex_unlock(&inst->qlock);
    while (t) {
        task_t *next = t->next;
        if (t->delay_ms > 0) {
            struct timeval tv = {t->delay_ms / 1000, (t->delay_ms % 1000) * 1000};
            t->delay_ms = 0;
            event_base_once(inst->base, -1, EV_TIMEOUT, run_task, t, &tv);
        } else {
            t->fn(t->arg);
            free(t);
        }
        t = next;
    }
}

static __thread cm_instance_t *tls_io_inst;

bool cm_instance_on_io(const cm_instance_t *inst)
{
    return tls_io_inst == inst;
}
bool cm_instance_stopping(const cm_instance_t *inst)
{
    return inst->stopping;
}

static void *io_main(void *arg)
{
    cm_instance_t *inst = arg;
    tls_io_inst = inst;
    rmq_log_set_thread_name("comet-io");
    event_base_loop(inst->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

void cm_post(cm_instance_t *inst, int delay_ms, cm_task_fn_t fn, void *arg)
{
    task_t *t = calloc(1, sizeof(*t));
    t->fn = fn;
    t->arg = arg;
    t->delay_ms = delay_ms;
    t->inst = inst;
    pthread_mutex_lock(&inst->qlock);
    if (inst->qtail)
        inst->qtail->next = t;
    else
        inst->qhead = t;
    inst->qtail = t;
    bool wake = !inst->notify_pending; /* one wake-up per batch of tasks */
    inst->notify_pending = true;
    pthread_mutex_unlock(&inst->qlock);
    if (wake)
        event_active(inst->notify, EV_READ, 0);
}

/* ---------------- requests ---------------- */

typedef struct req_ctx_s {
    cm_instance_t *inst;
    char *addr;
    rmq_cmd_t *req;
    int timeout_ms;
    cm_resp_cb_t cb;
    void *arg;
    bool oneway;
} req_ctx_t;

static void req_done(rmq_conn_t *conn, rmq_err_t err, rmq_cmd_t *resp, void *arg)
{
    req_ctx_t *rc = arg;
    rc->cb(rc->inst, err, err == RMQ_OK ? resp : NULL, rc->arg);
    free(rc->addr);
    free(rc);
}

static void req_task(void *arg)
{
    req_ctx_t *rc = arg;
    rc->req->serialize = rc->inst->serialize;
    if (rc->inst->io_stopped) {
        if (!rc->oneway)
            rc->cb(rc->inst, RMQ_ERR__DESTROY, NULL, rc->arg);
        goto done;
    }
    if (rc->oneway) {
        rmq_conn_t *c = rmq_client_conn(rc->inst->ep, rc->addr);
        if (c) {
            rmq_conn_oneway(c, rc->req);
            rc->inst->oneway_backlog = rmq_conn_is_closed(c) ? 0 : rmq_conn_output_len(c);
        }
        goto done;
    }
    rmq_err_t e = rmq_client_request(rc->inst->ep, rc->addr, rc->req, rc->timeout_ms, req_done, rc);
    rmq_cmd_destroy(rc->req);
    if (e != RMQ_OK) {
        rc->cb(rc->inst, e, NULL, rc->arg);
        free(rc->addr);
        free(rc);
    }
    return;
done:
    rmq_cmd_destroy(rc->req);
    free(rc->addr);
    free(rc);
}

void cm_request(cm_instance_t *inst, const char *addr, rmq_cmd_t *req, int timeout_ms, cm_resp_cb_t cb,
                void *arg)
{
    req_ctx_t *rc = calloc(1, sizeof(*rc));
    rc->inst = inst;
    rc->addr = strdup(addr);
    rc->req = req;
    rc->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    rc->cb = cb;
    rc->arg = arg;
    if (cm_instance_on_io(inst))
        req_task(rc);
    else
        cm_post(inst, 0, req_task, rc);
}

void cm_oneway(cm_instance_t *inst, const char *addr, rmq_cmd_t *req)
{
    req_ctx_t *rc = calloc(1, sizeof(*rc));
    rc->inst = inst;
    rc->addr = strdup(addr);
    rc->req = req;
    rc->oneway = true;
    if (cm_instance_on_io(inst))
        req_task(rc);
    else
        cm_post(inst, 0, req_task, rc);
}

typedef struct waiter_s {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done;
    bool abandoned;
    rmq_err_t err;
    rmq_cmd_t resp;
} waiter_t;

static void waiter_cb(cm_instance_t *inst, rmq_err_t err, rmq_cmd_t *resp, void *arg)
{
    waiter_t *w = arg;
    pthread_mutex_lock(&w->m);
    if (w->abandoned) {
        pthread_mutex_unlock(&w->m);
        pthread_mutex_destroy(&w->m);
        pthread_cond_destroy(&w->c);
        free(w);
        return;
    }
    w->err = err;
    if (resp) {
        w->resp = *resp; /* steal */
        rmq_cmd_init(resp);
    }
    w->done = true;
    pthread_cond_signal(&w->c);
    pthread_mutex_unlock(&w->m);
}

rmq_err_t cm_request_sync(cm_instance_t *inst, const char *addr, rmq_cmd_t *req, int timeout_ms,
                          rmq_cmd_t *resp)
{
    rmq_assert(!cm_instance_on_io(inst));
    if (inst->io_stopped)
        return RMQ_ERR__DESTROY;
    waiter_t *w = calloc(1, sizeof(*w));
    pthread_mutex_init(&w->m, NULL);
    pthread_cond_init(&w->c, NULL);
    rmq_cmd_init(&w->resp);
    rmq_cmd_t *copy = rmq_cmd_new();
    cmd_copy(copy, req);
    cm_request(inst, addr, copy, timeout_ms, waiter_cb, w);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    int64_t ns = (int64_t)dl.tv_nsec + (int64_t)(timeout_ms + 2000) * 1000000;
    dl.tv_sec += ns / 1000000000;
    dl.tv_nsec = ns % 1000000000;
    pthread_mutex_lock(&w->m);
    while (!w->done) {
        if (pthread_cond_timedwait(&w->c, &w->m, &dl) == ETIMEDOUT)
            break;
    }
    if (!w->done) {
        w->abandoned = true; /* the callback frees it */
        pthread_mutex_unlock(&w->m);
        return RMQ_ERR__TIMED_OUT;
    }
    pthread_mutex_unlock(&w->m);
    rmq_err_t e = w->err;
    if (e == RMQ_OK && resp)
        *resp = w->resp;
    else
        rmq_cmd_deinit(&w->resp);
    pthread_mutex_destroy(&w->m);
    pthread_cond_destroy(&w->c);
    free(w);
    return e;
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
        rmq_log(RMQ_LOG_WARN, FAC, "name server %s: %s; trying the next one", inst->ns[cur], rmq_err2str(e));
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
        backlog_probe_t *bp = calloc(1, sizeof(*bp));
        bp->inst = inst;
        bp->addr = strdup(addr);
        cm_post(inst, 0, probe_task, bp);
        struct timespec ts = {0, 2 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return true;
}

/* ---------------- callback thread ---------------- */

void cm_post_callback(cm_instance_t *inst, cm_task_fn_t fn, void *arg)
{
    pthread_mutex_lock(&inst->cb_lock);
    bool gone = inst->cb_stop && !inst->cb_started;
    pthread_mutex_unlock(&inst->cb_lock);
    if (gone) { /* destroy: report on the destroying thread rather than never */
        fn(arg);
        return;
    }
    task_t *t = calloc(1, sizeof(*t));
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_lock(&inst->cb_lock);
    if (inst->cb_tail)
        inst->cb_tail->next = t;
    else
        inst->cb_head = t;
    inst->cb_tail = t;
    pthread_cond_signal(&inst->cb_cond);
    pthread_mutex_unlock(&inst->cb_lock);
}

static void *cb_main(void *arg)
{
    cm_instance_t *inst = arg;
    rmq_log_set_thread_name("comet-cb");
    pthread_mutex_lock(&inst->cb_lock);
    for (;;) {
        while (!inst->cb_head && !inst->cb_stop)
            pthread_cond_wait(&inst->cb_cond, &inst->cb_lock);
        if (!inst->cb_head && inst->cb_stop)
            break;
        task_t *t = inst->cb_head;
        inst->cb_head = t->next;
        if (!inst->cb_head)
            inst->cb_tail = NULL;
        pthread_mutex_unlock(&inst->cb_lock);
        t->fn(t->arg);
        free(t);
        pthread_mutex_lock(&inst->cb_lock);
    }
    pthread_mutex_unlock(&inst->cb_lock);
    return NULL;
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
        if (inst->nroutes == inst->routes_cap) {
            inst->routes_cap = inst->routes_cap ? inst->routes_cap * 2 : 8;
            inst->routes = realloc(inst->routes, inst->routes_cap * sizeof(*inst->routes));
        }
        e = &inst->routes[inst->nroutes++];
        e->topic = strdup(topic);
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
        cm_errstr(errstr, n, "route query for %s failed: %s", topic, rmq_err2str(e));
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
    rmq_buf_init(&b);
    rmq_jw_t w;
    rmq_jw_init(&w, &b);
    rmq_jw_obj_begin(&w);
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
        strncmp(topic, "%RETRY%", 7)) {
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
            snprintf(out, n, "%s", a);
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
                v = realloc(v, (n + 1) * sizeof(char *));
                v[n++] = strdup(r->bds[b].addrs[a].addr);
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
            rmq_log(RMQ_LOG_INFO, FAC, "heartbeat to %s failed: %s", addrs[i], rmq_err2str(e));
        else {
            if (resp.code != 0)
                rmq_log(RMQ_LOG_WARN, FAC, "heartbeat to %s: code %d %s", addrs[i], resp.code,
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
    pthread_mutex_lock(&inst->svc_lock);
    inst->svc_kick = true;
    pthread_cond_signal(&inst->svc_cond);
    pthread_mutex_unlock(&inst->svc_lock);
}

static void refresh_all(cm_instance_t *inst)
{
    char **topics = NULL;
    size_t n = 0;
    pthread_mutex_lock(&inst->rlock);
    topics = calloc(inst->nroutes + 1, sizeof(char *));
    for (size_t i = 0; i < inst->nroutes; i++)
        topics[n++] = strdup(inst->routes[i].topic);
    pthread_mutex_unlock(&inst->rlock);
    for (size_t i = 0; i < n && !inst->stopping; i++) {
        char err[256];
        if (refresh_one(inst, topics[i], err, sizeof(err)) != RMQ_OK)
            rmq_log(RMQ_LOG_INFO, FAC, "%s", err);
    }
    free_strs(topics, n);
}

static void *svc_main(void *arg)
{
    cm_instance_t *inst = arg;
    rmq_log_set_thread_name("comet-svc");
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
        pthread_mutex_lock(&inst->svc_lock);
        if (!inst->svc_kick && !inst->stopping) {
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_nsec += 200 * 1000000L;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&inst->svc_cond, &inst->svc_lock, &dl);
        }
        kicked = inst->svc_kick;
        inst->svc_kick = false;
        pthread_mutex_unlock(&inst->svc_lock);
    }
    return NULL;
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
    rmq_log(RMQ_LOG_INFO, FAC, "NOTIFY_CONSUMER_IDS_CHANGED from %s", rmq_conn_peer(conn));
    if (inst->has_role && inst->role.on_notify_ids_changed)
        inst->role.on_notify_ids_changed(inst->role.ctx);
    cm_instance_kick(inst);
}

static void on_reset_offset(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    cm_instance_t *inst = ctx;
    rmq_log(RMQ_LOG_INFO, FAC, "RESET_CONSUMER_CLIENT_OFFSET from %s", rmq_conn_peer(conn));
    if (inst->has_role && inst->role.on_reset_offset)
        inst->role.on_reset_offset(inst->role.ctx, req);
    cm_instance_kick(inst);
}

/* ---------------- lifecycle ---------------- */

cm_instance_t *cm_instance_new(const cm_settings_t *s, char *errstr, size_t errstr_size)
{
    pthread_once(&evthread_once, evthread_init);
    cm_instance_t *inst = calloc(1, sizeof(*inst));
    if (!inst) {
        cm_errstr(errstr, errstr_size, "out of memory");
        return NULL;
    }
    inst->s = s;
    inst->serialize = s->serializeType && strcmp(s->serializeType, "ROCKETMQ") == 0 ? RMQ_SERIALIZE_ROCKETMQ
                                                                                    : RMQ_SERIALIZE_JSON;
    const char *ns = s->namesrvAddr && *s->namesrvAddr ? s->namesrvAddr : getenv("NAMESRV_ADDR");
    split_ns(inst, ns);
    if (inst->nns == 0) {
        cm_errstr(errstr, errstr_size, "no name server: set namesrvAddr or NAMESRV_ADDR");
        free(inst);
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
    pthread_mutex_init(&inst->qlock, NULL);
    pthread_mutex_init(&inst->svc_lock, NULL);
    pthread_cond_init(&inst->svc_cond, NULL);
    pthread_mutex_init(&inst->cb_lock, NULL);
    pthread_cond_init(&inst->cb_cond, NULL);
    pthread_mutex_init(&inst->rlock, NULL);
    inst->base = event_base_new();
    if (!inst->base) {
        cm_errstr(errstr, errstr_size, "event_base_new failed");
        cm_instance_destroy(inst);
        return NULL;
    }
    rmq_endpoint_opts_t o;
    rmq_endpoint_opts_default(&o);
    o.name = "client";
    o.connect_timeout_ms = 3000;
    inst->ep = rmq_client_new(inst->base, &o);
    rmq_endpoint_set_handler(inst->ep, RMQ_REQ_NOTIFY_CONSUMER_IDS_CHANGED, on_notify_ids_changed, inst);
    rmq_endpoint_set_handler(inst->ep, RMQ_REQ_RESET_CONSUMER_CLIENT_OFFSET, on_reset_offset, inst);
    inst->notify = event_new(inst->base, -1, EV_PERSIST | EV_READ, notify_cb, inst);
    event_add(inst->notify, NULL);
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
    if (pthread_create(&inst->io_thread, NULL, io_main, inst) != 0) {
        cm_errstr(errstr, errstr_size, "pthread_create failed");
        return RMQ_ERR__IO;
    }
    inst->io_started = true;
    if (pthread_create(&inst->cb_thread, NULL, cb_main, inst) != 0) {
        cm_errstr(errstr, errstr_size, "pthread_create failed");
        return RMQ_ERR__IO;
    }
    inst->cb_started = true;
    if (pthread_create(&inst->svc_thread, NULL, svc_main, inst) != 0) {
        cm_errstr(errstr, errstr_size, "pthread_create failed");
        return RMQ_ERR__IO;
    }
    inst->svc_started = true;
    return RMQ_OK;
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
    if (inst->svc_started) {
        cm_instance_kick(inst);
        pthread_join(inst->svc_thread, NULL);
        inst->svc_started = false;
    }
    if (inst->io_started && !inst->io_stopped) {
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
    if (inst->io_started) {
        pthread_join(inst->io_thread, NULL);
        inst->io_started = false;
    }
    inst->io_stopped = true;
    if (inst->cb_started) {
        pthread_mutex_lock(&inst->cb_lock);
        inst->cb_stop = true;
        pthread_cond_signal(&inst->cb_cond);
        pthread_mutex_unlock(&inst->cb_lock);
        pthread_join(inst->cb_thread, NULL);
        pthread_mutex_lock(&inst->cb_lock);
        inst->cb_started = false;
        pthread_mutex_unlock(&inst->cb_lock);
    }
}

void cm_instance_destroy(cm_instance_t *inst)
{
    if (!inst)
        return;
    cm_instance_stop(inst, NULL, NULL);
    /* tasks that never ran: run them now so requests see _DESTROY */
    pthread_mutex_lock(&inst->qlock);
    task_t *t = inst->qhead;
    inst->qhead = inst->qtail = NULL;
    pthread_mutex_unlock(&inst->qlock);
    while (t) {
        task_t *next = t->next;
        t->fn(t->arg);
        free(t);
        t = next;
    }
    /* results posted while the callback thread was exiting */
    pthread_mutex_lock(&inst->cb_lock);
    task_t *cbt = inst->cb_head;
    inst->cb_head = inst->cb_tail = NULL;
    pthread_mutex_unlock(&inst->cb_lock);
    while (cbt) {
        task_t *next = cbt->next;
        cbt->fn(cbt->arg);
        free(cbt);
        cbt = next;
    }
    if (inst->ep)
        rmq_endpoint_destroy(inst->ep);
    if (inst->notify)
        event_free(inst->notify);
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
    pthread_mutex_destroy(&inst->qlock);
    pthread_mutex_destroy(&inst->svc_lock);
    pthread_cond_destroy(&inst->svc_cond);
    pthread_mutex_destroy(&inst->cb_lock);
    pthread_cond_destroy(&inst->cb_cond);
    pthread_mutex_destroy(&inst->rlock);
    free(inst);
}
