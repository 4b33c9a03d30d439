/* processor/admin.c - admin requests used by mqadmin and dashboards:
 * UPDATE_AND_CREATE_TOPIC (17), DELETE_TOPIC_IN_BROKER (215),
 * GET_ALL_TOPIC_CONFIG (21), UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200),
 * GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201), DELETE_SUBSCRIPTIONGROUP (207),
 * GET_ALL_CONSUMER_OFFSET (43), GET_ALL_DELAY_OFFSET (45), GET_TOPIC_STATS_INFO (202),
 * GET_CONSUMER_CONNECTION_LIST (203), GET_PRODUCER_CONNECTION_LIST (204),
 * GET_CONSUME_STATS (208),
 * GET_BROKER_RUNTIME_INFO (28), QUERY_TOPIC_CONSUME_BY_WHO (300),
 * GET_BROKER_CONFIG (26), GET_CONSUMER_RUNNING_INFO (307, forwarded to the
 * client), INVOKE_BROKER_TO_RESET_OFFSET (222, pushed to the consumers),
 * LOCK_BATCH_MQ (41) / UNLOCK_BATCH_MQ (42).
 * Thread: io. Never: blocks (persisting goes through the snapshot writer). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "broker_meta.h"
#include "request.h"
#include "schedule/schedule.h"
#include "controller/controller.h"
#include "ha/ha.h"
#include "out/namesrv_api.h"
#include "client/client_mgr.h"
#include "longpoll/pull_hold.h"
#include "processor/processor.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_time.h"

static void reply_body(rmq_conn_t *conn, const rmq_cmd_t *req, rmq_buf_t *body)
{
    rmq_cmd_t resp;
    rmq_broker_resp(&resp, req, RMQ_OK, NULL);
    rmq_cmd_take_body(&resp, body->data, body->len);
    body->data = NULL;
    body->len = body->cap = 0;
    rmq_conn_reply(conn, req, &resp);
    rmq_cmd_deinit(&resp);
}

static bool refuse_on_slave(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req)
{
    if (!b->is_slave)
        return false;
    rmq_broker_reply_err(
        conn, req, RMQ_ERR_SYSTEM_ERROR,
        "Can't modify topic or subscription group from slave broker, please execute it from master "
        "broker.");
    return true;
}

/* An admin request that changes no table, answered with a JSON body (the
 * table admin_reads at the end of this file): on_read decodes the request
 * header the table names into `h`; the renderer writes the body into `o` and
 * returns true, or answers the error itself (unknown topic...) and returns
 * false. on_read owns the buffer and the reply. */
typedef bool (*admin_render_fn)(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req, const rmq_hdr_t *h,
                                rmq_buf_t *o);

/* The store time of the message at consume-queue offset `off` of (topic, q);
 * 0 when there is none. */
static int64_t queue_msg_time(rmq_broker_t *b, const char *topic, int32_t q, int64_t off)
{
    int64_t t = rmq_store_get_msg_store_time(b->store, topic, q, off);
    return t > 0 ? t : 0;
}

/* UPDATE_AND_CREATE_TOPIC / DELETE_TOPIC: may the admin change this topic?
 * TopicValidator's checks, as Java (null: "blank"); the cluster name and
 * the system topics are refused. False once the error reply is sent. */
static bool topic_writable(rmq_broker_t *b, rmq_conn_t *conn, rmq_cmd_t *req, const char *topic)
{
    char why[256];
    const char *bad = rmq_topic_invalid(topic, why, sizeof(why));
    if (bad) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "%s", bad);
        return false;
    }
    if (!strcmp(topic, b->conf.brokerClusterName) || rmq_topic_is_system(topic)) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "The topic[%s] is conflict with system topic.",
                             topic);
        return false;
    }
    return true;
}

/* An answer given later (after a registration, a forwarded call): the
 * asker is held until then. */
typedef struct forward_s {
    rmq_conn_t *asker;
    int32_t opaque;
    uint8_t serialize;
} forward_t;

static forward_t *forward_new(rmq_conn_t *conn, const rmq_cmd_t *req)
{
    forward_t *f = rmq_calloc(1, sizeof(*f));
    f->asker = conn;
    f->opaque = req->opaque;
    f->serialize = req->serialize;
    rmq_conn_hold(conn);
    return f;
}

/* The name servers have the topic (or did not answer in time): SUCCESS,
 * as Java answers once registerIncrementBrokerData returned. */
static void topic_registered(void *arg)
{
    forward_t *f = arg;
    if (!rmq_conn_is_closed(f->asker)) {
        rmq_cmd_t resp;
        rmq_cmd_init(&resp);
        resp.code = RMQ_OK;
        rmq_conn_reply_to(f->asker, f->opaque, f->serialize, &resp);
        rmq_cmd_deinit(&resp);
    }
    rmq_conn_release(f->asker);
    free(f);
}

