/* namesrv.c - the name server controller: settings table, request
 * processors (RocketMQ DefaultRequestProcessor), broker expiry timer, signal
 * handling and the boot line.
 *
 * Everything runs on the one thread that runs the event_base (docs/design.md §5):
 * no locks. Never blocks: KV persistence goes to kv_config's writer thread. */
#include "namesrv.h"

#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "kv_config.h"
#include "register_body.h"
#include "ns_metrics.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_conn.h"
#include "rmq_hdr_fields.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_msg_codec.h"
#include "rmq_time.h"
#include "rmq_timer.h"
#include "route_info.h"

#define F(x) offsetof(ns_config_t, x)
#define IMP RMQ_CONF_IMPORTANT
#define COMPAT "accepted for compatibility with RocketMQ; no effect"

const rmq_conf_def_t ns_conf_defs[] = {
    {"rocketmqHome", RMQ_CONF_STR, F(rocketmqHome), "", 0, -1, IMP, "home directory (ROCKETMQ_HOME)", NULL},
    {"kvConfigPath", RMQ_CONF_STR, F(kvConfigPath), "", 0, -1, IMP,
     "KV config file; empty = $HOME/namesrv/kvConfig.json", NULL},
    {"configStorePath", RMQ_CONF_STR, F(configStorePath), "", 0, -1, 0, COMPAT, NULL},
    {"productEnvName", RMQ_CONF_STR, F(productEnvName), "center", 0, -1, 0, COMPAT, NULL},
    {"clusterTest", RMQ_CONF_BOOL, F(clusterTest), "false", 0, -1, 0, COMPAT, NULL},
    {"orderMessageEnable", RMQ_CONF_BOOL, F(orderMessageEnable), "false", 0, -1, 0,
     "add orderTopicConf (KV namespace ORDER_TOPIC_CONFIG) to route answers", NULL},
    {"listenPort", RMQ_CONF_INT, F(listenPort), "9876", 0, 65535, IMP, "TCP port for clients and brokers",
     NULL},
    {"serverWorkerThreads", RMQ_CONF_INT, F(serverWorkerThreads), "8", 0, -1, 0, COMPAT, NULL},
    {"serverCallbackExecutorThreads", RMQ_CONF_INT, F(serverCallbackExecutorThreads), "0", 0, -1, 0, COMPAT,
     NULL},
    {"serverSelectorThreads", RMQ_CONF_INT, F(serverSelectorThreads), "3", 0, -1, 0, COMPAT, NULL},
    {"serverOnewaySemaphoreValue", RMQ_CONF_INT, F(serverOnewaySemaphoreValue), "256", 0, -1, 0, COMPAT,
     NULL},
    {"serverAsyncSemaphoreValue", RMQ_CONF_INT, F(serverAsyncSemaphoreValue), "64", 0, -1, 0, COMPAT, NULL},
    {"serverChannelMaxIdleTimeSeconds", RMQ_CONF_INT, F(serverChannelMaxIdleTimeSeconds), "120", 0, 86400, 0,
     "close a connection after this many seconds without input (0 = never)", NULL},
    {"serverSocketSndBufSize", RMQ_CONF_INT, F(serverSocketSndBufSize), "65535", 0, -1, 0, COMPAT, NULL},
    {"serverSocketRcvBufSize", RMQ_CONF_INT, F(serverSocketRcvBufSize), "65535", 0, -1, 0, COMPAT, NULL},
    {"serverPooledByteBufAllocatorEnable", RMQ_CONF_BOOL, F(serverPooledByteBufAllocatorEnable), "true", 0,
     -1, 0, COMPAT, NULL},
    {"useEpollNativeSelector", RMQ_CONF_BOOL, F(useEpollNativeSelector), "false", 0, -1, 0, COMPAT, NULL},
    {"listenAddress", RMQ_CONF_STR, F(listenAddress), "0.0.0.0", 0, -1, IMP, "address to bind (Comet)", NULL},
    {"brokerChannelExpiredTime", RMQ_CONF_LONG, F(brokerChannelExpiredTime), "120000", 100, 86400000, IMP,
     "drop a broker not registered for this many ms (Comet; RocketMQ hard-codes 120 s)", NULL},
    {"scanNotActiveBrokerInterval", RMQ_CONF_LONG, F(scanNotActiveBrokerInterval), "10000", 50, 3600000, 0,
     "how often to look for expired brokers, ms (Comet; RocketMQ hard-codes 10 s)", NULL},
    {"frameMaxLength", RMQ_CONF_INT, F(frameMaxLength), "16777212", 1024, 1073741824, 0,
     "largest accepted frame in bytes; larger frames close the connection", NULL},
    {"logLevel", RMQ_CONF_ENUM, F(logLevel), "INFO", 0, -1, 0, "ERROR, WARN, INFO, DEBUG or TRACE (Comet)",
     rmq_log_level_names},
    {"logFile", RMQ_CONF_STR, F(logFile), "", 0, -1, 0,
     "log file (reopened on SIGHUP); empty = stderr (Comet)", NULL},
    {"metricsExporterType", RMQ_CONF_ENUM, F(metrics.exporter), "DISABLE", 0, -1, IMP,
     "PROM serves Prometheus metrics on metricsPromExporterHost:metricsPromExporterPort; DISABLE (default) "
     "opens "
     "no port (Comet)",
     rmq_metrics_exporter_names},
    {"metricsPromExporterHost", RMQ_CONF_STR, F(metrics.host), "", 0, -1, 0,
     "bind address of the metrics endpoint (empty = listenAddress)", NULL},
    {"metricsPromExporterPort", RMQ_CONF_INT, F(metrics.port), "5558", 0, 65535, 0,
     "port of the metrics endpoint (GET /metrics); 0 = any free port (logged). 5558, not the broker's 5557, "
     "so "
     "both run on one host with the defaults",
     NULL},
    {"metricsLabel", RMQ_CONF_STR, F(metrics.label), "", 0, -1, 0,
     "extra labels on every sample, `name:value,name:value`", NULL},
    {"metricsInDelta", RMQ_CONF_BOOL, F(metrics.in_delta), "false", 0, -1, 0,
     "must stay false: Prometheus counters are cumulative", NULL},
    {"metricsPromExporterMaxConnections", RMQ_CONF_INT, F(metrics.max_connections), "16", 1, 1024, 0,
     "open connections the metrics endpoint accepts; more are answered 503 and closed (Comet)", NULL},
    {"metricsRefreshIntervalMs", RMQ_CONF_INT, F(metrics.refresh_interval_ms), "1000", 100, 60000, 0,
     "scrapes within this many ms of the last snapshot share it (Comet)", NULL},
    RMQ_CONF_END,
};

