/* broker.c - the broker controller: boot (config, store, metadata, ports,
 * timers, registration), the cross-thread mailbox, metadata persistence
 * hooks, shared request helpers, and clean shutdown (unregister, answer or
 * drop parked requests, flush, snapshot, remove `abort`).
 * Thread: main builds everything, then the same thread becomes the io
 * thread by running the event loop. Store threads only reach it through
 * rmq_broker_post().
 * Never: fsync / create / unlink files from an event callback (snapshots go
 * to the writer thread; the final snapshot is written after the loop ends). */
#include "broker.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_mgr.h"
#include "namesrv_api.h"
#include "pull_hold.h"
#include "rmq_alloc.h"
#include "rmq_log.h"
#include "rmq_time.h"

typedef struct mbox_item_s {
    rmq_broker_job_fn *fn;
    void *arg;
    struct mbox_item_s *next;
} mbox_item_t;

/* ---------- mailbox ---------- */

void rmq_broker_post(rmq_broker_t *b, rmq_broker_job_fn *fn, void *arg)
{
    mbox_item_t *it = rmq_malloc(sizeof(*it));
    it->fn = fn;
    it->arg = arg;
    it->next = NULL;
    pthread_mutex_lock(&b->mbox_mu);
    if (b->mbox_tail)
        b->mbox_tail->next = it;
    else
        b->mbox_head = it;
    b->mbox_tail = it;
    struct event *ev = b->mbox_ev;
    pthread_mutex_unlock(&b->mbox_mu);
    if (ev)
        event_active(ev, EV_READ, 0);
}

static void mbox_drain(rmq_broker_t *b)
{
    for (;;) {
        pthread_mutex_lock(&b->mbox_mu);
        mbox_item_t *it = b->mbox_head;
        b->mbox_head = b->mbox_tail = NULL;
        pthread_mutex_unlock(&b->mbox_mu);
        if (!it)
            return;
        while (it) {
            mbox_item_t *next = it->next;
            it->fn(b, it->arg);
            free(it);
            it = next;
        }
    }
}

static void mbox_cb(evutil_socket_t fd, short what, void *arg)
{
    mbox_drain(arg);
}

/* ---------- helpers used by processors ---------- */

void rmq_broker_resp(rmq_cmd_t *resp, const rmq_cmd_t *req, int code, const char *remark)
{
    rmq_cmd_init_response(resp, req, code, NULL);
    if (remark)
        rmq_cmd_set_remark(resp, "%s", remark);
    resp->version = RMQ_VERSION_CURRENT;
    resp->language = RMQ_LANG_JAVA;
}

void rmq_broker_reply_ok(rmq_conn_t *conn, const rmq_cmd_t *req)
{
    rmq_cmd_t resp;
    rmq_broker_resp(&resp, req, RMQ_OK, NULL);
    rmq_conn_reply(conn, req, &resp);
    rmq_cmd_deinit(&resp);
}

void rmq_broker_reply_err(rmq_conn_t *conn, const rmq_cmd_t *req, int code, const char *fmt, ...)
{
    char remark[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(remark, sizeof(remark), fmt, ap);
    va_end(ap);
    if (code != RMQ_OK)
        rmq_log(RMQ_LOG_DEBUG, "broker", "%s: request %d answered %s: %s", rmq_conn_peer(conn), req->code,
                rmq_err2name(code), remark);
    rmq_cmd_t resp;
    rmq_broker_resp(&resp, req, code, remark);
    rmq_conn_reply(conn, req, &resp);
    rmq_cmd_deinit(&resp);
}

bool rmq_req_str(rmq_conn_t *conn, const rmq_cmd_t *req, const char *name, const char **out)
{
    *out = rmq_cmd_ext(req, name);
    if (*out)
        return true;
    rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "the custom field <%s> is null", name);
    return false;
}

static bool req_num(rmq_conn_t *conn, const rmq_cmd_t *req, const char *name, bool required, int64_t def,
                    int64_t *out, bool is32)
{
    rmq_err_t r = rmq_cmd_ext_i64(req, name, out);
    if (r == RMQ_OK && is32 && (*out < INT32_MIN || *out > INT32_MAX))
        r = RMQ_ERR__INVALID_ARG;
    if (r == RMQ_OK)
        return true;
    if (r == RMQ_ERR__NOENT && !required) {
        *out = def;
        return true;
    }
    rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR,
                         r == RMQ_ERR__NOENT ? "the custom field <%s> is null"
                                             : "the custom field <%s> is not a number",
                         name);
    return false;
}