static void write_update_topic(rmq_broker_t *b, rmq_conn_t *conn, rmq_cmd_t *req, const rmq_hdr_t *h)
{
    /* CreateTopicRequestHeader.checkFields (run when extFields exist):
     * TopicFilterType.valueOf, exact and case-sensitive */
    const char *ft = rmq_hdr_str(h, RMQ_F_CREATE_TOPIC_topicFilterType);
    int fti = ft ? rmq_topic_filter_parse(ft) : -1;
    if (req->has_ext && fti < 0) {
        rmq_broker_reply_err(
            conn, req, RMQ_ERR_SYSTEM_ERROR,
            "org.apache.rocketmq.remoting.exception.RemotingCommandException: topicFilterType = "
            "[%s] value invalid",
            ft ? ft : "null");
        return;
    }
    const char *topic = rmq_hdr_str(h, RMQ_F_CREATE_TOPIC_topic);
    if (!topic_writable(b, conn, req, topic))
        return;
    char remark[512];
    if (!rmq_hdr_check_needed(h, remark, sizeof(remark))) { /* Java unboxes the numbers next */
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "%s", remark);
        return;
    }
    int32_t rq = rmq_hdr_i32(h, RMQ_F_CREATE_TOPIC_readQueueNums);
    int32_t wq = rmq_hdr_i32(h, RMQ_F_CREATE_TOPIC_writeQueueNums);
    int32_t perm = rmq_hdr_i32(h, RMQ_F_CREATE_TOPIC_perm);
    int32_t sysflag = rmq_hdr_i32(h, RMQ_F_CREATE_TOPIC_topicSysFlag);
    /* Comet's own limits (Java takes any number) */
    if (rq <= 0 || wq <= 0 || rq > 1024 || wq > 1024 || perm < 0 || perm > 15) {
        rmq_broker_reply_err(
            conn, req, RMQ_ERR_SYSTEM_ERROR,
            "illegal topic config: readQueueNums=%d writeQueueNums=%d perm=%d (queues 1..1024, perm 0..15)",
            rq, wq, perm);
        return;
    }
    /* order is not part of the topic config Java writes here (ordered
     * topics are the name server's ORDER_TOPIC_CONFIG): it stays false */
    rmq_topic_config_t tc = {(char *)topic, rq, wq, perm, fti < 0 ? 0 : fti, sysflag, false};
    rmq_topic_put(&b->topics, &tc);
    rmq_log(RMQ_LOG_INFO, "broker", "topic %s updated by %s: read=%d write=%d perm=%d", topic,
            rmq_conn_peer(conn), rq, wq, perm);
    rmq_broker_topics_changed(b);
    /* a route asked for right after this answer has the topic */
    if (b->ns && !rmq_cmd_is_oneway(req))
        rmq_namesrv_api_after_registered(b->ns, topic_registered, forward_new(conn, req));
    else
        rmq_broker_reply_ok(conn, req);
}

static void write_delete_topic(rmq_broker_t *b, rmq_conn_t *conn, rmq_cmd_t *req, const rmq_hdr_t *h)
{
    const char *topic = rmq_hdr_str(h, RMQ_F_DELETE_TOPIC_topic);
    if (!topic_writable(b, conn, req, topic))
        return;
    if (rmq_topic_del(&b->topics, topic)) {
        rmq_offset_remove_topic(&b->offsets, topic);
        rmq_broker_persist_offsets(b);
        rmq_broker_topics_changed(b);
    }
    rmq_broker_reply_ok(conn, req);
}

static void write_update_group(rmq_broker_t *b, rmq_conn_t *conn, rmq_cmd_t *req, const rmq_hdr_t *h)
{
    (void)h;
    rmq_sub_group_t g;
    char err[256];
    if (!req->body_len ||
        rmq_sub_group_from_json(&g, (const char *)req->body, req->body_len, err, sizeof(err)) != RMQ_OK) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "bad SubscriptionGroupConfig body: %s",
                             req->body_len ? err : "empty body");
        return;
    }
    rmq_sub_group_put(&b->groups, &g);
    free(g.name);
    rmq_broker_persist_groups(b);
    rmq_broker_reply_ok(conn, req);
}

static void write_delete_group(rmq_broker_t *b, rmq_conn_t *conn, rmq_cmd_t *req, const rmq_hdr_t *h)
{
    const char *group = rmq_hdr_str(h, RMQ_F_DELETE_GROUP_groupName);
    if (rmq_sub_group_del(&b->groups, group))
        rmq_broker_persist_groups(b);
    if (rmq_hdr_bool(h, RMQ_F_DELETE_GROUP_removeOffset)) {
        rmq_offset_remove_group(&b->offsets, group);
        rmq_broker_persist_offsets(b);
    }
    rmq_broker_reply_ok(conn, req);
}