#define NS_ORDER_TOPIC_CONFIG "ORDER_TOPIC_CONFIG"
#define VERSION_V3_0_11 37
#define VERSION_V4_9_4 401

struct ns_server_s {
    ns_config_t *cfg;
    struct event_base *base;
    rmq_endpoint_t *ep;
    rmq_netguard_t *guard;
    rmq_tls_t *tls;
    ns_route_info_t routes;
    ns_kv_t *kv;
    struct event *scan_timer;
    struct event *sig_term, *sig_int, *sig_hup;
    ns_metrics_t *metrics;
    int exit_code;
};

/* ---------- request helpers ---------- */

/* Send resp, built by the handler, as the answer to req; frees it. */
static void reply_resp(rmq_conn_t *c, const rmq_cmd_t *req, rmq_cmd_t *resp)
{
    rmq_conn_reply(c, req, resp);
    rmq_cmd_deinit(resp);
}

static void reply(rmq_conn_t *c, const rmq_cmd_t *req, int code, const char *remark)
{
    rmq_cmd_t resp;
    rmq_cmd_init_response(&resp, req, code, remark);
    reply_resp(c, req, &resp);
}

/* Decode req's header through the request-header table; a missing or
 * unparsable field Java needs (RMQ_HF_NEED) is answered with SYSTEM_ERROR. */
static bool decode(rmq_conn_t *c, const rmq_cmd_t *req, rmq_hdr_id_t id, rmq_hdr_t *h)
{
    char remark[512];
    if (rmq_hdr_decode(h, id, req, remark, sizeof(remark)) && rmq_hdr_check_needed(h, remark, sizeof(remark)))
        return true;
    reply(c, req, RMQ_ERR_SYSTEM_ERROR, remark);
    return false;
}

/* Move b's bytes into resp's body (b is left empty). */
static void take_buf_body(rmq_cmd_t *resp, rmq_buf_t *b)
{
    size_t n;
    uint8_t *p = rmq_buf_detach(b, &n);
    rmq_cmd_take_body(resp, p, n);
}

