/* namesrv.c - the name server controller: settings table, request
 * processors (RocketMQ DefaultRequestProcessor), broker expiry timer, signal
 * handling and the boot line.
 *
 * Everything runs on the one thread that runs the event_base (DESIGN.md §5):
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

#include "kv_config.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_conn.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_msg_codec.h"
#include "rmq_time.h"
#include "route_info.h"

#define F(x) offsetof(ns_config_t, x)
#define IMP RMQ_CONF_IMPORTANT
#define COMPAT "accepted for compatibility with RocketMQ; no effect"

static const char *const log_levels[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE", NULL};

const rmq_conf_def_t ns_conf_defs[] = {
    {"rocketmqHome", RMQ_CONF_STR, F(rocketmqHome), "", 0, -1, IMP, "home directory (ROCKETMQ_HOME)", NULL},
    {"kvConfigPath", RMQ_CONF_STR, F(kvConfigPath), "", 0, -1, IMP,
     "KV config file; empty = $HOME/namesrv/kvConfig.json", NULL},
    {"configStorePath", RMQ_CONF_STR, F(configStorePath), "", 0, -1, 0, COMPAT, NULL},
    {"productEnvName", RMQ_CONF_STR, F(productEnvName), "center", 0, -1, 0, COMPAT, NULL},
    {"clusterTest", RMQ_CONF_BOOL, F(clusterTest), "false", 0, -1, 0, COMPAT, NULL},
    {"orderMessageEnable", RMQ_CONF_BOOL, F(orderMessageEnable), "false", 0, -1, 0,
     "add orderTopicConf (KV namespace ORDER_TOPIC_CONFIG) to route answers", NULL},
    {"listenPort", RMQ_CONF_INT, F(listenPort), "9876", 0, 65535, IMP, "TCP port for clients and brokers", NULL},
    {"serverWorkerThreads", RMQ_CONF_INT, F(serverWorkerThreads), "8", 0, -1, 0, COMPAT, NULL},
    {"serverCallbackExecutorThreads", RMQ_CONF_INT, F(serverCallbackExecutorThreads), "0", 0, -1, 0, COMPAT, NULL},
    {"serverSelectorThreads", RMQ_CONF_INT, F(serverSelectorThreads), "3", 0, -1, 0, COMPAT, NULL},
    {"serverOnewaySemaphoreValue", RMQ_CONF_INT, F(serverOnewaySemaphoreValue), "256", 0, -1, 0, COMPAT, NULL},
    {"serverAsyncSemaphoreValue", RMQ_CONF_INT, F(serverAsyncSemaphoreValue), "64", 0, -1, 0, COMPAT, NULL},
    {"serverChannelMaxIdleTimeSeconds", RMQ_CONF_INT, F(serverChannelMaxIdleTimeSeconds), "120", 0, 86400, 0,
     "close a connection after this many seconds without input (0 = never)", NULL},
    {"serverSocketSndBufSize", RMQ_CONF_INT, F(serverSocketSndBufSize), "65535", 0, -1, 0, COMPAT, NULL},
    {"serverSocketRcvBufSize", RMQ_CONF_INT, F(serverSocketRcvBufSize), "65535", 0, -1, 0, COMPAT, NULL},
    {"serverPooledByteBufAllocatorEnable", RMQ_CONF_BOOL, F(serverPooledByteBufAllocatorEnable), "true", 0, -1, 0,
     COMPAT, NULL},
    {"useEpollNativeSelector", RMQ_CONF_BOOL, F(useEpollNativeSelector), "false", 0, -1, 0, COMPAT, NULL},
    {"listenAddress", RMQ_CONF_STR, F(listenAddress), "0.0.0.0", 0, -1, IMP, "address to bind (Comet)", NULL},
    {"brokerChannelExpiredTime", RMQ_CONF_LONG, F(brokerChannelExpiredTime), "120000", 100, 86400000, IMP,
     "drop a broker not registered for this many ms (Comet; RocketMQ hard-codes 120 s)", NULL},
    {"scanNotActiveBrokerInterval", RMQ_CONF_LONG, F(scanNotActiveBrokerInterval), "10000", 50, 3600000, 0,
     "how often to look for expired brokers, ms (Comet; RocketMQ hard-codes 10 s)", NULL},
    {"frameMaxLength", RMQ_CONF_INT, F(frameMaxLength), "16777212", 1024, 1073741824, 0,
     "largest accepted frame in bytes; larger frames close the connection", NULL},
    {"logLevel", RMQ_CONF_STR, F(logLevel), "INFO", 0, -1, 0, "ERROR, WARN, INFO, DEBUG or TRACE (Comet)", log_levels},
    {"logFile", RMQ_CONF_STR, F(logFile), "", 0, -1, 0, "log file (reopened on SIGHUP); empty = stderr (Comet)",
     NULL},
    RMQ_CONF_END,
};

#define NS_ORDER_TOPIC_CONFIG "ORDER_TOPIC_CONFIG"
#define VERSION_V3_0_11 37
#define VERSION_V4_9_4 401

struct ns_server_s {
    ns_config_t *cfg;
    struct event_base *base;
    rmq_endpoint_t *ep;
    ns_route_info_t routes;
    ns_kv_t *kv;
    struct event *scan_timer;
    struct event *sig_term, *sig_int, *sig_hup;
    int exit_code;
};

/* ---------- request helpers ---------- */

