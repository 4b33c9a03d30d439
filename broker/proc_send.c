/* proc_send.c - the send path: SEND_MESSAGE (10, long header names),
 * SEND_MESSAGE_V2 (310, one-letter names), SEND_BATCH_MESSAGE (320) and
 * CONSUMER_SEND_MSG_BACK (36).
 * Thread: io. Validates the request, resolves/auto-creates the topic, builds
 * the record and appends it (a memcpy into the mapped segment). SYNC_FLUSH
 * completions arrive on the store's flush thread and are posted back here
 * through the broker mailbox.
 * Never: waits for a flush, or touches a connection from another thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_log.h"
#include "rmq_time.h"

#define FAQ_URL "\nSee http://rocketmq.apache.org/docs/faq/ for further details."

typedef struct send_hdr_s {
    const char *group, *topic, *default_topic, *props;
    int32_t default_qnums, queue_id, sys_flag, flag, reconsume_times, max_reconsume_times;
    int64_t born_ts;
    bool has_max_reconsume, batch;
} send_hdr_t;

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
} pending_send_t;

static const char *fld(const rmq_cmd_t *req, bool v2, const char *v1name, const char *v2name)
{
    return rmq_cmd_ext(req, v2 ? v2name : v1name);
}

/* Required/optional field getters naming both spellings in the remark. */
static bool get_str(rmq_conn_t *conn, const rmq_cmd_t *req, bool v2, const char *n1, const char *n2,
                    const char **out)
{
    *out = fld(req, v2, n1, n2);
    if (*out)
        return true;
    if (v2)
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "the custom field <%s> (%s) is null", n2, n1);
    else
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "the custom field <%s> is null", n1);
    return false;
}

static bool get_num(rmq_conn_t *conn, const rmq_cmd_t *req, bool v2, const char *n1, const char *n2,
                    bool required, int64_t def, int64_t *out, bool *present)
{
    const char *name = v2 ? n2 : n1;
    int64_t v;
    rmq_err_t r = rmq_cmd_ext_i64(req, name, &v);
    if (present)
        *present = r == RMQ_OK;
    if (r == RMQ_OK) {
        *out = v;
        return true;
    }
    if (r == RMQ_ERR__NOENT && !required) {
        *out = def;
        return true;
    }
    rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR,
                         r == RMQ_ERR__NOENT ? "the custom field <%s>%s%s%s is null"
                                             : "the custom field <%s>%s%s%s is not a number",
                         name, v2 ? " (" : "", v2 ? n1 : "", v2 ? ")" : "");
    return false;
}

static bool parse_send_hdr(rmq_conn_t *conn, const rmq_cmd_t *req, send_hdr_t *h)
{
    bool v2 = req->code != RMQ_REQ_SEND_MESSAGE;
    int64_t v;
    memset(h, 0, sizeof(*h));
    if (!get_str(conn, req, v2, "producerGroup", "a", &h->group) ||
        !get_str(conn, req, v2, "topic", "b", &h->topic) ||
        !get_str(conn, req, v2, "defaultTopic", "c", &h->default_topic))
        return false;
    if (!get_num(conn, req, v2, "defaultTopicQueueNums", "d", true, 0, &v, NULL))
        return false;
    h->default_qnums = (int32_t)v;
    if (!get_num(conn, req, v2, "queueId", "e", true, 0, &v, NULL))
        return false;
    h->queue_id = (int32_t)v;
    if (!get_num(conn, req, v2, "sysFlag", "f", true, 0, &v, NULL))
        return false;
    h->sys_flag = (int32_t)v;
    if (!get_num(conn, req, v2, "bornTimestamp", "g", true, 0, &h->born_ts, NULL))
        return false;
    if (!get_num(conn, req, v2, "flag", "h", true, 0, &v, NULL))
        return false;
    h->flag = (int32_t)v;
    h->props = fld(req, v2, "properties", "i");
    if (!get_num(conn, req, v2, "reconsumeTimes", "j", false, 0, &v, NULL))
        return false;
    h->reconsume_times = (int32_t)v;
    if (!get_num(conn, req, v2, "maxReconsumeTimes", "l", false, 16, &v, &h->has_max_reconsume))
        return false;
    h->max_reconsume_times = (int32_t)v;
    bool b = false;
    const char *bn = v2 ? "m" : "batch";
    if (rmq_cmd_ext_bool(req, bn, &b) == RMQ_ERR__INVALID_ARG) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "the custom field <%s> is not a boolean", bn);
        return false;
    }
    h->batch = b;
    return true;
}

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
    rmq_cmd_t shell;
    rmq_cmd_init(&shell);
    shell.opaque = opaque;
    shell.serialize = serialize;
    rmq_cmd_t resp;
    int code = rmq_put_status_to_code(st);
    send_resp_init(b, &resp, &shell, code, code == RMQ_OK ? NULL : put_remark(st));
    if (code == RMQ_OK || code == RMQ_ERR_FLUSH_DISK_TIMEOUT || code == RMQ_ERR_FLUSH_SLAVE_TIMEOUT ||
        code == RMQ_ERR_SLAVE_NOT_AVAILABLE) {
        rmq_cmd_set_ext(&resp, "msgId", msg_ids ? msg_ids : res->msg_id);
        rmq_cmd_set_ext_i64(&resp, "queueId", queue_id);
        rmq_cmd_set_ext_i64(&resp, "queueOffset", res->queue_offset);
    }
    rmq_conn_reply_to(conn, opaque, serialize, &resp);
    rmq_cmd_deinit(&resp);
    rmq_cmd_deinit(&shell);
}