static void reply_body(rmq_conn_t *c, const rmq_cmd_t *req, rmq_buf_t *body)
{
    rmq_cmd_t resp;
    rmq_cmd_init_response(&resp, req, RMQ_OK, NULL);
    take_buf_body(&resp, body);
    reply_resp(c, req, &resp);
}

/* ---------- processors ---------- */

static void on_register_broker(ns_server_t *s, rmq_conn_t *c, rmq_cmd_t *req, const rmq_hdr_t *h)
{
    const char *name = rmq_hdr_str(h, RMQ_F_REGISTER_BROKER_brokerName);
    const char *addr = rmq_hdr_str(h, RMQ_F_REGISTER_BROKER_brokerAddr);
    const char *cluster = rmq_hdr_str(h, RMQ_F_REGISTER_BROKER_clusterName);
    const char *ha = rmq_hdr_str(h, RMQ_F_REGISTER_BROKER_haServerAddr);
    int64_t id = rmq_hdr_i64(h, RMQ_F_REGISTER_BROKER_brokerId);
    bool compressed = rmq_hdr_bool(h, RMQ_F_REGISTER_BROKER_compressed);
    int64_t crc = rmq_hdr_i32(h, RMQ_F_REGISTER_BROKER_bodyCrc32); /* Integer: 0 = not checked */
    if (crc != 0) {
        int64_t actual = rmq_msg_body_crc(req->body, req->body_len);
        if (actual != crc) {
            rmq_log(RMQ_LOG_WARN, "namesrv", "REGISTER_BROKER from %s: body crc32 %" PRId64 " != %" PRId64,
                    rmq_conn_peer(c), actual, crc);
            reply(c, req, RMQ_ERR_SYSTEM_ERROR, "crc32 not match");
            return;
        }
    }
    ns_reg_body_t body;
    char err[256];
    if (!ns_reg_body_parse(req->body, req->body_len, compressed, req->version >= VERSION_V3_0_11, &body, err,
                           sizeof(err))) {
        rmq_log(RMQ_LOG_WARN, "namesrv", "REGISTER_BROKER from %s: %s", rmq_conn_peer(c), err);
        reply(c, req, RMQ_ERR_SYSTEM_ERROR, err);
        ns_reg_body_free(&body);
        return;
    }
    ns_register_t reg = {
        cluster,       addr, name, id, ha, body.dv, body.topics, body.n_topics, body.filter_servers,
        rmq_conn_id(c)};
    ns_register_result_t res;
    bool known = rmq_map_has(&s->routes.live, addr);
    ns_route_register(&s->routes, &reg, rmq_now_ms(), &res);
    if (!known)
        rmq_log(RMQ_LOG_INFO, "namesrv", "new broker registered, %s %s id %" PRId64 " cluster %s, %zu topics",
                addr, name, id, cluster, body.n_topics);
    ns_reg_body_free(&body);
#ifdef __GLIBC__
    /* a large table's registration (the frame, its topics) came and went:
     * give the pages back (a broker's whole registration, once a period) */
    if (req->body_len > (1u << 20))
        malloc_trim(0);
#endif

    rmq_cmd_t resp;
    rmq_cmd_init_response(&resp, req, RMQ_OK, NULL);
    resp.has_ext = true;
    if (res.master_addr[0]) {
        rmq_cmd_set_ext(&resp, "haServerAddr", res.ha_server_addr);
        rmq_cmd_set_ext(&resp, "masterAddr", res.master_addr);
    }
    rmq_buf_t kvb;
    rmq_buf_init(&kvb);
    if (ns_kv_list(s->kv, NS_ORDER_TOPIC_CONFIG, &kvb))
        take_buf_body(&resp, &kvb);
    rmq_buf_free(&kvb);
    reply_resp(c, req, &resp);
}

static void on_unregister_broker(ns_server_t *s, rmq_conn_t *c, rmq_cmd_t *req, const rmq_hdr_t *h)
{
    const char *name = rmq_hdr_str(h, RMQ_F_UNREGISTER_BROKER_brokerName);
    const char *addr = rmq_hdr_str(h, RMQ_F_UNREGISTER_BROKER_brokerAddr);
    const char *cluster = rmq_hdr_str(h, RMQ_F_UNREGISTER_BROKER_clusterName);
    int64_t id = rmq_hdr_i64(h, RMQ_F_UNREGISTER_BROKER_brokerId);
    if (ns_route_unregister(&s->routes, cluster, addr, name, id))
        rmq_log(RMQ_LOG_INFO, "namesrv", "broker unregistered, %s %s id %" PRId64, addr, name, id);
    reply(c, req, RMQ_OK, NULL);
}