static void reply(rmq_conn_t *c, const rmq_cmd_t *req, int code, const char *remark)
{
    rmq_cmd_t resp;
    rmq_cmd_init_response(&resp, req, code, remark);
    rmq_conn_reply(c, req, &resp);
    rmq_cmd_deinit(&resp);
}

/* Required string field; answers SYSTEM_ERROR as Java does when absent. */
static const char *need(rmq_conn_t *c, const rmq_cmd_t *req, const char *field)
{
    const char *v = rmq_cmd_ext(req, field);
    if (!v) {
        char remark[160];
        snprintf(remark, sizeof(remark), "the custom field <%s> is null", field);
        reply(c, req, RMQ_ERR_SYSTEM_ERROR, remark);
    }
    return v;
}

static bool need_i64(rmq_conn_t *c, const rmq_cmd_t *req, const char *field, int64_t *out)
{
    rmq_err_t r = rmq_cmd_ext_i64(req, field, out);
    if (r == RMQ_OK)
        return true;
    char remark[160];
    if (r == RMQ_ERR__NOENT)
        snprintf(remark, sizeof(remark), "the custom field <%s> is null", field);
    else
        snprintf(remark, sizeof(remark), "the custom field <%s> is not a number: %s", field, rmq_cmd_ext(req, field));
    reply(c, req, RMQ_ERR_SYSTEM_ERROR, remark);
    return false;
}

static void reply_body(rmq_conn_t *c, const rmq_cmd_t *req, rmq_buf_t *body)
{
    rmq_cmd_t resp;
    rmq_cmd_init_response(&resp, req, RMQ_OK, NULL);
    size_t n;
    uint8_t *p = rmq_buf_detach(body, &n);
    rmq_cmd_take_body(&resp, p, n);
    rmq_conn_reply(c, req, &resp);
    rmq_cmd_deinit(&resp);
}

/* ---------- REGISTER_BROKER body ---------- */

typedef struct reg_body_s {
    ns_data_version_t dv;
    ns_topic_conf_t *topics;
    size_t n_topics;
    char **names; /* owned topic names */
    char *filter_servers;
} reg_body_t;

static void reg_body_free(reg_body_t *b)
{
    for (size_t i = 0; i < b->n_topics; i++)
        free(b->names[i]);
    free(b->names);
    free(b->topics);
    free(b->filter_servers);
    memset(b, 0, sizeof(*b));
}