static void pending_done_io(rmq_broker_t *b, void *arg)
{
    pending_send_t *p = arg;
    b->pending_sends--;
    reply_put(b, p->conn, p->opaque, p->serialize, p->oneway, p->final_status, &p->res, p->msg_ids,
              p->queue_id);
    rmq_conn_release(p->conn);
    free(p->msg_ids);
    free(p);
}

/* @thread StoreFlush */
static void pending_done_flush(void *opaque, const rmq_put_result_t *res)
{
    pending_send_t *p = opaque;
    p->final_status = res->status;
    rmq_broker_post(p->b, pending_done_io, p);
}

/* Append and answer (now, or after the group commit). */
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
    if (p->res.msg_id_truncated) {
        rmq_buf_t ids;
        rmq_buf_init(&ids);
        rmq_store_batch_msg_ids(msgs, n, &p->res, &ids);
        rmq_buf_cstr(&ids);
        p->msg_ids = (char *)rmq_buf_detach(&ids, NULL);
    }
    if (p->res.pending) {
        rmq_conn_hold(conn);
        b->pending_sends++;
        return; /* pending_done_io answers */
    }
    if (st != RMQ_PUT_OK)
        rmq_log(RMQ_LOG_WARN, "broker", "put to %s failed: %s", msgs[0].topic, rmq_put_status_name(st));
    reply_put(b, conn, req->opaque, req->serialize, rmq_cmd_is_oneway(req), st, &p->res, p->msg_ids,
              p->queue_id);
    free(p->msg_ids);
    free(p);
}