static void on_get_route(ns_server_t *s, rmq_conn_t *c, rmq_cmd_t *req, const rmq_hdr_t *h)
{
    /* a null topic is simply not found, as Java's HashMap lookup */
    const char *topic = rmq_hdr_str(h, RMQ_F_GET_ROUTE_topic);
    if (!topic) {
        reply(c, req, RMQ_ERR_TOPIC_NOT_EXIST,
              "No topic route info in name server for the topic: null\n"
              "See http://rocketmq.apache.org/docs/faq/ for further details.");
        return;
    }
    bool std_only = rmq_hdr_bool(h, RMQ_F_GET_ROUTE_acceptStandardJsonOnly);
    bool standard = req->version >= VERSION_V4_9_4 || std_only;
    const char *order_conf =
        s->cfg->orderMessageEnable ? ns_kv_get(s->kv, NS_ORDER_TOPIC_CONFIG, topic) : NULL;
    rmq_buf_t b;
    rmq_buf_init(&b);
    if (!ns_route_pickup(&s->routes, topic, standard, order_conf, &b)) {
        rmq_buf_free(&b);
        char remark[512];
        snprintf(remark, sizeof(remark),
                 "No topic route info in name server for the topic: %s\n"
                 "See http://rocketmq.apache.org/docs/faq/ for further details.",
                 topic);
        reply(c, req, RMQ_ERR_TOPIC_NOT_EXIST, remark);
        return;
    }
    reply_body(c, req, &b);
}

static void on_cluster_info(ns_server_t *s, rmq_conn_t *c, rmq_cmd_t *req, const rmq_hdr_t *h)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    ns_route_cluster_info(&s->routes, &b);
    reply_body(c, req, &b);
}

static void on_topic_list(ns_server_t *s, rmq_conn_t *c, rmq_cmd_t *req, const rmq_hdr_t *h)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    switch (req->code) {
    case RMQ_REQ_GET_ALL_TOPIC_LIST_FROM_NAMESERVER:
        ns_route_topic_list(&s->routes, &b);
        break;
    case RMQ_REQ_GET_SYSTEM_TOPIC_LIST_FROM_NS:
        ns_route_system_topic_list(&s->routes, &b);
        break;
    case RMQ_REQ_GET_UNIT_TOPIC_LIST:
        ns_route_topic_list_by_flag(&s->routes, 0x1, 0x1, &b); /* FLAG_UNIT */
        break;
    case RMQ_REQ_GET_HAS_UNIT_SUB_TOPIC_LIST:
        ns_route_topic_list_by_flag(&s->routes, 0x2, 0x2, &b); /* FLAG_UNIT_SUB */
        break;
    default: /* GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST: UNIT_SUB set, UNIT clear */
        ns_route_topic_list_by_flag(&s->routes, 0x3, 0x2, &b);
        break;
    }
    reply_body(c, req, &b);
}

static void on_topics_by_cluster(ns_server_t *s, rmq_conn_t *c, rmq_cmd_t *req, const rmq_hdr_t *h)
{
    const char *cluster = rmq_hdr_str(h, RMQ_F_TOPICS_BY_CLUSTER_cluster);
    rmq_buf_t b;
    rmq_buf_init(&b);
    if (!cluster || !ns_route_topics_by_cluster(&s->routes, cluster, &b)) {
        /* Java answers an empty list for an unknown cluster */
        rmq_buf_puts(&b, "{\"topicList\":[]}");
    }
    reply_body(c, req, &b);
}

static void on_write_perm(ns_server_t *s, rmq_conn_t *c, rmq_cmd_t *req, const rmq_hdr_t *h)
{
    const char *name = rmq_hdr_str(h, RMQ_F_WRITE_PERM_brokerName);
    bool wipe = req->code == RMQ_REQ_WIPE_WRITE_PERM_OF_BROKER;
    int n = !name  ? 0 /* Java: no queue data under a null name */
            : wipe ? ns_route_wipe_write_perm(&s->routes, name)
                   : ns_route_add_write_perm(&s->routes, name);
    rmq_log(RMQ_LOG_INFO, "namesrv", "%s write permission of broker %s: %d topics", wipe ? "wiped" : "added",
            name, n);
    rmq_cmd_t resp;
    rmq_cmd_init_response(&resp, req, RMQ_OK, NULL);
    rmq_cmd_set_ext_i64(&resp, wipe ? "wipeTopicCount" : "addTopicCount", n);
    reply_resp(c, req, &resp);
}