bool rmq_req_i32(rmq_conn_t *conn, const rmq_cmd_t *req, const char *name, int32_t *out)
{
    int64_t v;
    if (!req_num(conn, req, name, true, 0, &v, true))
        return false;
    *out = (int32_t)v;
    return true;
}

bool rmq_req_i64(rmq_conn_t *conn, const rmq_cmd_t *req, const char *name, int64_t *out)
{
    return req_num(conn, req, name, true, 0, out, false);
}

bool rmq_req_opt_i32(rmq_conn_t *conn, const rmq_cmd_t *req, const char *name, int32_t def, int32_t *out)
{
    int64_t v;
    if (!req_num(conn, req, name, false, def, &v, true))
        return false;
    *out = (int32_t)v;
    return true;
}

bool rmq_req_opt_i64(rmq_conn_t *conn, const rmq_cmd_t *req, const char *name, int64_t def, int64_t *out)
{
    return req_num(conn, req, name, false, def, out, false);
}

bool rmq_req_opt_bool(rmq_conn_t *conn, const rmq_cmd_t *req, const char *name, bool def, bool *out)
{
    rmq_err_t r = rmq_cmd_ext_bool(req, name, out);
    if (r == RMQ_OK)
        return true;
    if (r == RMQ_ERR__NOENT) {
        *out = def;
        return true;
    }
    rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "the custom field <%s> is not a boolean", name);
    return false;
}

const char *rmq_topic_name_invalid(const char *topic, char *buf, size_t n)
{
    if (!topic || !*topic) {
        snprintf(buf, n, "The specified topic is blank.");
        return buf;
    }
    size_t len = strlen(topic);
    if (len > RMQ_MSG_MAX_TOPIC_LEN) {
        snprintf(buf, n, "The specified topic is longer than topic max length %d.", RMQ_MSG_MAX_TOPIC_LEN);
        return buf;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)topic[i];
        if (!(isalnum(c) || c == '%' || c == '|' || c == '_' || c == '-')) {
            snprintf(buf, n,
                     "The specified topic[%s] contains illegal characters, allowing only ^[%%|a-zA-Z0-9_-]+$",
                     topic);
            return buf;
        }
    }
    return NULL;
}

void rmq_broker_peer_host(const rmq_conn_t *conn, rmq_msg_host_t *h)
{
    memset(h, 0, sizeof(*h));
    const struct sockaddr_storage *ss = rmq_conn_peer_addr(conn);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        memcpy(h->addr, &s->sin_addr, 4);
        h->port = ntohs(s->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
            memcpy(h->addr, &s->sin6_addr.s6_addr[12], 4);
        } else {
            h->v6 = 1;
            memcpy(h->addr, &s->sin6_addr, 16);
        }
        h->port = ntohs(s->sin6_port);
    } else {
        h->addr[0] = 127;
        h->addr[3] = 1;
    }
}

/* ---------- metadata ---------- */

static void path_of(rmq_broker_t *b, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", b->config_dir, name);
}

static void submit(rmq_broker_t *b, const char *name, rmq_buf_t *payload)
{
    char path[4200];
    path_of(b, name, path, sizeof(path));
    size_t len = payload->len;
    uint8_t *data = rmq_buf_detach(payload, NULL);
    if (b->snap)
        rmq_snapshot_writer_submit(b->snap, path, data, len);
    else {
        rmq_snapshot_write(path, data, len);
        free(data);
    }
}

void rmq_broker_persist_topics(rmq_broker_t *b)
{
    rmq_buf_t p;
    rmq_buf_init(&p);
    rmq_topic_mgr_pack(&b->topics, &p);
    submit(b, "topics.msgpack", &p);
}

void rmq_broker_persist_groups(rmq_broker_t *b)
{
    rmq_buf_t p;
    rmq_buf_init(&p);
    rmq_sub_group_mgr_pack(&b->groups, &p);
    submit(b, "subscriptionGroup.msgpack", &p);
}

void rmq_broker_persist_offsets(rmq_broker_t *b)
{
    rmq_buf_t p;
    rmq_buf_init(&p);
    rmq_offset_mgr_pack(&b->offsets, &p);
    b->offsets.dirty = false;
    submit(b, "consumerOffset.msgpack", &p);
}