/* GET_ALL_TOPIC_CONFIG, GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
 * GET_ALL_CONSUMER_OFFSET, GET_ALL_DELAY_OFFSET: a whole table. */
static bool render_table(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req, const rmq_hdr_t *h,
                         rmq_buf_t *o)
{
    (void)conn, (void)h;
    switch (req->code) {
    case RMQ_REQ_GET_ALL_TOPIC_CONFIG:
        rmq_topic_json_wrapper(o, &b->topics);
        break;
    case RMQ_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG:
        rmq_sub_group_json_wrapper(o, &b->groups);
        break;
    case RMQ_REQ_GET_ALL_CONSUMER_OFFSET:
        rmq_offset_json(o, &b->offsets);
        break;
    default: /* GET_ALL_DELAY_OFFSET */
        rmq_schedule_offsets_json(b->schedule, b->store ? rmq_store_max_delay_level(b->store) : 0, o);
    }
    return true;
}

static void mq_key(rmq_buf_t *o, const char *broker, int32_t qid, const char *topic)
{
    rmq_buf_puts(o, "{\"brokerName\":");
    rmq_json_escape(o, broker, strlen(broker), false);
    rmq_buf_printf(o, ",\"queueId\":%d,\"topic\":", qid);
    rmq_json_escape(o, topic, strlen(topic), false);
    rmq_buf_putc(o, '}');
}

static bool render_topic_stats(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req, const rmq_hdr_t *h,
                               rmq_buf_t *o)
{
    const char *topic = rmq_hdr_str(h, RMQ_F_TOPIC_topic);
    rmq_topic_config_t *tc = rmq_topic_get(&b->topics, topic);
    if (!tc) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_TOPIC_NOT_EXIST, "topic[%s] not exist", topic);
        return false;
    }
    rmq_buf_puts(o, "{\"offsetTable\":{");
    for (int32_t q = 0; q < tc->write_queues; q++) {
        if (q)
            rmq_buf_putc(o, ',');
        mq_key(o, b->conf.brokerName, q, topic);
        int64_t max = rmq_store_get_max_offset_in_queue(b->store, topic, q);
        int64_t min = rmq_store_get_min_offset_in_queue(b->store, topic, q);
        if (min < 0)
            min = 0; /* a queue without messages yet: Java creates it and answers 0 */
        int64_t last = max > 0 ? queue_msg_time(b, topic, q, max - 1) : 0;
        rmq_buf_printf(o, ":{\"lastUpdateTimestamp\":%lld,\"maxOffset\":%lld,\"minOffset\":%lld}",
                       (long long)last, (long long)max, (long long)min);
    }
    rmq_buf_puts(o, "}}");
    return true;
}

/* `{"connectionSet":[{clientAddr, clientId, language, version}, ...` (the
 * caller closes the array). */
static void write_connection_set(rmq_buf_t *o, const rmq_client_chan_t *chans, size_t n)
{
    rmq_buf_puts(o, "{\"connectionSet\":[");
    for (size_t i = 0; i < n; i++) {
        rmq_jw_t w;
        if (i)
            rmq_buf_putc(o, ',');
        rmq_jw_init_obj(&w, o);
        rmq_jw_kstr(&w, "clientAddr", rmq_conn_peer(chans[i].conn));
        rmq_jw_kstr(&w, "clientId", chans[i].client_id);
        rmq_jw_kstr(&w, "language", rmq_lang_name(chans[i].language));
        rmq_jw_kint(&w, "version", chans[i].version);
        rmq_jw_obj_end(&w);
    }
}

static bool render_consumer_connections(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req,
                                        const rmq_hdr_t *h, rmq_buf_t *o)
{
    const char *group = rmq_hdr_str(h, RMQ_F_CONSUMER_GROUP_consumerGroup);
    rmq_consumer_group_info_t *g = rmq_client_mgr_consumer(b->clients, group);
    if (!g) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_CONSUMER_NOT_ONLINE, "the consumer group[%s] not online",
                             group);
        return false;
    }
    write_connection_set(o, g->chans, g->n);
    rmq_buf_puts(o, "],");
    const char *cfw = g->consume_from_where ? g->consume_from_where : "CONSUME_FROM_LAST_OFFSET";
    const char *ct = g->consume_type ? g->consume_type : "CONSUME_PASSIVELY";
    const char *mm = g->message_model ? g->message_model : "CLUSTERING";
    rmq_buf_puts(o, "\"consumeFromWhere\":");
    rmq_json_escape(o, cfw, strlen(cfw), false);
    rmq_buf_puts(o, ",\"consumeType\":");
    rmq_json_escape(o, ct, strlen(ct), false);
    rmq_buf_puts(o, ",\"messageModel\":");
    rmq_json_escape(o, mm, strlen(mm), false);
    rmq_buf_puts(o, ",\"subscriptionTable\":{");
    for (size_t i = 0; i < g->nsubs; i++) {
        if (i)
            rmq_buf_putc(o, ',');
        rmq_json_escape(o, g->subs[i].topic, strlen(g->subs[i].topic), false);
        rmq_buf_putc(o, ':');
        rmq_subscription_json(o, &g->subs[i]);
    }
    rmq_buf_puts(o, "}}");
    return true;
}

