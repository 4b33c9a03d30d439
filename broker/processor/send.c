/* processor/send.c - the send path: SEND_MESSAGE (10, long header names),
 * SEND_MESSAGE_V2 (310, one-letter names), SEND_BATCH_MESSAGE (320) and
 * CONSUMER_SEND_MSG_BACK (36).
 * Thread: io. A send goes through four steps: validate (header decoded with
 * the request-header table, broker and topic checks, topic auto-creation,
 * queue choice, retry/DLQ redirect), build properties, then put single or
 * put batch; do_put appends (a memcpy into the mapped segment) and answers,
 * now or when the SYNC_FLUSH group commit completes (posted back here from
 * the store's flush thread through the broker mailbox). A later step that
 * must wait after the append (replication to a SYNC_MASTER's slaves) goes
 * where do_put parks the pending send.
 * As Java, the header's batch flag (m / batch) decides between one message
 * and a batch, not the request code: m="1" is false (Boolean.parseBoolean),
 * so such a body is stored as one message.
 * Never: waits for a flush, or touches a connection from another thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "broker_meta.h"
#include "request.h"
#include "schedule/schedule.h"
#include "metrics/broker_metrics.h"
#include "processor/processor.h"
#include "ha/ha.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "transaction/transaction.h"

#define FAQ_URL "\nSee http://rocketmq.apache.org/docs/faq/ for further details."

/* One send request on its way through the steps. */
typedef struct send_ctx_s {
    rmq_broker_t *b;
    rmq_conn_t *conn;
    const rmq_cmd_t *req;
    rmq_hdr_t h;
    bool batch;             /* the header's batch flag (m / batch) */
    const char *topic;      /* target: the request's topic or %DLQ%<group> */
    rmq_topic_config_t *tc; /* the request topic's config */
    int32_t queue_id, sys_flag;
    char dlq[300];
    rmq_buf_t props; /* the properties string to store */
    bool wait;       /* WAIT property (waitStoreMsgOK) */
} send_ctx_t;

/* A send waiting for its SYNC_FLUSH group commit. */
typedef struct pending_send_s {
    rmq_broker_t *b;
    rmq_conn_t *conn;
    int32_t opaque;
    uint8_t serialize;
    bool oneway;
    int32_t queue_id;
    rmq_put_result_t res;          /* ids from the append (io thread) */
    char *msg_ids;                 /* a batch's full id list when res.msg_id was truncated */
    rmq_put_status_t final_status; /* from the flush thread */
    int32_t req_code;              /* metrics: rocketmq_rpc_latency of the deferred answer */
    int64_t t0_us;
    rmq_put_status_t repl_status; /* SYNC_MASTER: from the slave's acknowledgement */
    int waits;                    /* flush and/or replication still to come (io thread) */
} pending_send_t;

static void send_resp_init(rmq_broker_t *b, rmq_cmd_t *resp, const rmq_cmd_t *req, int code,
                           const char *remark)
{
    rmq_broker_resp(resp, req, code, remark);
    rmq_cmd_set_ext(resp, "MSG_REGION", b->conf.regionId);
    rmq_cmd_set_ext(resp, "TRACE_ON", b->conf.traceOn ? "true" : "false");
}