static void on_delete_topic(ns_server_t *s, rmq_conn_t *c, rmq_cmd_t *req, const rmq_hdr_t *h)
{
    const char *topic = rmq_hdr_str(h, RMQ_F_DELETE_NS_TOPIC_topic);
    const char *cluster = rmq_hdr_str(h, RMQ_F_DELETE_NS_TOPIC_clusterName);
    if (topic) /* null: nothing to delete, as Java */
        ns_route_delete_topic(&s->routes, topic, cluster && *cluster ? cluster : NULL);
    reply(c, req, RMQ_OK, NULL);
}

static void on_query_data_version(ns_server_t *s, rmq_conn_t *c, rmq_cmd_t *req, const rmq_hdr_t *h)
{
    /* Java reads brokerAddr only; a null one is an unknown broker */
    const char *addr = rmq_hdr_str(h, RMQ_F_QUERY_DATA_VERSION_brokerAddr);
    ns_data_version_t dv = {0, 0};
    if (req->body_len) {
        char err[200];
        json_t *j = rmq_json_parse((const char *)req->body, req->body_len, err, sizeof(err));
        if (!j) {
            reply(c, req, RMQ_ERR_SYSTEM_ERROR, err);
            return;
        }
        rmq_json_int(j, "counter", &dv.counter);
        rmq_json_int(j, "timestamp", &dv.timestamp);
        json_decref(j);
    }
    ns_data_version_t stored = {0, 0};
    bool changed = !addr || ns_route_query_data_version(&s->routes, addr, &dv, rmq_now_ms(), &stored);
    rmq_cmd_t resp;
    rmq_cmd_init_response(&resp, req, RMQ_OK, NULL);
    rmq_cmd_set_ext_bool(&resp, "changed", changed);
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_buf_printf(&b, "{\"counter\":%" PRId64 ",\"timestamp\":%" PRId64 "}", stored.counter,
                   stored.timestamp);
    take_buf_body(&resp, &b);
    reply_resp(c, req, &resp);
}

/* KV requests. As Java's HashMaps: a null namespace or key never matches
 * (GET answers "not found", DELETE does nothing), PUT refuses them, and PUT
 * with a null value leaves the key holding null, which reads as absent. */
static void on_kv(ns_server_t *s, rmq_conn_t *c, rmq_cmd_t *req, const rmq_hdr_t *h)
{
    bool list = req->code == RMQ_REQ_GET_KVLIST_BY_NAMESPACE;
    const char *ns = rmq_hdr_str(h, list ? RMQ_F_KV_LIST_namespace : RMQ_F_KV_namespace);
    char remark[600];
    if (list) {
        rmq_buf_t b;
        rmq_buf_init(&b);
        if (ns && ns_kv_list(s->kv, ns, &b)) {
            reply_body(c, req, &b);
        } else {
            rmq_buf_free(&b);
            snprintf(remark, sizeof(remark), "No config item, Namespace: %s", ns ? ns : "null");
            reply(c, req, RMQ_ERR_QUERY_NOT_FOUND, remark);
        }
        return;
    }
    const char *key = rmq_hdr_str(h, RMQ_F_KV_key);
    switch (req->code) {
    case RMQ_REQ_PUT_KV_CONFIG: {
        if (!ns || !key) {
            reply(c, req, RMQ_ERR_SYSTEM_ERROR, "namespace or key is null");
            return;
        }
        const char *value = rmq_hdr_str(h, RMQ_F_KV_value);
        if (value)
            ns_kv_put(s->kv, ns, key, value);
        else
            ns_kv_delete(s->kv, ns, key);
        reply(c, req, RMQ_OK, NULL);
        break;
    }
    case RMQ_REQ_GET_KV_CONFIG: {
        const char *v = ns && key ? ns_kv_get(s->kv, ns, key) : NULL;
        if (!v) {
            snprintf(remark, sizeof(remark), "No config item, Namespace: %s Key: %s", ns ? ns : "null",
                     key ? key : "null");
            reply(c, req, RMQ_ERR_QUERY_NOT_FOUND, remark);
            return;
        }
        rmq_cmd_t resp;
        rmq_cmd_init_response(&resp, req, RMQ_OK, NULL);
        rmq_cmd_set_ext(&resp, "value", v);
        reply_resp(c, req, &resp);
        break;
    }
    default:
        if (ns && key)
            ns_kv_delete(s->kv, ns, key);
        reply(c, req, RMQ_OK, NULL);
        break;
    }
}