static bool render_producer_connections(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req,
                                        const rmq_hdr_t *h, rmq_buf_t *o)
{
    const char *group = rmq_hdr_str(h, RMQ_F_PRODUCER_GROUP_producerGroup);
    rmq_producer_group_info_t *g = rmq_map_get(&b->clients->producers, group);
    if (!g || !g->n) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "the producer group[%s] not exist", group);
        return false;
    }
    write_connection_set(o, g->chans, g->n);
    rmq_buf_puts(o, "]}");
    return true;
}

static void consume_stats_topic(rmq_broker_t *b, rmq_buf_t *o, bool *first, const char *group,
                                const char *topic)
{
    rmq_topic_config_t *tc = rmq_topic_get(&b->topics, topic);
    if (!tc)
        return;
    for (int32_t q = 0; q < tc->read_queues; q++) {
        int64_t max = rmq_store_get_max_offset_in_queue(b->store, topic, q);
        int64_t co = rmq_offset_query(&b->offsets, group, topic, q);
        if (co < 0)
            co = 0;
        int64_t last = co > 0 ? queue_msg_time(b, topic, q, co - 1) : 0;
        if (!*first)
            rmq_buf_putc(o, ',');
        *first = false;
        mq_key(o, b->conf.brokerName, q, topic);
        rmq_buf_printf(o, ":{\"brokerOffset\":%lld,\"consumerOffset\":%lld,\"lastTimestamp\":%lld}",
                       (long long)max, (long long)co, (long long)last);
    }
}

static bool render_consume_stats(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req, const rmq_hdr_t *h,
                                 rmq_buf_t *o)
{
    const char *group = rmq_hdr_str(h, RMQ_F_CONSUME_STATS_consumerGroup);
    const char *topic = rmq_hdr_str(h, RMQ_F_CONSUME_STATS_topic);
    rmq_buf_puts(o, "{\"consumeTps\":0.0,\"offsetTable\":{");
    bool first = true;
    rmq_consumer_group_info_t *cg = rmq_client_mgr_consumer(b->clients, group);
    if (topic && *topic) {
        consume_stats_topic(b, o, &first, group, topic);
    } else {
        /* every topic with offsets for the group */
        const char *k;
        void *v;
        size_t glen = strlen(group);
        for (size_t it = 0; rmq_map_next(&b->offsets.map, &it, &k, &v);) {
            size_t kl = strlen(k);
            if (kl <= glen + 1 || k[kl - glen - 1] != '@' || strcmp(k + kl - glen, group))
                continue;
            char *t = rmq_strndup(k, kl - glen - 1);
            if (!cg || rmq_consumer_group_sub(cg, t))
                consume_stats_topic(b, o, &first, group, t);
            free(t);
        }
    }
    rmq_buf_puts(o, "}}");
    return true;
}