void rmq_broker_persist_delay_offsets(rmq_broker_t *b)
{
    if (!b->schedule)
        return;
    rmq_buf_t p;
    rmq_buf_init(&p);
    rmq_schedule_pack(b->schedule, &p);
    b->schedule->dirty = b->schedule->has_cand; /* a checkpoint still waits for the flush */
    submit(b, "delayOffset.msgpack", &p);
}

void rmq_broker_topics_changed(rmq_broker_t *b)
{
    rmq_broker_persist_topics(b);
    if (b->ns)
        rmq_namesrv_api_register_all(b->ns);
}

rmq_sub_group_t *rmq_broker_get_group(rmq_broker_t *b, const char *group)
{
    rmq_sub_group_t *g = rmq_sub_group_get(&b->groups, group);
    if (g || !b->conf.autoCreateSubscriptionGroup || !group || !*group)
        return g;
    rmq_sub_group_t n;
    rmq_sub_group_defaults(&n, group);
    g = rmq_sub_group_put(&b->groups, &n);
    rmq_log(RMQ_LOG_INFO, "broker", "auto-created subscription group %s", group);
    rmq_broker_persist_groups(b);
    return g;
}

rmq_topic_config_t *rmq_broker_ensure_retry_topic(rmq_broker_t *b, const char *group, int queues)
{
    char name[300];
    snprintf(name, sizeof(name), "%s%s", RMQ_RETRY_PREFIX, group);
    rmq_topic_config_t *tc = rmq_topic_get(&b->topics, name);
    if (tc)
        return tc;
    rmq_topic_config_t n = {
        name, queues > 0 ? queues : 1, queues > 0 ? queues : 1, RMQ_PERM_READ | RMQ_PERM_WRITE, 0, 0, false};
    tc = rmq_topic_put(&b->topics, &n);
    rmq_broker_topics_changed(b);
    return tc;
}

/* Load one metadata file: msgpack snapshot, else RocketMQ's JSON (imported
 * once). Runs on main before the loop. */
static rmq_err_t load_meta(rmq_broker_t *b, const char *mp_name, const char *json_name,
                           rmq_err_t (*unpack)(void *, const uint8_t *, size_t),
                           rmq_err_t (*import)(void *, const char *, size_t), void *mgr, bool *imported)
{
    char path[4200];
    path_of(b, mp_name, path, sizeof(path));
    uint8_t *data = NULL;
    size_t len = 0;
    *imported = false;
    rmq_err_t r = rmq_snapshot_read(path, &data, &len);
    if (r == RMQ_OK) {
        r = unpack(mgr, data, len);
        free(data);
        if (r != RMQ_OK)
            rmq_log(RMQ_LOG_ERROR, "broker", "snapshot %s does not decode; starting from defaults", path);
        return RMQ_OK;
    }
    if (r == RMQ_ERR__CORRUPT)
        rmq_log(RMQ_LOG_ERROR, "broker", "no usable snapshot for %s; starting from defaults", path);
    char jpath[4200];
    path_of(b, json_name, jpath, sizeof(jpath));
    char *text = NULL;
    if (rmq_file_read_all(jpath, &text, &len) == RMQ_OK) {
        if (import(mgr, text, len) == RMQ_OK) {
            rmq_log(RMQ_LOG_INFO, "broker", "imported RocketMQ %s", jpath);
            *imported = true;
        }
        free(text);
    }
    return RMQ_OK;
}

static rmq_err_t up_topics(void *m, const uint8_t *p, size_t n)
{
    return rmq_topic_mgr_unpack(m, p, n);
}
static rmq_err_t im_topics(void *m, const char *p, size_t n)
{
    return rmq_topic_mgr_import_json(m, p, n);
}
static rmq_err_t up_groups(void *m, const uint8_t *p, size_t n)
{
    return rmq_sub_group_mgr_unpack(m, p, n);
}
static rmq_err_t im_groups(void *m, const char *p, size_t n)
{
    return rmq_sub_group_mgr_import_json(m, p, n);
}
static rmq_err_t up_offsets(void *m, const uint8_t *p, size_t n)
{
    return rmq_offset_mgr_unpack(m, p, n);
}
static rmq_err_t im_offsets(void *m, const char *p, size_t n)
{
    return rmq_offset_mgr_import_json(m, p, n);
}
static rmq_err_t up_delay(void *m, const uint8_t *p, size_t n)
{
    return rmq_schedule_unpack(m, p, n);
}
static rmq_err_t im_delay(void *m, const char *p, size_t n)
{
    return rmq_schedule_import_json(m, p, n);
}