struct cfg_update {
    ns_server_t *s;
    char err[256];
    bool failed;
};

static int cfg_update_cb(void *opaque, const char *key, const char *value, int line)
{
    struct cfg_update *u = opaque;
    /* Settings that only matter at start-up cannot change at runtime. */
    static const char *const fixed[] = {"listenPort",   "listenAddress", "kvConfigPath",
                                        "rocketmqHome", "logFile",       NULL};
    for (const char *const *f = fixed; *f; f++)
        if (!strcmp(*f, key)) {
            snprintf(u->err, sizeof(u->err), "%s cannot be changed at runtime", key);
            u->failed = true;
            return 1;
        }
    rmq_err_t r = rmq_conf_set(ns_conf_defs, u->s->cfg, key, value, u->err, sizeof(u->err));
    if (r == RMQ_ERR__NOENT)
        return 0; /* unknown keys ignored, as at start-up */
    if (r != RMQ_OK) {
        u->failed = true;
        return 1;
    }
    if (!strcmp(key, "logLevel"))
        rmq_log_level = u->s->cfg->logLevel;
    return 0;
}

static void on_namesrv_config(ns_server_t *s, rmq_conn_t *c, rmq_cmd_t *req, const rmq_hdr_t *h)
{
    if (req->code == RMQ_REQ_GET_NAMESRV_CONFIG) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        rmq_conf_print(ns_conf_defs, s->cfg, f, false);
        fclose(f);
        rmq_cmd_t resp;
        rmq_cmd_init_response(&resp, req, RMQ_OK, NULL);
        rmq_cmd_take_body(&resp, (uint8_t *)text, len);
        reply_resp(c, req, &resp);
        return;
    }
    if (!req->body_len) {
        reply(c, req, RMQ_OK, NULL);
        return;
    }
    struct cfg_update u = {s, "", false};
    rmq_props_parse((const char *)req->body, req->body_len, cfg_update_cb, &u);
    if (u.failed) {
        reply(c, req, RMQ_ERR_SYSTEM_ERROR, u.err);
        return;
    }
    rmq_log(RMQ_LOG_INFO, "namesrv", "config updated by %s", rmq_conn_peer(c));
    reply(c, req, RMQ_OK, NULL);
}

/* ---------- dispatch ---------- */

typedef void ns_handler_fn(ns_server_t *s, rmq_conn_t *c, rmq_cmd_t *req, const rmq_hdr_t *h);

#define NO_HDR RMQ_HDR__COUNT /* the request has no header to decode */

/* Every request code the name server answers, the request header it
 * decodes, and its processor. */
static const struct {
    int code;
    rmq_hdr_id_t hdr;
    ns_handler_fn *fn;
} handlers[] = {
    {RMQ_REQ_REGISTER_BROKER, RMQ_HDR_REGISTER_BROKER, on_register_broker},
    {RMQ_REQ_UNREGISTER_BROKER, RMQ_HDR_UNREGISTER_BROKER, on_unregister_broker},
    {RMQ_REQ_GET_ROUTEINFO_BY_TOPIC, RMQ_HDR_GET_ROUTE, on_get_route},
    {RMQ_REQ_GET_BROKER_CLUSTER_INFO, NO_HDR, on_cluster_info},
    {RMQ_REQ_GET_ALL_TOPIC_LIST_FROM_NAMESERVER, NO_HDR, on_topic_list},
    {RMQ_REQ_GET_SYSTEM_TOPIC_LIST_FROM_NS, NO_HDR, on_topic_list},
    {RMQ_REQ_GET_UNIT_TOPIC_LIST, NO_HDR, on_topic_list},
    {RMQ_REQ_GET_HAS_UNIT_SUB_TOPIC_LIST, NO_HDR, on_topic_list},
    {RMQ_REQ_GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST, NO_HDR, on_topic_list},
    {RMQ_REQ_GET_TOPICS_BY_CLUSTER, RMQ_HDR_TOPICS_BY_CLUSTER, on_topics_by_cluster},
    {RMQ_REQ_WIPE_WRITE_PERM_OF_BROKER, RMQ_HDR_WRITE_PERM, on_write_perm},
    {RMQ_REQ_ADD_WRITE_PERM_OF_BROKER, RMQ_HDR_WRITE_PERM, on_write_perm},
    {RMQ_REQ_DELETE_TOPIC_IN_NAMESRV, RMQ_HDR_DELETE_NS_TOPIC, on_delete_topic},
    {RMQ_REQ_QUERY_DATA_VERSION, RMQ_HDR_QUERY_DATA_VERSION, on_query_data_version},
    {RMQ_REQ_PUT_KV_CONFIG, RMQ_HDR_KV, on_kv},
    {RMQ_REQ_GET_KV_CONFIG, RMQ_HDR_KV, on_kv},
    {RMQ_REQ_DELETE_KV_CONFIG, RMQ_HDR_KV, on_kv},
    {RMQ_REQ_GET_KVLIST_BY_NAMESPACE, RMQ_HDR_KV_LIST, on_kv},
    {RMQ_REQ_UPDATE_NAMESRV_CONFIG, NO_HDR, on_namesrv_config},
    {RMQ_REQ_GET_NAMESRV_CONFIG, NO_HDR, on_namesrv_config},
};
#define NS_NHANDLERS (sizeof(handlers) / sizeof(handlers[0]))