static void reg_body_add(reg_body_t *b, const char *name, int64_t r, int64_t w, int64_t perm, int64_t sysflag)
{
    b->topics = rmq_realloc(b->topics, (b->n_topics + 1) * sizeof(*b->topics));
    b->names = rmq_realloc(b->names, (b->n_topics + 1) * sizeof(*b->names));
    b->names[b->n_topics] = rmq_strdup(name);
    b->topics[b->n_topics] = (ns_topic_conf_t){b->names[b->n_topics], (int32_t)r, (int32_t)w, (int32_t)perm,
                                               (int32_t)sysflag};
    b->n_topics++;
}

static bool parse_wrapper(json_t *wrap, reg_body_t *b, char *err, size_t es)
{
    if (!json_is_object(wrap)) {
        snprintf(err, es, "topicConfigSerializeWrapper missing");
        return false;
    }
    json_t *dv = json_object_get(wrap, "dataVersion");
    if (json_is_object(dv)) {
        rmq_json_int(dv, "counter", &b->dv.counter);
        rmq_json_int(dv, "timestamp", &b->dv.timestamp);
    }
    json_t *tbl = json_object_get(wrap, "topicConfigTable");
    if (tbl && !json_is_object(tbl)) {
        snprintf(err, es, "topicConfigTable is not an object");
        return false;
    }
    const char *key;
    json_t *tc;
    json_object_foreach(tbl, key, tc)
    {
        if (!json_is_object(tc)) {
            snprintf(err, es, "topic config of %s is not an object", key);
            return false;
        }
        const char *name = rmq_json_str(tc, "topicName");
        int64_t r = 16, w = 16, perm = 6, sysflag = 0;
        rmq_json_int(tc, "readQueueNums", &r);
        rmq_json_int(tc, "writeQueueNums", &w);
        rmq_json_int(tc, "perm", &perm);
        rmq_json_int(tc, "topicSysFlag", &sysflag);
        reg_body_add(b, name ? name : key, r, w, perm, sysflag);
    }
    return true;
}

/* Compressed RegisterBrokerBody (RegisterBrokerBody.encode(true)). */
static bool parse_compressed(const uint8_t *p, size_t n, reg_body_t *b, char *err, size_t es)
{
    rmq_buf_t raw;
    rmq_buf_init(&raw);
    bool ok = false;
    if (rmq_msg_inflate(p, n, &raw, 64u * 1024 * 1024) != RMQ_OK) {
        snprintf(err, es, "compressed body does not inflate");
        goto out;
    }
    rmq_rd_t r;
    rmq_rd_init(&r, raw.data, raw.len);
    uint32_t dl = rmq_rd_u32(&r);
    const uint8_t *dvj = rmq_rd_bytes(&r, dl);
    if (!dvj) {
        snprintf(err, es, "compressed body: truncated data version");
        goto out;
    }
    json_t *dv = rmq_json_parse((const char *)dvj, dl, err, es);
    if (!dv)
        goto out;
    rmq_json_int(dv, "counter", &b->dv.counter);
    rmq_json_int(dv, "timestamp", &b->dv.timestamp);
    json_decref(dv);
    uint32_t count = rmq_rd_u32(&r);
    if (r.err || count > 1000000) {
        snprintf(err, es, "compressed body: bad topic count");
        goto out;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t tl = rmq_rd_u32(&r);
        const uint8_t *t = rmq_rd_bytes(&r, tl);
        if (!t) {
            snprintf(err, es, "compressed body: truncated topic config %u", i);
            goto out;
        }
        /* "<topicName> <read> <write> <perm> <filterType>" */
        char *s = rmq_strndup((const char *)t, tl);
        char name[256];
        long rq, wq, perm;
        char ftype[32];
        int got = sscanf(s, "%255s %ld %ld %ld %31s", name, &rq, &wq, &perm, ftype);
        free(s);
        if (got < 4) {
            snprintf(err, es, "compressed body: bad topic config %u", i);
            goto out;
        }
        reg_body_add(b, name, rq, wq, perm, 0);
    }
    uint32_t fl = rmq_rd_u32(&r);
    const uint8_t *fs = rmq_rd_bytes(&r, fl);
    if (fs && fl)
        b->filter_servers = rmq_strndup((const char *)fs, fl);
    ok = true;
out:
    rmq_buf_free(&raw);
    return ok;
}