static void add_system_topic(rmq_broker_t *b, const char *name, int q, int perm)
{
    if (rmq_topic_get(&b->topics, name))
        return;
    rmq_topic_config_t tc = {(char *)name, q, q, perm, 0, 0, false};
    rmq_topic_put(&b->topics, &tc);
}

static void system_topics(rmq_broker_t *b)
{
    add_system_topic(b, RMQ_TOPIC_SELF_TEST, 1, 6);
    if (b->conf.autoCreateTopicEnable)
        add_system_topic(b, RMQ_TOPIC_TBW102, b->conf.defaultTopicQueueNums, 7);
    add_system_topic(b, RMQ_TOPIC_BENCHMARK, 1024, 6);
    if (b->conf.clusterTopicEnable)
        add_system_topic(b, b->conf.brokerClusterName, 16, 7);
    if (b->conf.brokerTopicEnable)
        add_system_topic(b, b->conf.brokerName, 1, 7);
    add_system_topic(b, RMQ_TOPIC_OFFSET_MOVED, 1, 6);
    add_system_topic(b, RMQ_SCHEDULE_TOPIC, 18, 6);
    char reply[300];
    snprintf(reply, sizeof(reply), "%s_REPLY_TOPIC", b->conf.brokerClusterName);
    add_system_topic(b, reply, 1, 6);
}

/* ---------- timers, signals, connections ---------- */

static void persist_offsets_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_broker_t *b = arg;
    if (b->offsets.dirty)
        rmq_broker_persist_offsets(b);
    if (b->schedule && b->schedule->dirty)
        rmq_broker_persist_delay_offsets(b);
}

static void persist_meta_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_broker_t *b = arg;
    rmq_broker_persist_topics(b);
    rmq_broker_persist_groups(b);
}

/* Shutdown, step 2: let the sends waiting for their group commit be answered
 * (bounded by syncFlushTimeout), then leave the loop. */
static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_broker_t *b = arg;
    if (b->pending_sends > 0 && rmq_mono_ms() < b->drain_deadline)
        return;
    if (b->pending_sends > 0)
        rmq_log(RMQ_LOG_WARN, "broker", "%lld sends still waiting for the flush at shutdown",
                (long long)b->pending_sends);
    event_base_loopexit(b->base, NULL);
}

static void unregistered(rmq_broker_t *b)
{
    if (b->pending_sends == 0) {
        event_base_loopexit(b->base, NULL);
        return;
    }
    b->drain_deadline = rmq_mono_ms() + b->store_conf.syncFlushTimeout + 500;
    b->ev_drain = event_new(b->base, -1, EV_PERSIST, drain_cb, b);
    struct timeval tv = {0, 20000};
    event_add(b->ev_drain, &tv);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    rmq_broker_t *b = arg;
    if (b->shutting_down)
        return;
    rmq_log(RMQ_LOG_INFO, "broker", "signal %d: shutting down", (int)sig);
    b->shutting_down = true;
    rmq_namesrv_api_unregister_all(b->ns, unregistered);
}

static void conn_closed_cb(rmq_conn_t *conn, void *ctx)
{
    rmq_broker_t *b = ctx;
    if (b->clients && !b->shutting_down)
        rmq_client_mgr_conn_closed(b->clients, conn);
}

static struct event *timer(rmq_broker_t *b, int ms, event_callback_fn cb)
{
    struct event *ev = event_new(b->base, -1, EV_PERSIST, cb, b);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(ev, &tv);
    return ev;
}

static void register_handlers(rmq_broker_t *b, rmq_endpoint_t *ep, bool vip)
{
    rmq_proc_send_register(b, ep);
    if (!vip)
        rmq_proc_pull_register(b, ep);
    rmq_proc_offset_register(b, ep);
    rmq_proc_client_register(b, ep);
    rmq_proc_admin_register(b, ep);
    rmq_proc_query_register(b, ep);
    rmq_endpoint_set_close_cb(ep, conn_closed_cb, b);
}

rmq_broker_t *rmq_broker_new(void)
{
    rmq_broker_t *b = rmq_calloc(1, sizeof(*b));
    rmq_broker_conf_init(&b->conf);
    rmq_store_config_init(&b->store_conf);
    pthread_mutex_init(&b->mbox_mu, NULL);
    rmq_topic_mgr_init(&b->topics);
    rmq_sub_group_mgr_init(&b->groups);
    rmq_offset_mgr_init(&b->offsets);
    b->send_back_delay = true;
    return b;
}

