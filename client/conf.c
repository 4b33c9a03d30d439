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

static const char *const models[] = {
    [CM_CLUSTERING] = "CLUSTERING", [CM_BROADCASTING] = "BROADCASTING", NULL};
const char *const cm_consume_from_names[] = {[CM_FROM_LAST_OFFSET] = "CONSUME_FROM_LAST_OFFSET",
                                             [CM_FROM_FIRST_OFFSET] = "CONSUME_FROM_FIRST_OFFSET",
                                             [CM_FROM_TIMESTAMP] = "CONSUME_FROM_TIMESTAMP",
                                             [CM_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST] =
                                                 "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
                                             [CM_FROM_MIN_OFFSET] = "CONSUME_FROM_MIN_OFFSET",
                                             [CM_FROM_MAX_OFFSET] = "CONSUME_FROM_MAX_OFFSET",
                                             NULL};
static const char *const serializations[] = {
    [CM_SERIALIZE_JSON] = "JSON", [CM_SERIALIZE_ROCKETMQ] = "ROCKETMQ", NULL};

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
    {"messageModel", RMQ_CONF_ENUM, F(messageModel), "CLUSTERING", 0, 0, RMQ_CONF_IMPORTANT,
     "CLUSTERING or BROADCASTING", models},
    {"consumeFromWhere", RMQ_CONF_ENUM, F(consumeFromWhere), "CONSUME_FROM_LAST_OFFSET", 0, 0,
     RMQ_CONF_IMPORTANT, "start position of a group without committed offset", cm_consume_from_names},
    {"consumeTimestamp", RMQ_CONF_STR, F(consumeTimestamp), "", 0, 0, 0,
     "yyyyMMddHHmmss for CONSUME_FROM_TIMESTAMP (default: 30 minutes ago)", NULL},
    {"localOffsetStoreDir", RMQ_CONF_STR, F(localOffsetStoreDir), "", 0, 0, 0,
     "broadcasting offsets directory (default ~/.rocketmq_offsets)", NULL},
    {"logLevel", RMQ_CONF_ENUM, F(logLevel), "WARN", 0, 0, 0, "library log level", rmq_log_level_names},
    {"serializeType", RMQ_CONF_ENUM, F(serializeType), "ROCKETMQ", 0, 0, 0,
     "request header format (rocketmq.serialize.type): the binary ROCKETMQ header (default; every "
     "RocketMQ 4.x broker and name server reads it, at a quarter of JSON's decoding cost) or JSON "
     "(Java's default)",
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
    {"accessKey", RMQ_CONF_STR, F(accessKey), "", 0, 0, 0,
     "ACL access key: with secretKey, every request is signed as RocketMQ's AclClientRPCHook signs it", NULL},
    {"secretKey", RMQ_CONF_STR, F(secretKey), "", 0, 0, 0, "ACL secret key (HMAC-SHA1 signatures)", NULL},
    {"securityToken", RMQ_CONF_STR, F(securityToken), "", 0, 0, 0,
     "ACL: optional SecurityToken sent with signed requests", NULL},
    {"useTLS", RMQ_CONF_BOOL, F(tls.enable), "false", 0, 0, 0,
     "connect to name servers and brokers with TLS (Java ClientConfig.useTLS; same as tls.enable)", NULL},
    {"tls.enable", RMQ_CONF_BOOL, F(tls.enable), "false", 0, 0, 0, "same as useTLS (Java's system property)",
     NULL},
    {"tls.client.authServer", RMQ_CONF_BOOL, F(tls.client_auth_server), "true", 0, 0, 0,
     "verify server certificates against tls.client.trustCertPath or the system CAs (Comet default true; "
     "Java's is false)",
     NULL},
    {"tls.client.trustCertPath", RMQ_CONF_STR, F(tls.client_trust), "", 0, 0, 0,
     "CA certificates (PEM) that sign the servers' certificates (empty: the system CAs)", NULL},
    {"tls.client.certPath", RMQ_CONF_STR, F(tls.client_cert), "", 0, 0, 0,
     "client certificate (PEM) for servers that ask for one", NULL},
    {"tls.client.keyPath", RMQ_CONF_STR, F(tls.client_key), "", 0, 0, 0, "client private key (PEM)", NULL},
    {"tls.client.keyPassword", RMQ_CONF_STR, F(tls.client_key_password), "", 0, 0, 0,
     "password of an encrypted client key", NULL},
    {"tls.test.mode.enable", RMQ_CONF_BOOL, F(tls.test_mode), "false", 0, 0, 0,
     "trust any server certificate (Comet default false; Java's is true)", NULL},
    {"tls.config.file", RMQ_CONF_STR, F(tls.config_file), "/etc/rocketmq/tls.properties", 0, 0, 0,
     "properties file whose tls.client.* / tls.test.mode.enable keys override these, read when TLS is "
     "on (ignored if missing)",
     NULL},
    RMQ_CONF_END,
};