static void kv(rmq_buf_t *o, bool *first, const char *k, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void kv(rmq_buf_t *o, bool *first, const char *k, const char *fmt, ...)
{
    char v[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    if (!*first)
        rmq_buf_putc(o, ',');
    *first = false;
    rmq_json_escape(o, k, strlen(k), false);
    rmq_buf_putc(o, ':');
    rmq_json_escape(o, v, strlen(v), false);
}

struct ha_kv_ctx {
    rmq_buf_t *o;
    bool *first;
};

static void ha_kv(void *arg, const char *k, const char *v)
{
    struct ha_kv_ctx *c = arg;
    kv(c->o, c->first, k, "%s", v);
}

static bool render_runtime_info(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req, const rmq_hdr_t *h,
                                rmq_buf_t *o)
{
    (void)conn, (void)req, (void)h;
    bool f = true;
    rmq_buf_puts(o, "{\"table\":{");
    kv(o, &f, "brokerVersionDesc", "V4_9_8 (Comet)");
    kv(o, &f, "brokerVersion", "%d", RMQ_VERSION_CURRENT);
    kv(o, &f, "msgPutTotalTodayNow", "%lld", (long long)b->msg_put_total);
    kv(o, &f, "msgGetTotalTodayNow", "%lld", (long long)b->msg_get_total);
    kv(o, &f, "msgPutTotalTodayMorning", "0");
    kv(o, &f, "msgPutTotalYesterdayMorning", "0");
    kv(o, &f, "msgGetTotalTodayMorning", "0");
    kv(o, &f, "msgGetTotalYesterdayMorning", "0");
    kv(o, &f, "putTps", "0.0 0.0 0.0");
    kv(o, &f, "getTransferedTps", "0.0 0.0 0.0");
    kv(o, &f, "sendThreadPoolQueueSize", "%lld", (long long)b->pending_sends);
    kv(o, &f, "sendThreadPoolQueueCapacity", "%d", b->conf.maxPendingSendRequests);
    kv(o, &f, "pullThreadPoolQueueSize", "%lld", (long long)rmq_pull_hold_count(b->hold));
    kv(o, &f, "sendThreadPoolQueueHeadWaitTimeMills", "0");
    kv(o, &f, "pullThreadPoolQueueHeadWaitTimeMills", "0");
    kv(o, &f, "pageCacheLockTimeMills", "0");
    kv(o, &f, "earliestMessageTimeStamp", "%lld", (long long)rmq_store_get_earliest_store_time(b->store));
    kv(o, &f, "commitLogMinOffset", "%lld", (long long)rmq_store_get_commitlog_min_offset(b->store));
    kv(o, &f, "commitLogMaxOffset", "%lld", (long long)rmq_store_get_commitlog_max_offset(b->store));
    kv(o, &f, "dispatchBehindBytes", "%lld",
       (long long)(rmq_store_get_commitlog_max_offset(b->store) - rmq_store_get_dispatched_offset(b->store)));
    kv(o, &f, "commitLogDiskRatio", "%s", rmq_store_is_disk_full(b->store) ? "1.0" : "0.0");
    kv(o, &f, "bootTimestamp", "%lld", (long long)b->boot_ms);
    kv(o, &f, "runtime", "[ %lld ms ]", (long long)(rmq_now_ms() - b->boot_ms));
    kv(o, &f, "brokerRole", "%s", /* controller mode: the role of the moment */
       b->is_slave ? "SLAVE" : rmq_broker_role_names[b->store_conf.brokerRole]);
    kv(o, &f, "flushDiskType", "%s", rmq_flush_disk_type_names[b->store_conf.flushDiskType]);
    struct ha_kv_ctx hc = {o, &f};
    rmq_ha_runtime_info(b->ha, ha_kv, &hc);     /* replication state (ha/ha.h) */
    rmq_ctrl_runtime_info(b->ctrl, ha_kv, &hc); /* controller mode (controller/controller.h) */
    rmq_buf_puts(o, "}}");
    return true;
}

static bool render_consume_by_who(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req, const rmq_hdr_t *h,
                                  rmq_buf_t *o)
{
    const char *topic = rmq_hdr_str(h, RMQ_F_TOPIC_topic);
    rmq_map_t seen;
    rmq_map_init(&seen, NULL);
    const char *k;
    void *v;
    for (size_t it = 0; rmq_map_next(&b->clients->consumers, &it, &k, &v);)
        if (rmq_consumer_group_sub(v, topic))
            rmq_map_put(&seen, k, NULL);
    size_t tl = strlen(topic);
    for (size_t it = 0; rmq_map_next(&b->offsets.map, &it, &k, &v);)
        if (!strncmp(k, topic, tl) && k[tl] == '@')
            rmq_map_put(&seen, k + tl + 1, NULL);
    rmq_jw_t w;
    rmq_jw_init_obj(&w, o);
    rmq_jw_key(&w, "groupList");
    rmq_jw_arr_begin(&w);
    for (size_t it = 0; rmq_map_next(&seen, &it, &k, &v);)
        rmq_jw_str(&w, k);
    rmq_jw_arr_end(&w);
    rmq_jw_obj_end(&w);
    rmq_map_deinit(&seen);
    return true;
}

/* INVOKE_BROKER_TO_RESET_OFFSET (222, mqadmin resetOffsetByTime): compute
 * each queue's offset for the timestamp and push it to every consumer of the
 * group (RESET_CONSUMER_CLIENT_OFFSET, oneway), as Broker2Client.resetOffset. */
static bool render_reset_offset(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req, const rmq_hdr_t *h,
                                rmq_buf_t *o)
{
    const char *topic = rmq_hdr_str(h, RMQ_F_RESET_OFFSET_topic),
               *group = rmq_hdr_str(h, RMQ_F_RESET_OFFSET_group);
    int64_t ts = rmq_hdr_i64(h, RMQ_F_RESET_OFFSET_timestamp); /* primitive long: 0 when unset */
    bool force = rmq_hdr_bool(h, RMQ_F_RESET_OFFSET_isForce);
    rmq_topic_config_t *tc = rmq_topic_get(&b->topics, topic);
    if (!tc) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR,
                             "[reset-offset] reset offset failed, no topic in this broker. topic=%s", topic);
        return false;
    }
    rmq_buf_puts(o, "{\"offsetTable\":{");
    for (int32_t q = 0; q < tc->write_queues; q++) {
        int64_t cur = rmq_offset_query(&b->offsets, group, topic, q);
        if (cur == -1) {
            rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "THe consumer group <%s> not exist", group);
            return false;
        }
        int64_t off = ts == -1 ? rmq_store_get_max_offset_in_queue(b->store, topic, q)
                               : rmq_store_get_offset_by_time(b->store, topic, q, ts);
        if (off < 0)
            off = 0;
        if (!force && off >= cur)
            off = cur;
        if (q)
            rmq_buf_putc(o, ',');
        mq_key(o, b->conf.brokerName, q, topic);
        rmq_buf_printf(o, ":%lld", (long long)off);
    }
    rmq_buf_puts(o, "}}");
    rmq_consumer_group_info_t *g = rmq_client_mgr_consumer(b->clients, group);
    if (!g) {
        rmq_broker_reply_err(
            conn, req, RMQ_ERR_SYSTEM_ERROR,
            "Consumer not online, so can not reset offset, Group: %s Topic: %s Timestamp: %lld", group, topic,
            (long long)ts);
        return false;
    }
    for (size_t i = 0; i < g->n; i++) {
        if (g->chans[i].version < 28 || rmq_conn_is_closed(g->chans[i].conn))
            continue;
        rmq_cmd_t push;
        rmq_cmd_init_request(&push, RMQ_REQ_RESET_CONSUMER_CLIENT_OFFSET);
        rmq_cmd_set_ext(&push, "topic", topic);
        rmq_cmd_set_ext(&push, "group", group);
        rmq_cmd_set_ext_i64(&push, "timestamp", ts);
        rmq_cmd_set_ext(&push, "isForce", force ? "true" : "false");
        rmq_cmd_set_body(&push, o->data, o->len);
        rmq_conn_oneway(g->chans[i].conn, &push);
        rmq_cmd_deinit(&push);
    }
    rmq_log(RMQ_LOG_INFO, "broker", "reset offsets of %s on %s to timestamp %lld, %zu consumers told", group,
            topic, (long long)ts, g->n);
    return true;
}