static bool parse_register_body(const rmq_cmd_t *req, bool compressed, reg_body_t *b, char *err, size_t es)
{
    memset(b, 0, sizeof(*b));
    if (!req->body_len)
        return true; /* empty body: empty wrapper, data version 0/0 */
    if (compressed)
        return parse_compressed(req->body, req->body_len, b, err, es);
    json_t *j = rmq_json_parse((const char *)req->body, req->body_len, err, es);
    if (!j)
        return false;
    bool ok;
    if (req->version >= VERSION_V3_0_11) {
        ok = parse_wrapper(json_object_get(j, "topicConfigSerializeWrapper"), b, err, es);
        json_t *fsl = json_object_get(j, "filterServerList");
        if (ok && json_is_array(fsl) && json_array_size(fsl) > 0)
            b->filter_servers = json_dumps(fsl, JSON_COMPACT);
    } else {
        ok = parse_wrapper(j, b, err, es);
    }
    json_decref(j);
    return ok;
}

/* ---------- processors ---------- */

static void on_register_broker(rmq_conn_t *c, rmq_cmd_t *req, void *ctx)
{
    ns_server_t *s = ctx;
    const char *name, *addr, *cluster, *ha;
    int64_t id;
    if (!(name = need(c, req, "brokerName")) || !(addr = need(c, req, "brokerAddr")) ||
        !(cluster = need(c, req, "clusterName")) || !(ha = need(c, req, "haServerAddr")) ||
        !need_i64(c, req, "brokerId", &id))
        return;
    bool compressed = false;
    rmq_cmd_ext_bool(req, "compressed", &compressed);
    int64_t crc = 0;
    rmq_cmd_ext_i64(req, "bodyCrc32", &crc);
    if (crc != 0) {
        int64_t actual = rmq_msg_body_crc(req->body, req->body_len);
        if (actual != crc) {
            rmq_log(RMQ_LOG_WARN, "namesrv", "REGISTER_BROKER from %s: body crc32 %" PRId64 " != %" PRId64,
                    rmq_conn_peer(c), actual, crc);
            reply(c, req, RMQ_ERR_SYSTEM_ERROR, "crc32 not match");
            return;
        }
    }
    reg_body_t body;
    char err[256];
    if (!parse_register_body(req, compressed, &body, err, sizeof(err))) {
        rmq_log(RMQ_LOG_WARN, "namesrv", "REGISTER_BROKER from %s: %s", rmq_conn_peer(c), err);
        reply(c, req, RMQ_ERR_SYSTEM_ERROR, err);
        reg_body_free(&body);
        return;
    }
    ns_register_t reg = {cluster, addr, name, id, ha, body.dv, body.topics, body.n_topics, body.filter_servers,
                         rmq_conn_id(c)};
    ns_register_result_t res;
    bool known = rmq_map_has(&s->routes.live, addr);
    ns_route_register(&s->routes, &reg, rmq_now_ms(), &res);
    if (!known)
        rmq_log(RMQ_LOG_INFO, "namesrv", "new broker registered, %s %s id %" PRId64 " cluster %s, %zu topics", addr,
                name, id, cluster, body.n_topics);
    reg_body_free(&body);

    rmq_cmd_t resp;
    rmq_cmd_init_response(&resp, req, RMQ_OK, NULL);
    resp.has_ext = true;
    if (res.master_addr[0]) {
        rmq_cmd_set_ext(&resp, "haServerAddr", res.ha_server_addr);
        rmq_cmd_set_ext(&resp, "masterAddr", res.master_addr);
    }
    rmq_buf_t kvb;
    rmq_buf_init(&kvb);
    if (ns_kv_list(s->kv, NS_ORDER_TOPIC_CONFIG, &kvb)) {
        size_t n;
        uint8_t *p = rmq_buf_detach(&kvb, &n);
        rmq_cmd_take_body(&resp, p, n);
    }
    rmq_buf_free(&kvb);
    rmq_conn_reply(c, req, &resp);
    rmq_cmd_deinit(&resp);
}