static void send_err(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void send_err(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req, int code, const char *fmt, ...)
{
    char remark[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(remark, sizeof(remark), fmt, ap);
    va_end(ap);
    rmq_cmd_t resp;
    send_resp_init(b, &resp, req, code, remark);
    rmq_conn_reply(conn, req, &resp);
    rmq_cmd_deinit(&resp);
}

static const char *put_remark(rmq_put_status_t s)
{
    switch (s) {
    case RMQ_PUT_CREATE_MAPEDFILE_FAILED:
        return "create mapped file failed, server is busy or broken.";
    case RMQ_PUT_MESSAGE_ILLEGAL:
    case RMQ_PUT_PROPERTIES_SIZE_EXCEEDED:
        return "the message is illegal, maybe msg body or properties length not matched. msg body length "
               "limit "
               "(maxMessageSize), msg properties length limit 32k.";
    case RMQ_PUT_SERVICE_NOT_AVAILABLE:
        return "service not available now. It may be caused by one of the following reasons: the broker's "
               "disk is "
               "full, messages are put to the slave, message store has been shut down, etc.";
    case RMQ_PUT_OS_PAGECACHE_BUSY:
        return "[PC_SYNCHRONIZED]broker busy, start flow control for a while";
    default:
        return rmq_put_status_name(s);
    }
}

/* Build and send the response of a put. */
static void reply_put(rmq_broker_t *b, rmq_conn_t *conn, int32_t opaque, uint8_t serialize, bool oneway,
                      rmq_put_status_t st, const rmq_put_result_t *res, const char *msg_ids, int32_t queue_id)
{
    if (oneway || rmq_conn_is_closed(conn))
        return;
    if (st == RMQ_PUT_OK && rmq_ha_fenced(b->ha))
        st = RMQ_PUT_SERVICE_NOT_AVAILABLE; /* controller mode: the lease may be gone: no acknowledgement */
    rmq_cmd_t shell;
    rmq_cmd_init(&shell);
    shell.opaque = opaque;
    shell.serialize = serialize;
    rmq_cmd_t resp;
    int code = rmq_put_status_to_code(st);
    /* stored (Java's sendOK): the answer carries the ids and no remark */
    bool stored = code == RMQ_OK || code == RMQ_ERR_FLUSH_DISK_TIMEOUT ||
                  code == RMQ_ERR_FLUSH_SLAVE_TIMEOUT || code == RMQ_ERR_SLAVE_NOT_AVAILABLE;
    send_resp_init(b, &resp, &shell, code, stored ? NULL : put_remark(st));
    if (stored) {
        rmq_cmd_set_ext(&resp, "msgId", msg_ids ? msg_ids : res->msg_id);
        rmq_cmd_set_ext_i64(&resp, "queueId", queue_id);
        rmq_cmd_set_ext_i64(&resp, "queueOffset", res->queue_offset);
    }
    rmq_conn_reply_to(conn, opaque, serialize, &resp);
    rmq_cmd_deinit(&resp);
    rmq_cmd_deinit(&shell);
}

/* One of the waits of a pending send is over; the last one answers. As
 * Java's handleDiskFlushAndHA, a replication failure outranks a flush one. */
static void pending_part_done(rmq_broker_t *b, pending_send_t *p)
{
    if (--p->waits > 0)
        return;
    b->pending_sends--;
    rmq_put_status_t st = p->repl_status != RMQ_PUT_OK ? p->repl_status : p->final_status;
    if (!p->oneway)
        rmq_bm_rpc_deferred(b->metrics, p->req_code, rmq_put_status_to_code(st), rmq_mono_us() - p->t0_us);
    reply_put(b, p->conn, p->opaque, p->serialize, p->oneway, st, &p->res, p->msg_ids, p->queue_id);
    rmq_conn_release(p->conn);
    free(p->msg_ids);
    free(p);
}

static void pending_done_io(void *arg)
{
    pending_send_t *p = arg;
    pending_part_done(p->b, p);
}

/* @thread StoreFlush */
static void pending_done_flush(void *opaque, const rmq_put_result_t *res)
{
    pending_send_t *p = opaque;
    p->final_status = res->status;
    rmq_mailbox_post(p->b->mbox, pending_done_io, p);
}

/* SYNC_MASTER: a slave acknowledged (or not). @thread io */
static void pending_done_repl(void *arg, rmq_put_status_t st)
{
    pending_send_t *p = arg;
    p->repl_status = st;
    pending_part_done(p->b, p);
}

/* Step 4 (after put single / put batch): append and answer, now or later.
 * A send that must wait after the append (the SYNC_FLUSH group commit, a
 * SYNC_MASTER's replication, or both at once) is parked as a pending_send_t
 * and answered by pending_part_done once every wait is over. */
static void do_put(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req, const rmq_store_msg_t *msgs,
                   size_t n)
{
    pending_send_t *p = rmq_calloc(1, sizeof(*p));
    p->b = b;
    p->conn = conn;
    p->opaque = req->opaque;
    p->serialize = req->serialize;
    p->oneway = rmq_cmd_is_oneway(req);
    p->queue_id = msgs[0].queue_id;
    rmq_put_status_t st = n == 1 ? rmq_store_put_message(b->store, &msgs[0], &p->res, pending_done_flush, p)
                                 : rmq_store_put_messages(b->store, msgs, n, &p->res, pending_done_flush, p);
    if (st == RMQ_PUT_OK)
        b->msg_put_total += (int64_t)n;
    if (st == RMQ_PUT_OK)
        rmq_bm_put(b->metrics, msgs, n);
    if (p->res.msg_id_truncated) {
        rmq_buf_t ids;
        rmq_buf_init(&ids);
        rmq_store_batch_msg_ids(msgs, n, &p->res, &ids);
        rmq_buf_cstr(&ids);
        p->msg_ids = (char *)rmq_buf_detach(&ids, NULL);
    }
    /* final_status may already be set by the flush thread (calloc: PUT_OK) */
    p->waits = p->res.pending ? 1 : 0;
    /* SYNC_MASTER: also wait for a slave (in parallel with a SYNC_FLUSH flush) */
    if (st == RMQ_PUT_OK && msgs[0].wait_store_ok &&
        rmq_ha_wait(b->ha, p->res.wrote_offset + p->res.wrote_bytes, pending_done_repl, p, &p->repl_status))
        p->waits++;
    if (p->waits) {
        rmq_conn_hold(conn);
        b->pending_sends++;
        p->req_code = req->code, p->t0_us = rmq_mono_us();
        return; /* pending_part_done answers */
    }
    if (st == RMQ_PUT_OK)
        st = p->repl_status;
    else
        rmq_log(RMQ_LOG_WARN, "broker", "put to %s failed: %s", msgs[0].topic, rmq_put_status_name(st));
    reply_put(b, conn, req->opaque, req->serialize, rmq_cmd_is_oneway(req), st, &p->res, p->msg_ids,
              p->queue_id);
    free(p->msg_ids);
    free(p);
}

static bool ensure_dlq(rmq_broker_t *b, const char *group, char *dlq, size_t n)
{
    snprintf(dlq, n, "%s%s", RMQ_DLQ_PREFIX, group);
    if (!rmq_topic_get(&b->topics, dlq)) {
        rmq_topic_config_t t = {dlq, 1, 1, RMQ_PERM_READ | RMQ_PERM_WRITE, 0, 0, false};
        rmq_topic_put(&b->topics, &t);
        rmq_broker_topics_changed(b);
    }
    return true;
}

/* A field Java unboxes on this path (NullPointerException there): answered
 * like Java's remoting layer, SYSTEM_ERROR without the send response's ext. */
static bool need(send_ctx_t *s, int field)
{
    return rmq_req_need(s->conn, s->req, &s->h, field);
}

/* Find the topic or auto-create it (TopicConfigManager.createTopicInSendMessageMethod). */
static rmq_topic_config_t *resolve_topic(send_ctx_t *s)
{
    rmq_broker_t *b = s->b;
    const char *topic = rmq_hdr_str(&s->h, RMQ_F_SEND_topic);
    rmq_topic_config_t *tc = rmq_topic_get(&b->topics, topic);
    if (tc)
        return tc;
    /* Java unboxes defaultTopicQueueNums and looks up defaultTopic first */
    if (!need(s, RMQ_F_SEND_defaultTopicQueueNums) || !need(s, RMQ_F_SEND_defaultTopic))
        return NULL;
    const char *def_topic = rmq_hdr_str(&s->h, RMQ_F_SEND_defaultTopic);
    int32_t def_qnums = rmq_hdr_i32(&s->h, RMQ_F_SEND_defaultTopicQueueNums);
    rmq_topic_config_t *tpl = rmq_topic_get(&b->topics, def_topic);
    if (tpl && (tpl->perm & RMQ_PERM_INHERIT) &&
        (strcmp(def_topic, RMQ_TOPIC_TBW102) != 0 || b->conf.autoCreateTopicEnable)) {
        int32_t q = def_qnums < tpl->write_queues ? def_qnums : tpl->write_queues;
        if (q <= 0)
            q = 1;
        rmq_topic_config_t n = {(char *)topic,    q, q,    tpl->perm & ~RMQ_PERM_INHERIT,
                                tpl->filter_type, 0, false};
        tc = rmq_topic_put(&b->topics, &n);
        rmq_log(RMQ_LOG_INFO, "broker", "auto-created topic %s (%d queues) from %s for %s", topic, q,
                def_topic, rmq_conn_peer(s->conn));
        rmq_broker_topics_changed(b);
        return tc;
    }
    if (!strncmp(topic, RMQ_RETRY_PREFIX, strlen(RMQ_RETRY_PREFIX))) {
        rmq_topic_config_t n = {(char *)topic, 1, 1, RMQ_PERM_READ | RMQ_PERM_WRITE, 0, 0, false};
        tc = rmq_topic_put(&b->topics, &n);
        rmq_broker_topics_changed(b);
        return tc;
    }
    send_err(b, s->conn, s->req, RMQ_ERR_TOPIC_NOT_EXIST, "topic[%s] not exist, apply first please!" FAQ_URL,
             topic);
    return NULL;
}

/* Broker-level checks (AbstractSendMessageProcessor.msgCheck and Comet's own
 * limits); on failure the request is answered and false returned. */
static bool check_broker(send_ctx_t *s)
{
    rmq_broker_t *b = s->b;
    const char *topic = rmq_hdr_str(&s->h, RMQ_F_SEND_topic);
    if (b->conf.startAcceptSendRequestTimeStamp > rmq_now_ms()) {
        send_err(b, s->conn, s->req, RMQ_ERR_SYSTEM_ERROR, "broker unable to service, until %lld",
                 (long long)b->conf.startAcceptSendRequestTimeStamp);
        return false;
    }
    if (b->shutting_down) {
        send_err(b, s->conn, s->req, RMQ_ERR_SERVICE_NOT_AVAILABLE, "the broker[%s] is shutting down",
                 b->conf.brokerName);
        return false;
    }
    if (b->is_slave) {
        send_err(b, s->conn, s->req, RMQ_ERR_SERVICE_NOT_AVAILABLE,
                 "the broker[%s] is a slave, sending is forbidden", b->conf.brokerName);
        return false;
    }
    if (!(b->conf.brokerPermission & RMQ_PERM_WRITE)) {
        send_err(b, s->conn, s->req, RMQ_ERR_NO_PERMISSION, "the broker[%s] sending message is forbidden",
                 b->conf.brokerIP1);
        return false;
    }
    char why[256];
    int refused =
        rmq_ha_write_refusal(b->ha, why, sizeof(why)); /* controller mode: fenced, too few in sync */
    if (refused) {
        send_err(b, s->conn, s->req, refused, "%s", why);
        return false;
    }
    const char *bad = rmq_topic_invalid(topic, why, sizeof(why)); /* null topic: "blank", as Java */
    if (bad) {
        send_err(b, s->conn, s->req, RMQ_ERR_SYSTEM_ERROR, "%s", bad);
        return false;
    }
    if (rmq_topic_is_system(topic)) {
        send_err(b, s->conn, s->req, RMQ_ERR_NO_PERMISSION, "Sending message to topic[%s] is forbidden.",
                 topic);
        return false;
    }
    if (b->pending_sends >= b->conf.maxPendingSendRequests) {
        send_err(b, s->conn, s->req, RMQ_ERR_SYSTEM_BUSY,
                 "[REJECTREQUEST]system busy, start flow control for a while (%lld sends waiting for the "
                 "disk flush)",
                 (long long)b->pending_sends);
        return false;
    }
    return true;
}

/* %RETRY%<group> topics: redirect to %DLQ%<group> once reconsumeTimes reaches
 * the group's (or the request's) maximum. Single messages only, as Java. */
static bool retry_or_dlq(send_ctx_t *s)
{
    const char *topic = s->topic;
    if (s->batch || strncmp(topic, RMQ_RETRY_PREFIX, strlen(RMQ_RETRY_PREFIX)) != 0)
        return true;
    const char *group = topic + strlen(RMQ_RETRY_PREFIX);
    rmq_sub_group_t *sg = rmq_broker_get_group(s->b, group);
    if (!sg) {
        send_err(s->b, s->conn, s->req, RMQ_ERR_SUBSCRIPTION_GROUP_NOT_EXIST,
                 "subscription group not exist, %s" FAQ_URL, group);
        return false;
    }
    int32_t max = sg->retry_max_times;
    if (s->req->version >= 121 && rmq_hdr_has(&s->h, RMQ_F_SEND_maxReconsumeTimes))
        max = rmq_hdr_i32(&s->h, RMQ_F_SEND_maxReconsumeTimes);
    if (rmq_hdr_i32(&s->h, RMQ_F_SEND_reconsumeTimes) >= max) {
        ensure_dlq(s->b, group, s->dlq, sizeof(s->dlq));
        s->topic = s->dlq;
        s->queue_id = 0;
    }
    return true;
}

/* Step 1: everything about the request but its properties and body. */
static bool send_validate(send_ctx_t *s)
{
    rmq_broker_t *b = s->b;
    if (!check_broker(s))
        return false;
    s->tc = resolve_topic(s);
    if (!s->tc)
        return false;
    const char *topic = rmq_hdr_str(&s->h, RMQ_F_SEND_topic);
    if (!(s->tc->perm & RMQ_PERM_WRITE)) {
        send_err(b, s->conn, s->req, RMQ_ERR_NO_PERMISSION, "the topic[%s] sending message is forbidden",
                 topic);
        return false;
    }
    if (!need(s, RMQ_F_SEND_queueId))
        return false;
    rmq_topic_config_t *tc = s->tc;
    int32_t maxq = tc->write_queues > tc->read_queues ? tc->write_queues : tc->read_queues;
    s->queue_id = rmq_hdr_i32(&s->h, RMQ_F_SEND_queueId);
    if (s->queue_id >= maxq) {
        send_err(b, s->conn, s->req, RMQ_ERR_SYSTEM_ERROR,
                 "request queueId[%d] is illegal, topic:[%s] writeQueueNums:[%d] "
                 "readQueueNums:[%d] Producer:[%s]",
                 s->queue_id, topic, tc->write_queues, tc->read_queues, rmq_conn_peer(s->conn));
        return false;
    }
    if (s->queue_id < 0)
        s->queue_id = tc->write_queues > 0 ? (int32_t)(((uint32_t)rand()) % (uint32_t)tc->write_queues) : 0;
    s->topic = topic;
    if (!retry_or_dlq(s))
        return false;
    /* unboxed by Java when it builds the message, in this order */
    if (!need(s, RMQ_F_SEND_sysFlag) || !need(s, RMQ_F_SEND_flag) || !need(s, RMQ_F_SEND_bornTimestamp))
        return false;
    s->sys_flag = rmq_hdr_i32(&s->h, RMQ_F_SEND_sysFlag);
    if (tc->filter_type == 1)
        s->sys_flag |= RMQ_SYSFLAG_MULTI_TAGS;
    size_t maxsz = (size_t)b->store_conf.maxMessageSize;
    if (s->req->body_len > maxsz) {
        if (s->batch)
            send_err(b, s->conn, s->req, RMQ_ERR_MESSAGE_ILLEGAL,
                     "the batch body size %zu is over max value, MAX: %zu", s->req->body_len, maxsz);
        else
            send_err(b, s->conn, s->req, RMQ_ERR_MESSAGE_ILLEGAL,
                     "the message body size over max value, MAX: %zu", maxsz);
        return false;
    }
    return true;
}

/* Step 2: the properties string to store. WAIT is honoured and (single
 * messages) not stored; CLUSTER is added; TRAN_MSG and WAIT are read with
 * Boolean.parseBoolean, as Java. */
static bool send_build_props(send_ctx_t *s)
{
    rmq_broker_t *b = s->b;
    const char *p = rmq_hdr_str(&s->h, RMQ_F_SEND_properties);
    rmq_msg_props_t props;
    rmq_msg_props_init(&props);
    if (p)
        rmq_msg_props_parse(&props, p, strlen(p));
    const char *w = rmq_msg_props_get(&props, RMQ_PROP_WAIT);
    s->wait = !w || rmq_java_parse_bool(w);
    if (!s->batch)
        rmq_msg_props_del(&props, RMQ_PROP_WAIT);
    rmq_msg_props_set(&props, RMQ_PROP_CLUSTER, b->conf.brokerClusterName);
    /* a half message goes to transaction/ until END_TRANSACTION; a retry
     * that still carries TRAN_MSG (old clients' send-back fallback: a
     * reconsume count and a delay level) is not one, as Java */
    const char *dl = rmq_msg_props_get(&props, RMQ_PROP_DELAY);
    bool half = !s->batch && rmq_txn_is_half(&props, s->sys_flag) &&
                !(rmq_hdr_i32(&s->h, RMQ_F_SEND_reconsumeTimes) > 0 && dl && atoi(dl) > 0);
    if (half && b->conf.rejectTransactionMessage) {
        rmq_msg_props_free(&props);
        send_err(b, s->conn, s->req, RMQ_ERR_NO_PERMISSION,
                 "the broker[%s] sending transaction message is forbidden", b->conf.brokerIP1);
        return false;
    }
    if (half && (dl || rmq_schedule_timer_due(&props) >= 0)) {
        rmq_msg_props_free(&props);
        send_err(b, s->conn, s->req, RMQ_ERR_MESSAGE_ILLEGAL, "transactional messages cannot be delayed");
        return false;
    }
    if (half)
        rmq_txn_to_half(b->txn, &props, &s->topic, &s->queue_id, &s->sys_flag);
    if (s->batch && (rmq_msg_props_get(&props, RMQ_PROP_DELAY) || rmq_txn_is_half(&props, s->sys_flag) ||
                     (s->sys_flag & RMQ_SYSFLAG_TRANSACTION_MASK))) {
        rmq_msg_props_free(&props);
        send_err(b, s->conn, s->req, RMQ_ERR_MESSAGE_ILLEGAL,
                 "batch messages cannot be delayed or transactional");
        return false;
    }
    /* a delivery time in the future parks the message at a delay level
     * (schedule.c re-parks it until due); due now or earlier: stored as is */
    if (!s->batch && !half && (s->sys_flag & RMQ_SYSFLAG_TRANSACTION_MASK) == 0)
        rmq_schedule_timer_park(b->store, &props, rmq_now_ms());
    rmq_buf_init(&s->props);
    rmq_msg_props_encode(&props, &s->props);
    rmq_msg_props_free(&props);
    if (s->props.len > RMQ_MSG_MAX_PROPS_LEN) {
        send_err(b, s->conn, s->req, RMQ_ERR_MESSAGE_ILLEGAL,
                 "the message properties size %zu over max value 32767", (size_t)s->props.len);
        return false;
    }
    return true;
}

/* The record fields every message of the request shares. */
static rmq_store_msg_t base_msg(const send_ctx_t *s)
{
    rmq_store_msg_t m = {0};
    m.topic = s->topic;
    m.queue_id = s->queue_id;
    m.flag = rmq_hdr_i32(&s->h, RMQ_F_SEND_flag);
    m.sys_flag = s->sys_flag;
    m.born_timestamp = rmq_hdr_i64(&s->h, RMQ_F_SEND_bornTimestamp);
    rmq_broker_peer_host(s->conn, &m.born_host);
    m.store_host = s->b->store_host;
    m.reconsume_times = rmq_hdr_i32(&s->h, RMQ_F_SEND_reconsumeTimes);
    m.wait_store_ok = s->wait;
    return m;
}

/* Step 3a: one message; the body is stored as it came (even a batch
 * encoding, when the batch flag is false). A zero-length body is a message
 * with an empty body, as Java. */
static void send_put_single(send_ctx_t *s)
{
    rmq_store_msg_t m = base_msg(s);
    m.body = s->req->body;
    m.body_len = s->req->body_len;
    m.props = (const char *)s->props.data;
    m.props_len = s->props.len;
    do_put(s->b, s->conn, s->req, &m, 1);
}

/* Step 3b: a batch: each element becomes its own record with its own flag,
 * body and properties followed by the request's properties. */
static void send_put_batch(send_ctx_t *s)
{
    rmq_broker_t *b = s->b;
    const rmq_cmd_t *req = s->req;
    if (!req->body_len) { /* Java: NullPointerException on the null body */
        rmq_broker_reply_err(s->conn, req, RMQ_ERR_SYSTEM_ERROR, "the batch body is empty");
        return;
    }
    rmq_msg_batch_item_t *items = NULL;
    size_t n = 0;
    if (rmq_msg_batch_decode(req->body, req->body_len, &items, &n) != RMQ_OK || n == 0) {
        free(items);
        send_err(b, s->conn, req, RMQ_ERR_MESSAGE_ILLEGAL, "the batch body is malformed (%zu bytes)",
                 req->body_len);
        return;
    }
    size_t maxsz = (size_t)b->store_conf.maxMessageSize;
    rmq_store_msg_t base = base_msg(s);
    rmq_store_msg_t *msgs = rmq_calloc(n, sizeof(*msgs));
    rmq_buf_t *ps = rmq_calloc(n, sizeof(*ps));
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        msgs[i] = base;
        msgs[i].flag = items[i].flag;
        msgs[i].body = items[i].body;
        msgs[i].body_len = (size_t)items[i].body_len;
        rmq_buf_init(&ps[i]);
        rmq_buf_put(&ps[i], items[i].props, items[i].props_len);
        if (items[i].props_len && items[i].props[items[i].props_len - 1] != RMQ_PROP_PAIR_SEP && s->props.len)
            rmq_buf_putc(&ps[i], RMQ_PROP_PAIR_SEP);
        rmq_buf_put(&ps[i], s->props.data, s->props.len);
        msgs[i].props = (const char *)ps[i].data;
        msgs[i].props_len = ps[i].len;
        if (ps[i].len > RMQ_MSG_MAX_PROPS_LEN || (size_t)items[i].body_len > maxsz)
            ok = false;
        const char *dv;
        size_t dl;
        if (rmq_msg_props_find(items[i].props, items[i].props_len, RMQ_PROP_DELAY, &dv, &dl))
            ok = false;
    }
    if (ok)
        do_put(b, s->conn, req, msgs, n);
    else
        send_err(b, s->conn, req, RMQ_ERR_MESSAGE_ILLEGAL,
                 "a batch element is illegal (body over maxMessageSize, properties over 32767 bytes, or "
                 "DELAY set)");
    for (size_t i = 0; i < n; i++)
        rmq_buf_free(&ps[i]);
    free(ps);
    free(msgs);
    free(items);
}

static void on_send(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    send_ctx_t s;
    memset(&s, 0, sizeof(s));
    s.b = ctx;
    s.conn = conn;
    s.req = req;
    rmq_hdr_id_t id = req->code == RMQ_REQ_SEND_MESSAGE ? RMQ_HDR_SEND : RMQ_HDR_SEND_V2;
    if (!rmq_req_decode(conn, req, id, false, &s.h))
        return;
    s.batch = rmq_hdr_bool(&s.h, RMQ_F_SEND_batch);
    if (!send_validate(&s))
        return;
    if (send_build_props(&s)) {
        if (s.batch)
            send_put_batch(&s);
        else
            send_put_single(&s);
    }
    rmq_buf_free(&s.props);
}

/* ---- CONSUMER_SEND_MSG_BACK ---- */

/* A send-back waiting for a SYNC_MASTER's slave. */
typedef struct back_wait_s {
    rmq_broker_t *b;
    rmq_conn_t *conn;
    int32_t opaque;
    uint8_t serialize;
} back_wait_t;

/* @thread io. As Java, only PUT_OK is SUCCESS; anything else is SYSTEM_ERROR
 * with the status name (the retry message is stored either way). */
static void send_back_replicated(void *arg, rmq_put_status_t st)
{
    back_wait_t *w = arg;
    w->b->pending_sends--;
    if (!rmq_conn_is_closed(w->conn)) {
        rmq_cmd_t shell, resp;
        rmq_cmd_init(&shell);
        shell.opaque = w->opaque;
        shell.serialize = w->serialize;
        rmq_broker_resp(&resp, &shell, st == RMQ_PUT_OK ? RMQ_OK : RMQ_ERR_SYSTEM_ERROR,
                        st == RMQ_PUT_OK ? NULL : rmq_put_status_name(st));
        rmq_conn_reply_to(w->conn, w->opaque, w->serialize, &resp);
        rmq_cmd_deinit(&resp);
        rmq_cmd_deinit(&shell);
    }
    rmq_conn_release(w->conn);
    free(w);
}

/* The checks of a send-back before its message is looked at: the group
 * (auto-created when allowed), the broker's write permission, the
 * controller's refusal. NULL once the error reply is sent. */
static const rmq_sub_group_t *send_back_group(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req,
                                              const char *group)
{
    const rmq_sub_group_t *sg = rmq_broker_get_group(b, group);
    if (!sg) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SUBSCRIPTION_GROUP_NOT_EXIST,
                             "subscription group not exist, %s" FAQ_URL, group);
        return NULL;
    }
    if (!(b->conf.brokerPermission & RMQ_PERM_WRITE) || b->is_slave) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_NO_PERMISSION, "the broker[%s] sending message is forbidden",
                             b->conf.brokerIP1);
        return NULL;
    }
    char refusal[256];
    int refused = rmq_ha_write_refusal(b->ha, refusal, sizeof(refusal)); /* controller mode */
    if (refused) {
        rmq_broker_reply_err(conn, req, refused, "%s", refusal);
        return NULL;
    }
    return sg;
}