/* The endpoint's handler for every code in handlers[]: decode the request
 * header, then run the processor. */
static void on_request(rmq_conn_t *c, rmq_cmd_t *req, void *ctx)
{
    for (size_t i = 0; i < NS_NHANDLERS; i++) {
        if (handlers[i].code != req->code)
            continue;
        rmq_hdr_t h;
        if (handlers[i].hdr == NO_HDR || decode(c, req, handlers[i].hdr, &h))
            handlers[i].fn(ctx, c, req, &h);
        return;
    }
}

/* ---------- housekeeping ---------- */

static void on_conn_closed(rmq_conn_t *c, void *ctx)
{
    ns_server_t *s = ctx;
    size_t before = ns_route_live_count(&s->routes);
    ns_route_conn_closed(&s->routes, rmq_conn_id(c), rmq_conn_peer(c));
    if (ns_route_live_count(&s->routes) != before)
        rmq_log(RMQ_LOG_INFO, "namesrv", "broker connection %s closed, its routes removed", rmq_conn_peer(c));
}

static void on_scan(evutil_socket_t fd, short what, void *arg)
{
    ns_server_t *s = arg;
    int n = ns_route_scan_expired(&s->routes, rmq_now_ms(), s->cfg->brokerChannelExpiredTime);
    if (n > 0)
        rmq_log(RMQ_LOG_WARN, "namesrv", "%d broker(s) expired: no registration for %" PRId64 " ms", n,
                s->cfg->brokerChannelExpiredTime);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    ns_server_t *s = arg;
    if (sig == SIGHUP) {
        rmq_log_reopen();
        rmq_log(RMQ_LOG_INFO, "namesrv", "log file reopened");
        return;
    }
    rmq_log(RMQ_LOG_INFO, "namesrv", "signal %d received, shutting down", (int)sig);
    event_base_loopexit(s->base, NULL);
}

/* ---------- lifecycle ---------- */