static void on_broker_config(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    rmq_conf_print(rmq_broker_conf_defs, &b->conf, f, false);
    rmq_conf_print(rmq_store_conf_defs, &b->store_conf, f, false);
    fclose(f);
    rmq_cmd_t resp;
    rmq_broker_resp(&resp, req, RMQ_OK, NULL);
    rmq_buf_t dv;
    rmq_buf_init(&dv);
    rmq_data_version_json(&dv, &b->topics.dv);
    rmq_cmd_set_ext(&resp, "version", rmq_buf_cstr(&dv));
    rmq_buf_free(&dv);
    rmq_cmd_take_body(&resp, (uint8_t *)text, len);
    rmq_conn_reply(conn, req, &resp);
    rmq_cmd_deinit(&resp);
}

/* GET_CONSUMER_RUNNING_INFO (307): the channel of the client the header
 * names, online and new enough to answer; NULL once the error reply is
 * sent. */
static const rmq_client_chan_t *running_info_chan(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req)
{
    rmq_hdr_t h;
    if (!rmq_req_decode(conn, req, RMQ_HDR_RUNNING_INFO, true, &h))
        return NULL;
    const char *group = rmq_hdr_str(&h, RMQ_F_RUNNING_INFO_consumerGroup);
    const char *client_id = rmq_hdr_str(&h, RMQ_F_RUNNING_INFO_clientId);
    rmq_consumer_group_info_t *g = rmq_client_mgr_consumer(b->clients, group);
    rmq_client_chan_t *ch = NULL;
    for (size_t i = 0; g && i < g->n; i++)
        if (!strcmp(g->chans[i].client_id, client_id))
            ch = &g->chans[i];
    if (!ch || rmq_conn_is_closed(ch->conn)) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "The Consumer <%s> <%s> not online", group,
                             client_id);
        return NULL;
    }
    if (ch->version < 62) {
        rmq_broker_reply_err(
            conn, req, RMQ_ERR_SYSTEM_ERROR,
            "The Consumer <%s> Version <%d> too low to finish, please upgrade it to V3_1_8_SNAPSHOT",
            client_id, ch->version);
        return NULL;
    }
    return ch;
}

/* GET_CONSUMER_RUNNING_INFO is forwarded to the client's channel; its
 * answer (or CONSUME_MSG_TIMEOUT) goes back to the asker. */
