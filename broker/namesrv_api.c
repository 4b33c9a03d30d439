/* namesrv_api.c - broker registration with the name servers.
 * Owns: per-name-server registration state and its retry timers.
 * Thread: io. Builds the RegisterBrokerBody JSON from the topic table and
 * sends it through the client endpoint; answers are handled in callbacks.
 * Never: waits for a name server (every call is asynchronous). */
#include "namesrv_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_log.h"
#include "rmq_msg_codec.h"

typedef struct ns_peer_s {
    struct rmq_namesrv_api_s *api;
    char *addr;
    bool in_flight;
    bool again; /* a registration was requested while one was in flight */
    bool ok_once;
    int retry_ms;
    struct event *ev_retry;
} ns_peer_t;

struct rmq_namesrv_api_s {
    rmq_broker_t *b;
    ns_peer_t *peers;
    size_t n;
    struct event *ev_period;
    int64_t registered;
    int unreg_left;
    void (*unreg_done)(rmq_broker_t *b);
    struct event *ev_unreg_timeout;
};

static void register_one(ns_peer_t *p);

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    register_one(arg);
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
    struct timeval tv = {p->retry_ms / 1000, (p->retry_ms % 1000) * 1000};
    evtimer_add(p->ev_retry, &tv);
}

static void register_resp(rmq_conn_t *conn, rmq_err_t err, rmq_cmd_t *resp, void *arg)
{
    ns_peer_t *p = arg;
    p->in_flight = false;
    if (err == RMQ_OK && resp->code == RMQ_OK) {
        if (!p->ok_once || p->retry_ms)
            rmq_log(RMQ_LOG_INFO, "broker", "registered with name server %s", p->addr);
        p->ok_once = true;
        p->retry_ms = 0;
        p->api->registered++;
        if (p->again) {
            p->again = false;
            register_one(p);
        }
        return;
    }
    rmq_log(RMQ_LOG_WARN, "broker", "register to name server %s failed: %s%s%s", p->addr,
            err == RMQ_OK ? rmq_err2name(resp->code) : rmq_err2str(err),
            err == RMQ_OK && resp->remark ? ": " : "", err == RMQ_OK && resp->remark ? resp->remark : "");
    p->again = false;
    schedule_retry(p);
}

static void build_body(rmq_broker_t *b, rmq_buf_t *body)
{
    rmq_buf_puts(body, "{\"filterServerList\":[],\"topicConfigSerializeWrapper\":");
    rmq_topic_json_wrapper(body, &b->topics);
    rmq_buf_putc(body, '}');
}

static void register_one(ns_peer_t *p)
{
    rmq_broker_t *b = p->api->b;
    if (b->shutting_down)
        return;
    if (p->in_flight) {
        p->again = true;
        return;
    }
    evtimer_del(p->ev_retry);
    rmq_cmd_t req;
    rmq_cmd_init_request(&req, RMQ_REQ_REGISTER_BROKER);
    rmq_cmd_set_ext(&req, "brokerName", b->conf.brokerName);
    rmq_cmd_set_ext(&req, "brokerAddr", b->broker_addr);
    rmq_cmd_set_ext(&req, "clusterName", b->conf.brokerClusterName);
    rmq_cmd_set_ext(&req, "haServerAddr", b->ha_addr);
    rmq_cmd_set_ext_i64(&req, "brokerId", b->conf.brokerId);
    rmq_cmd_set_ext(&req, "compressed", "false");
    rmq_buf_t body;
    rmq_buf_init(&body);
    build_body(b, &body);
    rmq_cmd_set_ext_i64(&req, "bodyCrc32", rmq_msg_body_crc(body.data, body.len));
    rmq_cmd_take_body(&req, body.data, body.len);
    p->in_flight = true;
    rmq_err_t r =
        rmq_client_request(b->client, p->addr, &req, b->conf.registerBrokerTimeoutMills, register_resp, p);
    rmq_cmd_deinit(&req);
    if (r != RMQ_OK) {
        p->in_flight = false;
        rmq_log(RMQ_LOG_WARN, "broker", "register to name server %s failed: %s", p->addr, rmq_err2str(r));
        schedule_retry(p);
    }
}

void rmq_namesrv_api_register_all(rmq_namesrv_api_t *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        register_one(&ns->peers[i]);
}

static void period_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_namesrv_api_register_all(arg);
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
    }
    free(list);
    for (size_t i = 0; i < ns->n; i++)
        ns->peers[i].ev_retry = evtimer_new(b->base, retry_cb, &ns->peers[i]);
    ns->ev_period = event_new(b->base, -1, EV_PERSIST, period_cb, ns);
    int ms = b->conf.registerNameServerPeriod;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(ns->ev_period, &tv);
    return ns;
}

int64_t rmq_namesrv_api_registered(const rmq_namesrv_api_t *ns)
{
    return ns->registered;
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
    for (size_t i = 0; i < ns->n; i++) {
        rmq_cmd_t req;
        rmq_cmd_init_request(&req, RMQ_REQ_UNREGISTER_BROKER);
        rmq_cmd_set_ext(&req, "brokerName", b->conf.brokerName);
        rmq_cmd_set_ext(&req, "brokerAddr", b->broker_addr);
        rmq_cmd_set_ext(&req, "clusterName", b->conf.brokerClusterName);
        rmq_cmd_set_ext_i64(&req, "brokerId", b->conf.brokerId);
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
        if (ns->peers[i].ev_retry)
            event_free(ns->peers[i].ev_retry);
        free(ns->peers[i].addr);
    }
    free(ns->peers);
    if (ns->ev_period)
        event_free(ns->ev_period);
    if (ns->ev_unreg_timeout)
        event_free(ns->ev_unreg_timeout);
    free(ns);
}