static void on_unregister_broker(rmq_conn_t *c, rmq_cmd_t *req, void *ctx)
{
    ns_server_t *s = ctx;
    const char *name, *addr, *cluster;
    int64_t id;
    if (!(name = need(c, req, "brokerName")) || !(addr = need(c, req, "brokerAddr")) ||
        !(cluster = need(c, req, "clusterName")) || !need_i64(c, req, "brokerId", &id))
        return;
    if (ns_route_unregister(&s->routes, cluster, addr, name, id))
        rmq_log(RMQ_LOG_INFO, "namesrv", "broker unregistered, %s %s id %" PRId64, addr, name, id);
    reply(c, req, RMQ_OK, NULL);
}

static void on_get_route(rmq_conn_t *c, rmq_cmd_t *req, void *ctx)
{
    ns_server_t *s = ctx;
    const char *topic = need(c, req, "topic");
    if (!topic)
        return;
    bool std_only = false;
    rmq_cmd_ext_bool(req, "acceptStandardJsonOnly", &std_only);
    bool standard = req->version >= VERSION_V4_9_4 || std_only;
    const char *order_conf = s->cfg->orderMessageEnable ? ns_kv_get(s->kv, NS_ORDER_TOPIC_CONFIG, topic) : NULL;
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

static void on_cluster_info(rmq_conn_t *c, rmq_cmd_t *req, void *ctx)
{
    ns_server_t *s = ctx;
    rmq_buf_t b;
    rmq_buf_init(&b);
    ns_route_cluster_info(&s->routes, &b);
    reply_body(c, req, &b);
}

static void on_topic_list(rmq_conn_t *c, rmq_cmd_t *req, void *ctx)
{
    ns_server_t *s = ctx;
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
        ns_route_topic_list_by_flag(&s->routes, 0x1, false, &b);
        break;
    case RMQ_REQ_GET_HAS_UNIT_SUB_TOPIC_LIST:
        ns_route_topic_list_by_flag(&s->routes, 0x2, false, &b);
        break;
    default: /* GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST: UNIT_SUB set, UNIT clear */
        ns_route_topic_list_by_flag(&s->routes, 0x2, true, &b);
        break;
    }
    reply_body(c, req, &b);
}

static void on_topics_by_cluster(rmq_conn_t *c, rmq_cmd_t *req, void *ctx)
{
    ns_server_t *s = ctx;
    const char *cluster = need(c, req, "cluster");
    if (!cluster)
        return;
    rmq_buf_t b;
    rmq_buf_init(&b);
    if (!ns_route_topics_by_cluster(&s->routes, cluster, &b)) {
        /* Java answers an empty list for an unknown cluster */
        rmq_buf_puts(&b, "{\"topicList\":[]}");
    }
    reply_body(c, req, &b);
}

static void on_write_perm(rmq_conn_t *c, rmq_cmd_t *req, void *ctx)
{
    ns_server_t *s = ctx;
    const char *name = need(c, req, "brokerName");
    if (!name)
        return;
    bool wipe = req->code == RMQ_REQ_WIPE_WRITE_PERM_OF_BROKER;
    int n = wipe ? ns_route_wipe_write_perm(&s->routes, name) : ns_route_add_write_perm(&s->routes, name);
    rmq_log(RMQ_LOG_INFO, "namesrv", "%s write permission of broker %s: %d topics", wipe ? "wiped" : "added", name,
            n);
    rmq_cmd_t resp;
    rmq_cmd_init_response(&resp, req, RMQ_OK, NULL);
    rmq_cmd_set_ext_i64(&resp, wipe ? "wipeTopicCount" : "addTopicCount", n);
    rmq_conn_reply(c, req, &resp);
    rmq_cmd_deinit(&resp);
}