static bool resolve_ipv4(const char *host, uint8_t out[4])
{
    if (inet_pton(AF_INET, host, out) == 1)
        return true;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_INET;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return false;
    memcpy(out, &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4);
    freeaddrinfo(res);
    return true;
}

static int mkdirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

rmq_err_t rmq_broker_start(rmq_broker_t *b, char *errstr, size_t errstr_size)
{
    b->boot_ms = rmq_now_ms();
    b->is_slave = b->store_conf.brokerRole && !strcmp(b->store_conf.brokerRole, "SLAVE");
    if (b->is_slave && b->conf.brokerId <= 0) {
        snprintf(errstr, errstr_size, "a SLAVE needs brokerId > 0");
        return RMQ_ERR__INVALID_ARG;
    }
    if (!b->is_slave && b->conf.brokerId != 0) {
        rmq_log(RMQ_LOG_WARN, "broker", "brokerRole %s with brokerId %lld: using brokerId 0",
                b->store_conf.brokerRole, (long long)b->conf.brokerId);
        b->conf.brokerId = 0;
    }
    snprintf(b->broker_addr, sizeof(b->broker_addr), "%s:%d", b->conf.brokerIP1, b->conf.listenPort);
    snprintf(b->ha_addr, sizeof(b->ha_addr), "%s:%d", b->conf.brokerIP2, b->conf.haListenPort);
    b->store_host.v6 = 0;
    if (!resolve_ipv4(b->conf.brokerIP1, b->store_host.addr)) {
        snprintf(errstr, errstr_size, "brokerIP1 %s is not an IPv4 address or resolvable host",
                 b->conf.brokerIP1);
        return RMQ_ERR__INVALID_ARG;
    }
    b->store_host.port = b->conf.listenPort;

    snprintf(b->config_dir, sizeof(b->config_dir), "%s/config", b->store_conf.storePathRootDir);
    if (mkdirs(b->config_dir) != 0) {
        snprintf(errstr, errstr_size, "cannot create %s: %s", b->config_dir, strerror(errno));
        return RMQ_ERR__IO;
    }
    bool imp_t, imp_g, imp_o, imp_d;
    b->schedule = rmq_schedule_new(b);
    load_meta(b, "delayOffset.msgpack", "delayOffset.json", up_delay, im_delay, b->schedule, &imp_d);
    load_meta(b, "topics.msgpack", "topics.json", up_topics, im_topics, &b->topics, &imp_t);
    load_meta(b, "subscriptionGroup.msgpack", "subscriptionGroup.json", up_groups, im_groups, &b->groups,
              &imp_g);
    load_meta(b, "consumerOffset.msgpack", "consumerOffset.json", up_offsets, im_offsets, &b->offsets,
              &imp_o);
    system_topics(b);
    /* write the (possibly imported) state once, before traffic */
    rmq_broker_persist_topics(b);
    rmq_broker_persist_groups(b);
    rmq_broker_persist_offsets(b);
    rmq_broker_persist_delay_offsets(b);

    b->store = rmq_store_open(&b->store_conf, errstr, errstr_size);
    if (!b->store)
        return RMQ_ERR__IO;

    b->base = event_base_new();
    if (!b->base) {
        snprintf(errstr, errstr_size, "event_base_new failed");
        return RMQ_ERR__NOMEM;
    }
    b->mbox_ev = event_new(b->base, -1, EV_READ, mbox_cb, b);
    /* activated with event_active() from any thread (evthread_use_pthreads) */

    b->snap = rmq_snapshot_writer_start();
    b->hold = rmq_pull_hold_new(b);
    b->clients = rmq_client_mgr_new(b);
    rmq_store_set_arrived_cb(b->store, rmq_pull_hold_arrived_cb, b->hold);

    rmq_endpoint_opts_t o;
    rmq_endpoint_opts_default(&o);
    o.name = "broker";
    o.max_output = (size_t)b->conf.maxConnectionOutputBytes;
    o.idle_timeout_ms = b->conf.serverChannelMaxIdleTimeSeconds * 1000;
    const char *host = b->conf.listenAddress && *b->conf.listenAddress ? b->conf.listenAddress : "0.0.0.0";
    b->server = rmq_server_new(b->base, host, b->conf.listenPort, &o, errstr, errstr_size);
    if (!b->server)
        return RMQ_ERR__IO;
    register_handlers(b, b->server, false);
    char verr[256];
    b->vip_server = rmq_server_new(b->base, host, b->conf.listenPort - 2, &o, verr, sizeof(verr));
    if (b->vip_server)
        register_handlers(b, b->vip_server, true);
    else
        rmq_log(RMQ_LOG_WARN, "broker", "VIP channel on port %d not available: %s", b->conf.listenPort - 2,
                verr);

    rmq_endpoint_opts_t co;
    rmq_endpoint_opts_default(&co);
    co.name = "broker-ns";
    co.idle_timeout_ms = 0;
    b->client = rmq_client_new(b->base, &co);

    if (rmq_store_start(b->store) != RMQ_OK) {
        snprintf(errstr, errstr_size, "store start failed");
        return RMQ_ERR__IO;
    }
    b->ev_persist_offsets = timer(b, b->conf.flushConsumerOffsetInterval, persist_offsets_cb);
    b->ev_persist_meta = timer(b, b->conf.flushMetadataInterval, persist_meta_cb);
    b->ev_sigterm = evsignal_new(b->base, SIGTERM, signal_cb, b);
    b->ev_sigint = evsignal_new(b->base, SIGINT, signal_cb, b);
    event_add(b->ev_sigterm, NULL);
    event_add(b->ev_sigint, NULL);
    rmq_schedule_start(b->schedule);
    b->ns = rmq_namesrv_api_new(b);
    rmq_namesrv_api_register_all(b->ns);
    return RMQ_OK;
}