static void on_send_back(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    rmq_hdr_t h;
    if (!rmq_req_decode(conn, req, RMQ_HDR_SEND_BACK, true, &h))
        return;
    const char *group = rmq_hdr_str(&h, RMQ_F_SEND_BACK_group);
    const rmq_sub_group_t *sg = send_back_group(b, conn, req, group);
    if (!sg)
        return;
    if (sg->retry_queue_nums <= 0) {
        rmq_broker_reply_ok(conn, req);
        return;
    }
    rmq_topic_config_t *rt = rmq_broker_ensure_retry_topic(b, group, sg->retry_queue_nums);
    if (!rt || !(rt->perm & RMQ_PERM_WRITE)) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_NO_PERMISSION, "the topic[%s%s] sending message is forbidden",
                             RMQ_RETRY_PREFIX, group);
        return;
    }
    /* Java unboxes offset and delayLevel only after the retry topic exists */
    if (!rmq_req_need(conn, req, &h, RMQ_F_SEND_BACK_offset) ||
        !rmq_req_need(conn, req, &h, RMQ_F_SEND_BACK_delayLevel))
        return;
    int64_t offset = rmq_hdr_i64(&h, RMQ_F_SEND_BACK_offset);
    int32_t delay_level = rmq_hdr_i32(&h, RMQ_F_SEND_BACK_delayLevel);
    rmq_store_ref_t ref = {0};
    rmq_msg_rec_t rec;
    if (offset < 0 || rmq_store_get_message_by_offset(b->store, offset, &ref) != RMQ_OK ||
        rmq_msg_decode(ref.data, ref.len, false, &rec) != RMQ_OK) {
        if (ref.pin)
            rmq_store_ref_release(ref.pin);
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "look message by offset failed, %lld",
                             (long long)offset);
        return;
    }
    rmq_msg_props_t props;
    rmq_msg_props_init(&props);
    rmq_msg_props_parse(&props, rec.props, rec.props_len);
    char *orig_topic = rmq_strndup(rec.topic, rec.topic_len);
    if (!rmq_msg_props_get(&props, "RETRY_TOPIC"))
        rmq_msg_props_set(&props, "RETRY_TOPIC", orig_topic);
    rmq_msg_props_set(&props, RMQ_PROP_WAIT, "false"); /* Java: msgExt.setWaitStoreMsgOK(false) */
    int32_t max = sg->retry_max_times;
    if (req->version >= 121 && rmq_hdr_has(&h, RMQ_F_SEND_BACK_maxReconsumeTimes))
        max = rmq_hdr_i32(&h, RMQ_F_SEND_BACK_maxReconsumeTimes);
    char target[300];
    int32_t qid;
    if (rec.reconsume_times >= max || delay_level < 0) {
        ensure_dlq(b, group, target, sizeof(target));
        qid = 0;
        rmq_msg_props_del(&props, RMQ_PROP_DELAY);
    } else {
        snprintf(target, sizeof(target), "%s%s", RMQ_RETRY_PREFIX, group);
        qid = (int32_t)(((uint32_t)rand()) % (uint32_t)rt->write_queues);
        if (b->send_back_delay) {
            char lv[16];
            snprintf(lv, sizeof(lv), "%d", delay_level == 0 ? 3 + rec.reconsume_times : delay_level);
            rmq_msg_props_set(&props, RMQ_PROP_DELAY, lv);
        } else {
            rmq_msg_props_del(&props, RMQ_PROP_DELAY);
        }
    }
    const char *origin = rmq_msg_props_get(&props, "ORIGIN_MESSAGE_ID");
    if (!origin || !*origin) {
        char id[RMQ_MSG_ID_MAX];
        rmq_msg_id_create(id, &rec.store_host, rec.commitlog_offset);
        rmq_msg_props_set(&props, "ORIGIN_MESSAGE_ID", id);
    }
    rmq_buf_t pstr;
    rmq_buf_init(&pstr);
    rmq_msg_props_encode(&props, &pstr);
    rmq_msg_props_free(&props);
    rmq_store_msg_t m;
    rmq_store_msg_from_rec(&m, &rec, target, qid, (const char *)pstr.data, pstr.len, b->store_host);
    m.reconsume_times = rec.reconsume_times + 1;
    rmq_put_result_t res;
    rmq_put_status_t st = rmq_store_put_message(b->store, &m, &res, NULL, NULL);
    if (st == RMQ_PUT_OK)
        rmq_bm_put(b->metrics, &m, 1);
    rmq_store_ref_release(ref.pin);
    rmq_buf_free(&pstr);
    free(orig_topic);
    if (st == RMQ_PUT_OK) {
        b->msg_put_total++;
        /* SYNC_MASTER: answered once a slave holds the retry message too */
        back_wait_t *w = rmq_malloc(sizeof(*w));
        w->b = b;
        w->conn = conn;
        w->opaque = req->opaque;
        w->serialize = req->serialize;
        if (rmq_ha_wait(b->ha, res.wrote_offset + res.wrote_bytes, send_back_replicated, w, &st)) {
            rmq_conn_hold(conn);
            b->pending_sends++;
            return;
        }
        free(w);
    }
    if (st == RMQ_PUT_OK)
        rmq_broker_reply_ok(conn, req);
    else
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "%s", rmq_put_status_name(st));
}

void rmq_proc_send_register(rmq_broker_t *b, rmq_endpoint_t *ep)
{
    rmq_endpoint_set_handler(ep, RMQ_REQ_SEND_MESSAGE, on_send, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_SEND_MESSAGE_V2, on_send, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_SEND_BATCH_MESSAGE, on_send, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_CONSUMER_SEND_MSG_BACK, on_send_back, b);
}