static void on_delete_topic(rmq_conn_t *c, rmq_cmd_t *req, void *ctx)
{
    ns_server_t *s = ctx;
    const char *topic = need(c, req, "topic");
    if (!topic)
        return;
    ns_route_delete_topic(&s->routes, topic, rmq_cmd_ext(req, "clusterName"));
    reply(c, req, RMQ_OK, NULL);
}

static void on_query_data_version(rmq_conn_t *c, rmq_cmd_t *req, void *ctx)
{
    ns_server_t *s = ctx;
    const char *addr;
    int64_t id;
    if (!need(c, req, "brokerName") || !(addr = need(c, req, "brokerAddr")) || !need(c, req, "clusterName") ||
        !need_i64(c, req, "brokerId", &id))
        return;
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
    ns_data_version_t stored;
    bool changed = ns_route_query_data_version(&s->routes, addr, &dv, rmq_now_ms(), &stored);
    rmq_cmd_t resp;
    rmq_cmd_init_response(&resp, req, RMQ_OK, NULL);
    rmq_cmd_set_ext_bool(&resp, "changed", changed);
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_buf_printf(&b, "{\"counter\":%" PRId64 ",\"timestamp\":%" PRId64 "}", stored.counter, stored.timestamp);
    size_t n;
    uint8_t *p = rmq_buf_detach(&b, &n);
    rmq_cmd_take_body(&resp, p, n);
    rmq_conn_reply(c, req, &resp);
    rmq_cmd_deinit(&resp);
}