int rmq_broker_run(rmq_broker_t *b)
{
    printf("The broker[%s, %s] boot success. serializeType=JSON and name server is %s\n", b->conf.brokerName,
           b->broker_addr, b->conf.namesrvAddr && *b->conf.namesrvAddr ? b->conf.namesrvAddr : "(none)");
    fflush(stdout);
    rmq_log(RMQ_LOG_INFO, "broker",
            "The broker[%s, %s] boot success. serializeType=JSON and name server is %s", b->conf.brokerName,
            b->broker_addr, b->conf.namesrvAddr);
    event_base_dispatch(b->base);
    rmq_log(RMQ_LOG_INFO, "broker", "event loop stopped");
    return 0;
}

void rmq_broker_destroy(rmq_broker_t *b)
{
    if (!b)
        return;
    b->shutting_down = true;
    /* stop accepting and answering (parked pulls are dropped: clients retry) */
    rmq_endpoint_destroy(b->vip_server);
    rmq_endpoint_destroy(b->server);
    b->vip_server = b->server = NULL;
    /* the store flushes everything and stops its threads; SYNC_FLUSH
     * completions and arrivals land in the mailbox, which is drained while
     * the hold service (the arrived hook's target) still exists */
    rmq_store_destroy(b->store);
    b->store = NULL;
    mbox_drain(b);
    rmq_pull_hold_destroy(b->hold);
    b->hold = NULL;
    /* final metadata snapshot, synchronously (the loop is no longer running) */
    rmq_snapshot_writer_stop(b->snap);
    b->snap = NULL;
    if (b->base) {
        rmq_broker_persist_topics(b);
        rmq_broker_persist_groups(b);
        rmq_broker_persist_offsets(b);
        rmq_broker_persist_delay_offsets(b);
    }
    rmq_schedule_destroy(b->schedule);
    b->schedule = NULL;
    rmq_endpoint_destroy(b->client);
    rmq_namesrv_api_destroy(b->ns);
    rmq_client_mgr_destroy(b->clients);
    rmq_proc_admin_cleanup(b);
    struct event *evs[] = {b->ev_persist_offsets, b->ev_persist_meta, b->ev_sigterm, b->ev_sigint,
                           b->mbox_ev};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i])
            event_free(evs[i]);
    pthread_mutex_lock(&b->mbox_mu);
    b->mbox_ev = NULL;
    pthread_mutex_unlock(&b->mbox_mu);
    if (b->base)
        event_base_free(b->base);
    rmq_topic_mgr_deinit(&b->topics);
    rmq_sub_group_mgr_deinit(&b->groups);
    rmq_offset_mgr_deinit(&b->offsets);
    rmq_broker_conf_deinit(&b->conf);
    rmq_store_config_deinit(&b->store_conf);
    pthread_mutex_destroy(&b->mbox_mu);
    free(b);
}