/* Find the topic or auto-create it (TopicConfigManager.createTopicInSendMessageMethod). */
static rmq_topic_config_t *resolve_topic(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req,
                                         const send_hdr_t *h)
{
    rmq_topic_config_t *tc = rmq_topic_get(&b->topics, h->topic);
    if (tc)
        return tc;
    rmq_topic_config_t *tpl = rmq_topic_get(&b->topics, h->default_topic);
    if (tpl && (tpl->perm & RMQ_PERM_INHERIT) &&
        (strcmp(h->default_topic, RMQ_TOPIC_TBW102) != 0 || b->conf.autoCreateTopicEnable)) {
        int32_t q = h->default_qnums < tpl->write_queues ? h->default_qnums : tpl->write_queues;
        if (q <= 0)
            q = 1;
        rmq_topic_config_t n = {(char *)h->topic, q, q,    tpl->perm & ~RMQ_PERM_INHERIT,
                                tpl->filter_type, 0, false};
        tc = rmq_topic_put(&b->topics, &n);
        rmq_log(RMQ_LOG_INFO, "broker", "auto-created topic %s (%d queues) from %s for %s", h->topic, q,
                h->default_topic, rmq_conn_peer(conn));
        rmq_broker_topics_changed(b);
        return tc;
    }
    if (!strncmp(h->topic, RMQ_RETRY_PREFIX, strlen(RMQ_RETRY_PREFIX))) {
        rmq_topic_config_t n = {(char *)h->topic, 1, 1, RMQ_PERM_READ | RMQ_PERM_WRITE, 0, 0, false};
        tc = rmq_topic_put(&b->topics, &n);
        rmq_broker_topics_changed(b);
        return tc;
    }
    send_err(b, conn, req, RMQ_ERR_TOPIC_NOT_EXIST, "topic[%s] not exist, apply first please!" FAQ_URL,
             h->topic);
    return NULL;
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

/* Common checks; on failure the request is answered and false returned. */
static bool check_send(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req, const send_hdr_t *h)
{
    if (b->conf.startAcceptSendRequestTimeStamp > rmq_now_ms()) {
        send_err(b, conn, req, RMQ_ERR_SYSTEM_ERROR, "broker unable to service, until %lld",
                 (long long)b->conf.startAcceptSendRequestTimeStamp);
        return false;
    }
    if (b->shutting_down) {
        send_err(b, conn, req, RMQ_ERR_SERVICE_NOT_AVAILABLE, "the broker[%s] is shutting down",
                 b->conf.brokerName);
        return false;
    }
    if (b->is_slave) {
        send_err(b, conn, req, RMQ_ERR_SERVICE_NOT_AVAILABLE,
                 "the broker[%s] is a slave, sending is forbidden", b->conf.brokerName);
        return false;
    }
    if (!(b->conf.brokerPermission & RMQ_PERM_WRITE)) {
        send_err(b, conn, req, RMQ_ERR_NO_PERMISSION, "the broker[%s] sending message is forbidden",
                 b->conf.brokerIP1);
        return false;
    }
    char why[256];
    const char *bad = rmq_topic_name_invalid(h->topic, why, sizeof(why));
    if (bad) {
        send_err(b, conn, req, RMQ_ERR_SYSTEM_ERROR, "%s", bad);
        return false;
    }
    if (rmq_topic_is_system(h->topic)) {
        send_err(b, conn, req, RMQ_ERR_NO_PERMISSION, "Sending message to topic[%s] is forbidden.", h->topic);
        return false;
    }
    if (b->pending_sends >= b->conf.maxPendingSendRequests) {
        send_err(b, conn, req, RMQ_ERR_SYSTEM_BUSY,
                 "[REJECTREQUEST]system busy, start flow control for a while (%lld sends waiting for the "
                 "disk flush)",
                 (long long)b->pending_sends);
        return false;
    }
    return true;
}

static void on_send(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    send_hdr_t h;
    if (!parse_send_hdr(conn, req, &h))
        return;
    bool batch = req->code == RMQ_REQ_SEND_BATCH_MESSAGE;
    if (!check_send(b, conn, req, &h))
        return;
    rmq_topic_config_t *tc = resolve_topic(b, conn, req, &h);
    if (!tc)
        return;
    if (!(tc->perm & RMQ_PERM_WRITE)) {
        send_err(b, conn, req, RMQ_ERR_NO_PERMISSION, "the topic[%s] sending message is forbidden", h.topic);
        return;
    }
    int32_t maxq = tc->write_queues > tc->read_queues ? tc->write_queues : tc->read_queues;
    int32_t qid = h.queue_id;
    if (qid >= maxq) {
        send_err(b, conn, req, RMQ_ERR_SYSTEM_ERROR,
                 "request queueId[%d] is illegal, topic:[%s] writeQueueNums:[%d] "
                 "readQueueNums:[%d] Producer:[%s]",
                 qid, h.topic, tc->write_queues, tc->read_queues, rmq_conn_peer(conn));
        return;
    }
    if (qid < 0)
        qid = tc->write_queues > 0 ? (int32_t)(((uint32_t)rand()) % (uint32_t)tc->write_queues) : 0;
    const char *topic = h.topic;
    char dlq[300];
    int32_t sys_flag = h.sys_flag;
    if (tc->filter_type == 1)
        sys_flag |= RMQ_SYSFLAG_MULTI_TAGS;
    if (!strncmp(topic, RMQ_RETRY_PREFIX, strlen(RMQ_RETRY_PREFIX)) && !batch) {
        const char *group = topic + strlen(RMQ_RETRY_PREFIX);
        rmq_sub_group_t *sg = rmq_broker_get_group(b, group);
        if (!sg) {
            send_err(b, conn, req, RMQ_ERR_SUBSCRIPTION_GROUP_NOT_EXIST,
                     "subscription group not exist, %s" FAQ_URL, group);
            return;
        }
        int32_t max = sg->retry_max_times;
        if (req->version >= 121 && h.has_max_reconsume)
            max = h.max_reconsume_times;
        if (h.reconsume_times >= max) {
            ensure_dlq(b, group, dlq, sizeof(dlq));
            topic = dlq;
            qid = 0;
        }
    }
    size_t maxsz = (size_t)b->store_conf.maxMessageSize;
    if (!batch && req->body_len > maxsz) {
        send_err(b, conn, req, RMQ_ERR_MESSAGE_ILLEGAL, "the message body size over max value, MAX: %zu",
                 maxsz);
        return;
    }
    if (batch && req->body_len > maxsz) {
        send_err(b, conn, req, RMQ_ERR_MESSAGE_ILLEGAL, "the batch body size %zu is over max value, MAX: %zu",
                 req->body_len, maxsz);
        return;
    }
    /* properties: WAIT is honoured and (single messages) not stored; CLUSTER added */
    rmq_msg_props_t props;
    rmq_msg_props_init(&props);
    if (h.props)
        rmq_msg_props_parse(&props, h.props, strlen(h.props));
    const char *w = rmq_msg_props_get(&props, RMQ_PROP_WAIT);
    bool wait = !w || strcmp(w, "false") != 0;
    if (!batch)
        rmq_msg_props_del(&props, RMQ_PROP_WAIT);
    rmq_msg_props_set(&props, RMQ_PROP_CLUSTER, b->conf.brokerClusterName);
    const char *tran = rmq_msg_props_get(&props, RMQ_PROP_TRAN_MSG);
    if ((tran && !strcmp(tran, "true")) ||
        (sys_flag & RMQ_SYSFLAG_TRANSACTION_MASK) == RMQ_SYSFLAG_TRANSACTION_PREPARED) {
        /* Half messages need END_TRANSACTION and the check-back service,
         * which Comet does not have yet: refuse rather than lose them. */
        rmq_msg_props_free(&props);
        send_err(b, conn, req, RMQ_ERR_NO_PERMISSION,
                 "the broker[%s] sending transaction message is forbidden (transactional messages are not "
                 "supported by this broker yet)",
                 b->conf.brokerIP1);
        return;
    }
    if (batch && (rmq_msg_props_get(&props, RMQ_PROP_DELAY) || (sys_flag & RMQ_SYSFLAG_TRANSACTION_MASK))) {
        rmq_msg_props_free(&props);
        send_err(b, conn, req, RMQ_ERR_MESSAGE_ILLEGAL, "batch messages cannot be delayed or transactional");
        return;
    }
    /* a delivery time in the future parks the message at a delay level
     * (schedule.c re-parks it until due); due now or earlier: stored as is */
    if (!batch && (sys_flag & RMQ_SYSFLAG_TRANSACTION_MASK) == 0)
        rmq_schedule_timer_park(b, &props, rmq_now_ms());
    rmq_buf_t pstr;
    rmq_buf_init(&pstr);
    rmq_msg_props_encode(&props, &pstr);
    rmq_msg_props_free(&props);
    if (pstr.len > RMQ_MSG_MAX_PROPS_LEN) {
        rmq_buf_free(&pstr);
        send_err(b, conn, req, RMQ_ERR_MESSAGE_ILLEGAL,
                 "the message properties size %zu over max value 32767", (size_t)pstr.len);
        return;
    }
    rmq_store_msg_t base = {0};
    base.topic = topic;
    base.queue_id = qid;
    base.flag = h.flag;
    base.sys_flag = sys_flag;
    base.born_timestamp = h.born_ts;
    rmq_broker_peer_host(conn, &base.born_host);
    base.store_host = b->store_host;
    base.reconsume_times = h.reconsume_times;
    base.wait_store_ok = wait;
    if (!batch) {
        base.body = req->body;
        base.body_len = req->body_len;
        base.props = (const char *)pstr.data;
        base.props_len = pstr.len;
        do_put(b, conn, req, &base, 1);
        rmq_buf_free(&pstr);
        return;
    }
    rmq_msg_batch_item_t *items = NULL;
    size_t n = 0;
    if (!req->body_len || rmq_msg_batch_decode(req->body, req->body_len, &items, &n) != RMQ_OK || n == 0) {
        rmq_buf_free(&pstr);
        free(items);
        send_err(b, conn, req, RMQ_ERR_MESSAGE_ILLEGAL, "the batch body is malformed (%zu bytes)",
                 req->body_len);
        return;
    }
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
        if (items[i].props_len && items[i].props[items[i].props_len - 1] != RMQ_PROP_PAIR_SEP && pstr.len)
            rmq_buf_putc(&ps[i], RMQ_PROP_PAIR_SEP);
        rmq_buf_put(&ps[i], pstr.data, pstr.len);
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
        do_put(b, conn, req, msgs, n);
    else
        send_err(b, conn, req, RMQ_ERR_MESSAGE_ILLEGAL,
                 "a batch element is illegal (body over maxMessageSize, properties over 32767 bytes, or "
                 "DELAY set)");
    for (size_t i = 0; i < n; i++)
        rmq_buf_free(&ps[i]);
    free(ps);
    free(msgs);
    free(items);
    rmq_buf_free(&pstr);
}

/* ---- CONSUMER_SEND_MSG_BACK ---- */

static void on_send_back(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    int64_t offset;
    const char *group;
    int32_t delay_level, max_reconsume;
    if (!rmq_req_i64(conn, req, "offset", &offset) || !rmq_req_str(conn, req, "group", &group) ||
        !rmq_req_i32(conn, req, "delayLevel", &delay_level))
        return;
    bool has_max = rmq_cmd_ext(req, "maxReconsumeTimes") != NULL;
    if (!rmq_req_opt_i32(conn, req, "maxReconsumeTimes", 16, &max_reconsume))
        return;
    rmq_sub_group_t *sg = rmq_broker_get_group(b, group);
    if (!sg) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SUBSCRIPTION_GROUP_NOT_EXIST,
                             "subscription group not exist, %s" FAQ_URL, group);
        return;
    }
    if (!(b->conf.brokerPermission & RMQ_PERM_WRITE) || b->is_slave) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_NO_PERMISSION, "the broker[%s] sending message is forbidden",
                             b->conf.brokerIP1);
        return;
    }
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
    int32_t max = sg->retry_max_times;
    if (req->version >= 121 && has_max)
        max = max_reconsume;
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
    rmq_store_msg_t m = {0};
    m.topic = target;
    m.queue_id = qid;
    m.flag = rec.flag;
    m.body = rec.body;
    m.body_len = (size_t)rec.body_len;
    m.props = (const char *)pstr.data;
    m.props_len = pstr.len;
    m.sys_flag = rec.sys_flag & ~(RMQ_SYSFLAG_BORNHOST_V6 | RMQ_SYSFLAG_STOREHOST_V6);
    m.born_timestamp = rec.born_timestamp;
    m.born_host = rec.born_host;
    m.store_host = b->store_host;
    m.reconsume_times = rec.reconsume_times + 1;
    m.wait_store_ok = false;
    rmq_put_result_t res;
    rmq_put_status_t st = rmq_store_put_message(b->store, &m, &res, NULL, NULL);
    rmq_store_ref_release(ref.pin);
    rmq_buf_free(&pstr);
    free(orig_topic);
    if (st == RMQ_PUT_OK) {
        b->msg_put_total++;
        rmq_broker_reply_ok(conn, req);
    } else {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "%s", rmq_put_status_name(st));
    }
}

void rmq_proc_send_register(rmq_broker_t *b, rmq_endpoint_t *ep)
{
    rmq_endpoint_set_handler(ep, RMQ_REQ_SEND_MESSAGE, on_send, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_SEND_MESSAGE_V2, on_send, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_SEND_BATCH_MESSAGE, on_send, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_CONSUMER_SEND_MSG_BACK, on_send_back, b);
}