static void on_kv(rmq_conn_t *c, rmq_cmd_t *req, void *ctx)
{
    ns_server_t *s = ctx;
    const char *ns = need(c, req, "namespace");
    if (!ns)
        return;
    if (req->code == RMQ_REQ_GET_KVLIST_BY_NAMESPACE) {
        rmq_buf_t b;
        rmq_buf_init(&b);
        if (ns_kv_list(s->kv, ns, &b)) {
            reply_body(c, req, &b);
        } else {
            rmq_buf_free(&b);
            char remark[300];
            snprintf(remark, sizeof(remark), "No config item, Namespace: %s", ns);
            reply(c, req, RMQ_ERR_QUERY_NOT_FOUND, remark);
        }
        return;
    }
    const char *key = need(c, req, "key");
    if (!key)
        return;
    switch (req->code) {
    case RMQ_REQ_PUT_KV_CONFIG: {
        const char *value = need(c, req, "value");
        if (!value)
            return;
        ns_kv_put(s->kv, ns, key, value);
        reply(c, req, RMQ_OK, NULL);
        break;
    }
    case RMQ_REQ_GET_KV_CONFIG: {
        const char *v = ns_kv_get(s->kv, ns, key);
        if (!v) {
            char remark[300];
            snprintf(remark, sizeof(remark), "No config item, Namespace: %s Key: %s", ns, key);
            reply(c, req, RMQ_ERR_QUERY_NOT_FOUND, remark);
            return;
        }
        rmq_cmd_t resp;
        rmq_cmd_init_response(&resp, req, RMQ_OK, NULL);
        rmq_cmd_set_ext(&resp, "value", v);
        rmq_conn_reply(c, req, &resp);
        rmq_cmd_deinit(&resp);
        break;
    }
    default:
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
    static const char *const fixed[] = {"listenPort", "listenAddress", "kvConfigPath", "rocketmqHome", "logFile", NULL};
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
        rmq_log_level = rmq_log_level_parse(value);
    return 0;
}

static void on_namesrv_config(rmq_conn_t *c, rmq_cmd_t *req, void *ctx)
{
    ns_server_t *s = ctx;
    if (req->code == RMQ_REQ_GET_NAMESRV_CONFIG) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        rmq_conf_print(ns_conf_defs, s->cfg, f, false);
        fclose(f);
        rmq_cmd_t resp;
        rmq_cmd_init_response(&resp, req, RMQ_OK, NULL);
        rmq_cmd_take_body(&resp, (uint8_t *)text, len);
        rmq_conn_reply(c, req, &resp);
        rmq_cmd_deinit(&resp);
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
        char *dir = rmq_asprintf("%s/namesrv", home ? home : ".");
        mkdir(dir, 0755);
        free(dir);
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
    s->ep = rmq_server_new(s->base, cfg->listenAddress, cfg->listenPort, &o, errstr, errstr_size);
    if (!s->ep)
        goto err;
    static const struct {
        int code;
        rmq_req_handler_t h;
    } handlers[] = {
        {RMQ_REQ_REGISTER_BROKER, on_register_broker},
        {RMQ_REQ_UNREGISTER_BROKER, on_unregister_broker},
        {RMQ_REQ_GET_ROUTEINFO_BY_TOPIC, on_get_route},
        {RMQ_REQ_GET_BROKER_CLUSTER_INFO, on_cluster_info},
        {RMQ_REQ_GET_ALL_TOPIC_LIST_FROM_NAMESERVER, on_topic_list},
        {RMQ_REQ_GET_SYSTEM_TOPIC_LIST_FROM_NS, on_topic_list},
        {RMQ_REQ_GET_UNIT_TOPIC_LIST, on_topic_list},
        {RMQ_REQ_GET_HAS_UNIT_SUB_TOPIC_LIST, on_topic_list},
        {RMQ_REQ_GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST, on_topic_list},
        {RMQ_REQ_GET_TOPICS_BY_CLUSTER, on_topics_by_cluster},
        {RMQ_REQ_WIPE_WRITE_PERM_OF_BROKER, on_write_perm},
        {RMQ_REQ_ADD_WRITE_PERM_OF_BROKER, on_write_perm},
        {RMQ_REQ_DELETE_TOPIC_IN_NAMESRV, on_delete_topic},
        {RMQ_REQ_QUERY_DATA_VERSION, on_query_data_version},
        {RMQ_REQ_PUT_KV_CONFIG, on_kv},
        {RMQ_REQ_GET_KV_CONFIG, on_kv},
        {RMQ_REQ_DELETE_KV_CONFIG, on_kv},
        {RMQ_REQ_GET_KVLIST_BY_NAMESPACE, on_kv},
        {RMQ_REQ_UPDATE_NAMESRV_CONFIG, on_namesrv_config},
        {RMQ_REQ_GET_NAMESRV_CONFIG, on_namesrv_config},
    };
    for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
        rmq_endpoint_set_handler(s->ep, handlers[i].code, handlers[i].h, s);
    rmq_endpoint_set_close_cb(s->ep, on_conn_closed, s);

    s->scan_timer = event_new(s->base, -1, EV_PERSIST, on_scan, s);
    struct timeval tv = {cfg->scanNotActiveBrokerInterval / 1000, (cfg->scanNotActiveBrokerInterval % 1000) * 1000};
    event_add(s->scan_timer, &tv);
    s->sig_term = evsignal_new(s->base, SIGTERM, on_signal, s);
    s->sig_int = evsignal_new(s->base, SIGINT, on_signal, s);
    s->sig_hup = evsignal_new(s->base, SIGHUP, on_signal, s);
    event_add(s->sig_term, NULL);
    event_add(s->sig_int, NULL);
    event_add(s->sig_hup, NULL);
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
    rmq_endpoint_destroy(s->ep);
    if (s->scan_timer)
        event_free(s->scan_timer);
    if (s->sig_term)
        event_free(s->sig_term);
    if (s->sig_int)
        event_free(s->sig_int);
    if (s->sig_hup)
        event_free(s->sig_hup);
    ns_kv_close(s->kv); /* waits for the last KV write */
    ns_route_deinit(&s->routes);
    if (s->base)
        event_base_free(s->base);
    free(s);
}