ns_server_t *ns_server_new(ns_config_t *cfg, char *errstr, size_t errstr_size)
{
    ns_server_t *s = rmq_calloc(1, sizeof(*s));
    s->cfg = cfg;
    ns_route_init(&s->routes);
    if (!cfg->kvConfigPath[0]) {
        const char *home = getenv("HOME");
        char *p = rmq_asprintf("%s/namesrv/kvConfig.json", home ? home : ".");
        free(cfg->kvConfigPath);
        cfg->kvConfigPath = p;
    }
    s->kv = ns_kv_open(cfg->kvConfigPath, errstr, errstr_size);
    if (!s->kv)
        goto err;
    struct event_config *ec = event_config_new();
    s->base = event_base_new_with_config(ec);
    event_config_free(ec);
    if (!s->base) {
        snprintf(errstr, errstr_size, "cannot create the event loop");
        goto err;
    }
    rmq_endpoint_opts_t o;
    rmq_endpoint_opts_default(&o);
    o.name = "namesrv";
    o.max_frame = (size_t)cfg->frameMaxLength;
    o.idle_timeout_ms = cfg->serverChannelMaxIdleTimeSeconds * 1000;
    s->guard = rmq_netguard_new(&cfg->guard);
    s->tls = rmq_tls_server_new(&cfg->tls, "namesrv", errstr, errstr_size);
    if (!s->tls)
        goto err;
    o.guard = s->guard;
    o.tls = s->tls;
    s->ep = rmq_server_new(s->base, cfg->listenAddress, cfg->listenPort, &o, errstr, errstr_size);
    if (!s->ep)
        goto err;
    for (size_t i = 0; i < NS_NHANDLERS; i++)
        rmq_endpoint_set_handler(s->ep, handlers[i].code, on_request, s);
    rmq_endpoint_set_close_cb(s->ep, on_conn_closed, s);

    s->scan_timer = rmq_timer_new(s->base, cfg->scanNotActiveBrokerInterval, true, on_scan, s);
    s->sig_term = evsignal_new(s->base, SIGTERM, on_signal, s);
    s->sig_int = evsignal_new(s->base, SIGINT, on_signal, s);
    s->sig_hup = evsignal_new(s->base, SIGHUP, on_signal, s);
    event_add(s->sig_term, NULL);
    event_add(s->sig_int, NULL);
    event_add(s->sig_hup, NULL);
    if (ns_metrics_start(cfg, s->base, s->ep, &s->routes, &s->metrics, errstr, errstr_size) != RMQ_OK)
        goto err;
    return s;
err:
    ns_server_destroy(s);
    return NULL;
}

int ns_server_run(ns_server_t *s)
{
    rmq_log(RMQ_LOG_INFO, "namesrv", "listening on %s:%d", s->cfg->listenAddress, rmq_server_port(s->ep));
    /* RocketMQ's start-up line; scripts and tests wait for it. */
    printf("The Name Server boot success. serializeType=JSON\n");
    fflush(stdout);
    event_base_dispatch(s->base);
    rmq_log(RMQ_LOG_INFO, "namesrv", "stopped");
    return s->exit_code;
}

void ns_server_destroy(ns_server_t *s)
{
    if (!s)
        return;
    ns_metrics_stop(s->metrics); /* joins the metrics HTTP thread */
    rmq_endpoint_destroy(s->ep);
    rmq_event_free(s->scan_timer);
    rmq_event_free(s->sig_term);
    rmq_event_free(s->sig_int);
    rmq_event_free(s->sig_hup);
    ns_kv_close(s->kv); /* waits for the last KV write */
    ns_route_deinit(&s->routes);
    rmq_netguard_free(s->guard);
    rmq_tls_free(s->tls);
    if (s->base)
        event_base_free(s->base);
    free(s);
}

/* ---------- the settings set ---------- */

static const rmq_conf_part_t ns_parts[] = {
    {ns_conf_defs, 0, "mqnamesrv"},
    {rmq_tls_server_conf_defs, offsetof(ns_config_t, tls), "mqnamesrv TLS"},
    {rmq_tls_common_conf_defs, offsetof(ns_config_t, tls), "mqnamesrv TLS, test mode and file"},
    {rmq_netguard_conf_defs, offsetof(ns_config_t, guard), "mqnamesrv connection limits"},
};
#define NS_NPARTS (sizeof(ns_parts) / sizeof(ns_parts[0]))

void ns_config_defaults(ns_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    rmq_conf_parts_defaults(ns_parts, NS_NPARTS, cfg);
}

void ns_config_free(ns_config_t *cfg)
{
    rmq_conf_parts_free(ns_parts, NS_NPARTS, cfg);
}

rmq_err_t ns_config_set(ns_config_t *cfg, const char *key, const char *val, char *errstr, size_t errstr_size)
{
    return rmq_conf_parts_set(ns_parts, NS_NPARTS, cfg, key, val, errstr, errstr_size);
}

static rmq_err_t load_set(void *cfg, const char *key, const char *val, char *errstr, size_t errstr_size)
{
    return ns_config_set(cfg, key, val, errstr, errstr_size);
}

rmq_err_t ns_config_load(ns_config_t *cfg, const char *path, char *errstr, size_t errstr_size)
{
    return rmq_conf_load_with(path, load_set, cfg, "namesrv", errstr, errstr_size);
}

void ns_config_print(const ns_config_t *cfg, FILE *out, bool important_only)
{
    rmq_conf_parts_print(ns_parts, NS_NPARTS, cfg, out, important_only);
}

void ns_config_print_markdown(FILE *out)
{
    rmq_conf_parts_print_markdown(ns_parts, NS_NPARTS, out);
}