static void forward_resp(rmq_conn_t *conn, rmq_err_t err, rmq_cmd_t *cresp, void *arg)
{
    forward_t *f = arg;
    if (!rmq_conn_is_closed(f->asker)) {
        rmq_cmd_t resp;
        rmq_cmd_init(&resp);
        if (err == RMQ_OK) {
            resp.code = cresp->code;
            if (cresp->remark)
                rmq_cmd_set_remark(&resp, "%s", cresp->remark);
            for (size_t i = 0; i < cresp->ext_n; i++)
                rmq_cmd_set_ext(&resp, cresp->ext[i].key, cresp->ext[i].val);
            if (cresp->body_len)
                rmq_cmd_set_body(&resp, cresp->body, cresp->body_len);
        } else {
            resp.code = RMQ_ERR_CONSUME_MSG_TIMEOUT;
            rmq_cmd_set_remark(&resp, "consumer did not answer: %s", rmq_err2str(err));
        }
        rmq_conn_reply_to(f->asker, f->opaque, f->serialize, &resp);
        rmq_cmd_deinit(&resp);
    }
    rmq_conn_release(f->asker);
    free(f);
}

static void on_consumer_running_info(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    const rmq_client_chan_t *ch = running_info_chan(ctx, conn, req);
    if (!ch)
        return;
    rmq_cmd_t fwd;
    rmq_cmd_init_request(&fwd, req->code);
    for (size_t i = 0; i < req->ext_n; i++)
        rmq_cmd_set_ext(&fwd, req->ext[i].key, req->ext[i].val);
    if (req->body_len)
        rmq_cmd_set_body(&fwd, req->body, req->body_len);
    forward_t *f = forward_new(conn, req);
    if (rmq_conn_request(ch->conn, &fwd, 10000, forward_resp, f) != RMQ_OK)
        forward_resp(ch->conn, RMQ_ERR__TRANSPORT, NULL, f);
    rmq_cmd_deinit(&fwd);
}

/* Orderly consumption locks (RebalanceLockManager), in memory. */
typedef struct lock_ent_s {
    char *client_id;
    int64_t ts;
} lock_ent_t;

static void lock_free(void *p)
{
    lock_ent_t *e = p;
    if (e) {
        free(e->client_id);
        free(e);
    }
}

static void on_lock_batch(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    bool unlock = req->code == RMQ_REQ_UNLOCK_BATCH_MQ;
    char err[256];
    json_t *root =
        req->body_len ? rmq_json_parse((const char *)req->body, req->body_len, err, sizeof(err)) : NULL;
    const char *cid = root ? rmq_json_str(root, "clientId") : NULL;
    const char *group = root ? rmq_json_str(root, "consumerGroup") : NULL;
    json_t *set = root ? json_object_get(root, "mqSet") : NULL;
    if (!cid || !group || !json_is_array(set)) {
        if (root)
            json_decref(root);
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR,
                             "lock body must be {\"clientId\",\"consumerGroup\",\"mqSet\":[...]} JSON");
        return;
    }
    rmq_broker_t *b = ctx;
    if (!b->mq_locks) {
        b->mq_locks = rmq_calloc(1, sizeof(*b->mq_locks));
        rmq_map_init(b->mq_locks, lock_free);
    }
    rmq_map_t *locks = b->mq_locks;
    rmq_buf_t o;
    rmq_buf_init(&o);
    rmq_buf_puts(&o, "{\"lockOKMQSet\":[");
    bool first = true;
    int64_t now = rmq_mono_ms();
    for (size_t i = 0; i < json_array_size(set); i++) {
        json_t *mq = json_array_get(set, i);
        const char *t = rmq_json_str(mq, "topic"), *bn = rmq_json_str(mq, "brokerName");
        int64_t q = 0;
        if (!t || !bn || !rmq_json_int(mq, "queueId", &q))
            continue;
        char key[1024];
        snprintf(key, sizeof(key), "%s\x01%s\x01%s\x01%lld", group, t, bn, (long long)q);
        lock_ent_t *e = rmq_map_get(locks, key);
        if (unlock) {
            if (e && !strcmp(e->client_id, cid))
                rmq_map_del(locks, key);
            continue;
        }
        bool ok = !e || !strcmp(e->client_id, cid) || now - e->ts > 60000;
        if (!ok)
            continue;
        if (!e) {
            e = rmq_calloc(1, sizeof(*e));
            rmq_map_put(locks, key, e);
        }
        if (!e->client_id || strcmp(e->client_id, cid)) {
            free(e->client_id);
            e->client_id = rmq_strdup(cid);
        }
        e->ts = now;
        if (!first)
            rmq_buf_putc(&o, ',');
        first = false;
        mq_key(&o, bn, (int32_t)q, t);
    }
    rmq_buf_puts(&o, "]}");
    json_decref(root);
    if (unlock) {
        rmq_buf_free(&o);
        rmq_broker_reply_ok(conn, req);
        return;
    }
    reply_body(conn, req, &o);
}

void rmq_proc_admin_cleanup(rmq_broker_t *b)
{
    if (b->mq_locks) {
        rmq_map_deinit(b->mq_locks);
        free(b->mq_locks);
        b->mq_locks = NULL;
    }
}

