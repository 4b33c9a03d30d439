/* conf.c - comet_conf_t: the client's property table (Java names and 4.9.8
 * defaults) on top of common/rmq_conf, error names, the log hook.
 *
 * A conf is configured by one application thread, then handed to a handle
 * constructor, which owns it from then on. No locks. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comet_int.h"
#include "rmq_alloc.h"
#include "rmq_conf.h"
#include "rmq_log.h"

#define F(x) offsetof(cm_settings_t, x)

static const char *const models[] = {"CLUSTERING", "BROADCASTING", NULL};
static const char *const wheres[] = {"CONSUME_FROM_LAST_OFFSET",
                                     "CONSUME_FROM_FIRST_OFFSET",
                                     "CONSUME_FROM_TIMESTAMP",
                                     "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
                                     "CONSUME_FROM_MIN_OFFSET",
                                     "CONSUME_FROM_MAX_OFFSET",
                                     NULL};
static const char *const levels[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE", NULL};
static const char *const serializations[] = {"JSON", "ROCKETMQ", NULL};

static const rmq_conf_def_t client_props[] = {
    {"namesrvAddr", RMQ_CONF_STR, F(namesrvAddr), "", 0, 0, RMQ_CONF_IMPORTANT,
     "name servers, `host:port;host:port` (env NAMESRV_ADDR when empty)", NULL},
    {"instanceName", RMQ_CONF_STR, F(instanceName), "DEFAULT", 0, 0, 0,
     "client instance name; DEFAULT becomes `<pid>#<n>`", NULL},
    {"clientIP", RMQ_CONF_STR, F(clientIP), "", 0, 0, 0,
     "IP in the client id (first non-loopback IPv4 when empty)", NULL},
    {"unitName", RMQ_CONF_STR, F(unitName), "", 0, 0, 0, "appended to the client id when set", NULL},
    {"producerGroup", RMQ_CONF_STR, F(producerGroup), "DEFAULT_PRODUCER", 0, 0, RMQ_CONF_IMPORTANT,
     "producer group", NULL},
    {"consumerGroup", RMQ_CONF_STR, F(consumerGroup), "", 0, 0, RMQ_CONF_IMPORTANT, "consumer group", NULL},
    {"createTopicKey", RMQ_CONF_STR, F(createTopicKey), "TBW102", 0, 0, 0, "auto-create template topic",
     NULL},
    {"messageModel", RMQ_CONF_STR, F(messageModel), "CLUSTERING", 0, 0, RMQ_CONF_IMPORTANT,
     "CLUSTERING or BROADCASTING", models},
    {"consumeFromWhere", RMQ_CONF_STR, F(consumeFromWhere), "CONSUME_FROM_LAST_OFFSET", 0, 0,
     RMQ_CONF_IMPORTANT, "start position of a group without committed offset", wheres},
    {"consumeTimestamp", RMQ_CONF_STR, F(consumeTimestamp), "", 0, 0, 0,
     "yyyyMMddHHmmss for CONSUME_FROM_TIMESTAMP (default: 30 minutes ago)", NULL},
    {"localOffsetStoreDir", RMQ_CONF_STR, F(localOffsetStoreDir), "", 0, 0, 0,
     "broadcasting offsets directory (default ~/.rocketmq_offsets)", NULL},
    {"logLevel", RMQ_CONF_STR, F(logLevel), "WARN", 0, 0, 0, "library log level", levels},
    {"serializeType", RMQ_CONF_STR, F(serializeType), "JSON", 0, 0, 0,
     "request header format (rocketmq.serialize.type): JSON as Java by default, or the binary ROCKETMQ "
     "header",
     serializations},
    {"sendMsgTimeout", RMQ_CONF_INT, F(sendMsgTimeout), "3000", 1, 3600000, RMQ_CONF_IMPORTANT,
     "send time budget in ms, covering all retries", NULL},
    {"retryTimesWhenSendFailed", RMQ_CONF_INT, F(retryTimesWhenSendFailed), "2", 0, 100, 0,
     "sync send retries on another broker", NULL},
    {"retryTimesWhenSendAsyncFailed", RMQ_CONF_INT, F(retryTimesWhenSendAsyncFailed), "2", 0, 100, 0,
     "async send retries after transport failures", NULL},
    {"retryAnotherBrokerWhenNotStoreOK", RMQ_CONF_BOOL, F(retryAnotherBrokerWhenNotStoreOK), "false", 0, 0, 0,
     "sync: retry when the status is not SEND_OK", NULL},
    {"sendLatencyFaultEnable", RMQ_CONF_BOOL, F(sendLatencyFaultEnable), "false", 0, 0, 0,
     "keep slow or failing brokers out for a while (latency fault tolerance)", NULL},
    {"compressMsgBodyOverHowmuch", RMQ_CONF_INT, F(compressMsgBodyOverHowmuch), "4096", 0, INT32_MAX, 0,
     "zlib-compress bodies of at least this many bytes", NULL},
    {"compressLevel", RMQ_CONF_INT, F(compressLevel), "5", 0, 9, 0,
     "zlib level (rocketmq.message.compressLevel)", NULL},
    {"maxMessageSize", RMQ_CONF_INT, F(maxMessageSize), "4194304", 1, INT32_MAX, 0, "largest body accepted",
     NULL},
    {"defaultTopicQueueNums", RMQ_CONF_INT, F(defaultTopicQueueNums), "4", 1, 1024, 0,
     "queues of auto-created topics", NULL},
    {"maxOutstandingAsync", RMQ_CONF_INT, F(maxOutstandingAsync), "65536", 1, INT32_MAX, 0,
     "async sends in flight before COMET_ERR__QUEUE_FULL", NULL},
    {"pollNameServerInterval", RMQ_CONF_INT, F(pollNameServerInterval), "30000", 10, 3600000, 0,
     "route refresh period (ms)", NULL},
    {"heartbeatBrokerInterval", RMQ_CONF_INT, F(heartbeatBrokerInterval), "30000", 10, 3600000, 0,
     "heartbeat period (ms)", NULL},
    {"persistConsumerOffsetInterval", RMQ_CONF_INT, F(persistConsumerOffsetInterval), "5000", 10, 3600000, 0,
     "offset commit period (ms)", NULL},
    {"mqClientApiTimeout", RMQ_CONF_INT, F(mqClientApiTimeout), "3000", 10, 3600000, 0, "RPC timeout (ms)",
     NULL},
    {"rebalanceInterval", RMQ_CONF_INT, F(rebalanceInterval), "20000", 10, 3600000, 0,
     "rebalance period (ms; rocketmq.client.rebalance.waitInterval)", NULL},
    {"consumeThreadMin", RMQ_CONF_INT, F(consumeThreadMin), "20", 1, 1000, 0, "consume threads", NULL},
    {"consumeThreadMax", RMQ_CONF_INT, F(consumeThreadMax), "20", 1, 1000, 0, "accepted for compatibility",
     NULL},
    {"pullThresholdForQueue", RMQ_CONF_INT, F(pullThresholdForQueue), "1000", 1, 65535, 0,
     "cached messages per queue before pulls pause", NULL},
    {"pullThresholdSizeForQueue", RMQ_CONF_INT, F(pullThresholdSizeForQueue), "100", 1, 1024, 0,
     "cached MiB per queue before pulls pause", NULL},
    {"consumeConcurrentlyMaxSpan", RMQ_CONF_INT, F(consumeConcurrentlyMaxSpan), "2000", 1, 65535, 0,
     "max offset span of cached messages per queue", NULL},
    {"pullBatchSize", RMQ_CONF_INT, F(pullBatchSize), "32", 1, 1024, 0, "messages per pull", NULL},
    {"pullInterval", RMQ_CONF_INT, F(pullInterval), "0", 0, 65535, 0, "pause between pulls (ms)", NULL},
    {"consumeMessageBatchMaxSize", RMQ_CONF_INT, F(consumeMessageBatchMaxSize), "1", 1, 1024, 0,
     "messages per consume callback", NULL},
    {"maxReconsumeTimes", RMQ_CONF_INT, F(maxReconsumeTimes), "-1", -1, 100000, 0,
     "redeliveries before the dead-letter queue (-1 = 16)", NULL},
    {"brokerSuspendMaxTimeMillis", RMQ_CONF_INT, F(brokerSuspendMaxTimeMillis), "15000", 0, 3600000, 0,
     "long-poll hold time (ms)", NULL},
    {"consumerPullTimeoutMillis", RMQ_CONF_INT, F(consumerPullTimeoutMillis), "30000", 10, 3600000, 0,
     "pull RPC timeout (ms)", NULL},
    {"pullTimeDelayMillsWhenException", RMQ_CONF_INT, F(pullTimeDelayMillsWhenException), "1000", 0, 3600000,
     0, "pause after a failed pull (ms)", NULL},
    {"consumeOrderly", RMQ_CONF_BOOL, F(consumeOrderly), "false", 0, 0, 0,
     "push consumer: consume each queue in order, one batch at a time (Java's MessageListenerOrderly); "
     "clustering consumers lock their queues on the broker",
     NULL},
    {"postSubscriptionWhenPull", RMQ_CONF_BOOL, F(postSubscriptionWhenPull), "false", 0, 0, 0,
     "send the subscription with every pull", NULL},
    {"pollQueueMaxSize", RMQ_CONF_INT, F(pollQueueMaxSize), "10000", 1, INT32_MAX, 0,
     "pull consumer: messages buffered for poll()", NULL},
    RMQ_CONF_END,
};

const char *comet_version_str(void)
{
    return COMET_VERSION_STR;
}

comet_conf_t *comet_conf_new(void)
{
    comet_conf_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    rmq_conf_defaults(client_props, &c->s);
    return c;
}

comet_conf_t *comet_conf_dup(const comet_conf_t *src)
{
    if (!src)
        return NULL;
    comet_conf_t *c = comet_conf_new();
    if (!c)
        return NULL;
    char buf[4096];
    for (const rmq_conf_def_t *d = client_props; d->name; d++) {
        if (comet_conf_get(src, d->name, buf, sizeof(buf)) == COMET_CONF_OK)
            rmq_conf_set(client_props, &c->s, d->name, buf, NULL, 0);
    }
    c->opaque = src->opaque;
    c->log_cb = src->log_cb;
    c->send_cb = src->send_cb;
    return c;
}

void comet_conf_destroy(comet_conf_t *conf)
{
    if (!conf)
        return;
    rmq_conf_free(client_props, &conf->s);
    free(conf);
}

comet_conf_res_t comet_conf_set(comet_conf_t *conf, const char *name, const char *value, char *errstr,
                                size_t errstr_size)
{
    if (!conf || !name || !value) {
        cm_errstr(errstr, errstr_size, "NULL argument");
        return COMET_CONF_INVALID;
    }
    rmq_err_t e = rmq_conf_set(client_props, &conf->s, name, value, errstr, errstr_size);
    if (e == RMQ_ERR__NOENT) {
        cm_errstr(errstr, errstr_size, "unknown property \"%s\"", name);
        return COMET_CONF_UNKNOWN;
    }
    return e == RMQ_OK ? COMET_CONF_OK : COMET_CONF_INVALID;
}

comet_conf_res_t comet_conf_get(const comet_conf_t *conf, const char *name, char *dest, size_t dest_size)
{
    const rmq_conf_def_t *d = rmq_conf_find(client_props, name);
    if (!d)
        return COMET_CONF_UNKNOWN;
    const char *p = (const char *)&conf->s + d->offset;
    int n;
    switch (d->type) {
    case RMQ_CONF_STR:
        n = snprintf(dest, dest_size, "%s", *(char *const *)p ? *(char *const *)p : "");
        break;
    case RMQ_CONF_INT:
        n = snprintf(dest, dest_size, "%d", *(const int32_t *)p);
        break;
    case RMQ_CONF_LONG:
        n = snprintf(dest, dest_size, "%lld", (long long)*(const int64_t *)p);
        break;
    default:
        n = snprintf(dest, dest_size, "%s", *(const bool *)p ? "true" : "false");
        break;
    }
    return (n < 0 || (size_t)n >= dest_size) ? COMET_CONF_INVALID : COMET_CONF_OK;
}

comet_err_t comet_conf_load_file(comet_conf_t *conf, const char *path, char *errstr, size_t errstr_size)
{
    return (comet_err_t)rmq_conf_load_file(client_props, &conf->s, path, "client", errstr, errstr_size);
}

void comet_conf_properties_show(FILE *out)
{
    rmq_conf_print_markdown(client_props, "libcomet properties", out);
}
void comet_conf_set_opaque(comet_conf_t *conf, void *opaque)
{
    conf->opaque = opaque;
}
void comet_conf_set_log_cb(comet_conf_t *conf, void (*cb)(void *, int, const char *, const char *))
{
    conf->log_cb = cb;
}
void comet_conf_set_send_cb(comet_conf_t *conf, comet_send_cb_t *cb)
{
    conf->send_cb = cb;
}

const char *comet_err2str(comet_err_t err)
{
    return rmq_err2str((int)err);
}
const char *comet_err2name(comet_err_t err)
{
    return rmq_err2name((int)err);
}

const char *comet_send_status_name(comet_send_status_t st)
{
    switch (st) {
    case COMET_SEND_OK:
        return "SEND_OK";
    case COMET_SEND_FLUSH_DISK_TIMEOUT:
        return "FLUSH_DISK_TIMEOUT";
    case COMET_SEND_FLUSH_SLAVE_TIMEOUT:
        return "FLUSH_SLAVE_TIMEOUT";
    case COMET_SEND_SLAVE_NOT_AVAILABLE:
        return "SLAVE_NOT_AVAILABLE";
    }
    return "UNKNOWN";
}

void cm_errstr(char *errstr, size_t n, const char *fmt, ...)
{
    if (!errstr || !n)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, n, fmt, ap);
    va_end(ap);
}

void cm_set_ext_i64(rmq_cmd_t *c, const char *k, int64_t v)
{
    rmq_cmd_set_ext_i64(c, k, v);
}

/* The log hook is process-wide (common/rmq_log): the newest handle's
 * callback wins; without one, stderr at logLevel. */
static void *log_opaque;
static void (*log_user_cb)(void *, int, const char *, const char *);
static void log_tramp(void *op, int level, const char *fac, const char *msg)
{
    (void)op;
    if (log_user_cb)
        log_user_cb(log_opaque, level, fac, msg);
}

void cm_log_install(const comet_conf_t *conf)
{
    int lvl = rmq_log_level_parse(conf->s.logLevel && *conf->s.logLevel ? conf->s.logLevel : "WARN");
    rmq_log_level = lvl < 0 ? RMQ_LOG_WARN : lvl;
    if (conf->log_cb) {
        log_user_cb = conf->log_cb;
        log_opaque = conf->opaque;
        rmq_log_set_callback(log_tramp, NULL);
    }
}