const char *comet_version_str(void)
{
    return COMET_VERSION_STR;
}

comet_conf_t *comet_conf_new(void)
{
    comet_conf_t *c = rmq_calloc(1, sizeof(*c));
    rmq_conf_defaults(client_props, &c->s);
    return c;
}

comet_conf_t *comet_conf_dup(const comet_conf_t *src)
{
    if (!src)
        return NULL;
    comet_conf_t *c = rmq_malloc(sizeof(*c));
    *c = *src;
    rmq_conf_copy(client_props, &c->s, &src->s, sizeof(c->s));
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
    rmq_err_t e = rmq_conf_get(client_props, &conf->s, name, dest, dest_size);
    return e == RMQ_ERR__NOENT ? COMET_CONF_UNKNOWN : e ? COMET_CONF_INVALID : COMET_CONF_OK;
}

comet_err_t comet_conf_load_file(comet_conf_t *conf, const char *path, char *errstr, size_t errstr_size)
{
    /* warnings (unknown keys) go to this conf's log callback / level */
    rmq_logger_t lg;
    cm_logger_init(&lg, conf);
    rmq_logger_t *prev = rmq_log_use(&lg);
    rmq_err_t e = rmq_conf_load_file(client_props, &conf->s, path, "client", errstr, errstr_size);
    rmq_log_use(prev);
    return (comet_err_t)e;
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

static const char *const send_status_names[] = {
    [COMET_SEND_OK] = "SEND_OK",
    [COMET_SEND_FLUSH_DISK_TIMEOUT] = "FLUSH_DISK_TIMEOUT",
    [COMET_SEND_FLUSH_SLAVE_TIMEOUT] = "FLUSH_SLAVE_TIMEOUT",
    [COMET_SEND_SLAVE_NOT_AVAILABLE] = "SLAVE_NOT_AVAILABLE",
};
_Static_assert(CM_NAMES_LEN(send_status_names) == COMET_SEND_SLAVE_NOT_AVAILABLE + 1,
               "a name for every comet_send_status_t");

const char *comet_send_status_name(comet_send_status_t st)
{
    return cm_enum_name(send_status_names, CM_NAMES_LEN(send_status_names), (int)st, "UNKNOWN");
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

comet_err_t cm_already_started(char *errstr, size_t n)
{
    cm_errstr(errstr, n, "already started");
    return COMET_ERR__STATE;
}

void cm_set_ext_i64(rmq_cmd_t *c, const char *k, int64_t v)
{
    rmq_cmd_set_ext_i64(c, k, v);
}

/* Each handle has its own logger (common/rmq_log): its level, callback
 * and opaque never reach another handle. Without a callback: stderr. */
void cm_logger_init(rmq_logger_t *lg, const comet_conf_t *conf)
{
    rmq_logger_init(lg, conf->s.logLevel, conf->log_cb, conf->opaque);
}