/* The requests that change a metadata table: a slave refuses them (its
 * tables are copies of its master's). */
static const struct {
    int32_t code;
    void (*write)(rmq_broker_t *b, rmq_conn_t *conn, rmq_cmd_t *req, const rmq_hdr_t *h);
    int hdr;           /* rmq_hdr_id_t of the request header, or -1 for none */
    bool check_needed; /* false: the writer checks the needed fields itself */
} admin_writes[] = {
    {RMQ_REQ_UPDATE_AND_CREATE_TOPIC, write_update_topic, RMQ_HDR_CREATE_TOPIC, false},
    {RMQ_REQ_DELETE_TOPIC_IN_BROKER, write_delete_topic, RMQ_HDR_DELETE_TOPIC, true},
    {RMQ_REQ_UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, write_update_group, -1, true},
    {RMQ_REQ_DELETE_SUBSCRIPTIONGROUP, write_delete_group, RMQ_HDR_DELETE_GROUP, true},
};

/* The request header an admin table names (hdr < 0: none, *h stays empty);
 * false once the error reply is sent. */
static bool table_hdr_decode(rmq_conn_t *conn, const rmq_cmd_t *req, int hdr, bool check_needed, rmq_hdr_t *h)
{
    *h = (rmq_hdr_t){0};
    return hdr < 0 || rmq_req_decode(conn, req, (rmq_hdr_id_t)hdr, check_needed, h);
}

static void on_write(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    if (refuse_on_slave(b, conn, req))
        return;
    for (size_t i = 0; i < sizeof(admin_writes) / sizeof(admin_writes[0]); i++) {
        rmq_hdr_t h;
        if (admin_writes[i].code == req->code &&
            table_hdr_decode(conn, req, admin_writes[i].hdr, admin_writes[i].check_needed, &h))
            admin_writes[i].write(b, conn, req, &h);
    }
}

static const struct {
    int32_t code;
    admin_render_fn render;
    int hdr; /* rmq_hdr_id_t of the request header, or -1 for none */
} admin_reads[] = {
    {RMQ_REQ_GET_ALL_TOPIC_CONFIG, render_table, -1},
    {RMQ_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG, render_table, -1},
    {RMQ_REQ_GET_ALL_CONSUMER_OFFSET, render_table, -1},
    {RMQ_REQ_GET_ALL_DELAY_OFFSET, render_table, -1},
    {RMQ_REQ_GET_TOPIC_STATS_INFO, render_topic_stats, RMQ_HDR_TOPIC},
    {RMQ_REQ_GET_CONSUMER_CONNECTION_LIST, render_consumer_connections, RMQ_HDR_CONSUMER_GROUP},
    {RMQ_REQ_GET_CONSUME_STATS, render_consume_stats, RMQ_HDR_CONSUME_STATS},
    {RMQ_REQ_GET_PRODUCER_CONNECTION_LIST, render_producer_connections, RMQ_HDR_PRODUCER_GROUP},
    {RMQ_REQ_GET_BROKER_RUNTIME_INFO, render_runtime_info, -1},
    {RMQ_REQ_QUERY_TOPIC_CONSUME_BY_WHO, render_consume_by_who, RMQ_HDR_TOPIC},
    {RMQ_REQ_INVOKE_BROKER_TO_RESET_OFFSET, render_reset_offset, RMQ_HDR_RESET_OFFSET},
};

/* Every request of admin_reads: render its body, answer it. */
static void on_read(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    for (size_t i = 0; i < sizeof(admin_reads) / sizeof(admin_reads[0]); i++) {
        if (admin_reads[i].code != req->code)
            continue;
        rmq_hdr_t h;
        if (!table_hdr_decode(conn, req, admin_reads[i].hdr, true, &h))
            return;
        rmq_buf_t o;
        rmq_buf_init(&o);
        if (admin_reads[i].render(ctx, conn, req, &h, &o))
            reply_body(conn, req, &o);
        else
            rmq_buf_free(&o);
        return;
    }
}

void rmq_proc_admin_register(rmq_broker_t *b, rmq_endpoint_t *ep)
{
    for (size_t i = 0; i < sizeof(admin_writes) / sizeof(admin_writes[0]); i++)
        rmq_endpoint_set_handler(ep, admin_writes[i].code, on_write, b);
    for (size_t i = 0; i < sizeof(admin_reads) / sizeof(admin_reads[0]); i++)
        rmq_endpoint_set_handler(ep, admin_reads[i].code, on_read, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_BROKER_CONFIG, on_broker_config, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_CONSUMER_RUNNING_INFO, on_consumer_running_info, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_LOCK_BATCH_MQ, on_lock_batch, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_UNLOCK_BATCH_MQ, on_lock_batch, b);
}
