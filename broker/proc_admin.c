/* proc_admin.c - admin requests used by mqadmin and dashboards:
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
#include "client_mgr.h"
#include "pull_hold.h"
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

static void on_update_topic(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    const char *topic, *ft;
    int32_t rq, wq, perm, sysflag;
    bool order;
    if (!rmq_req_str(conn, req, "topic", &topic) || !rmq_req_i32(conn, req, "readQueueNums", &rq) ||
        !rmq_req_i32(conn, req, "writeQueueNums", &wq) || !rmq_req_i32(conn, req, "perm", &perm) ||
        !rmq_req_str(conn, req, "topicFilterType", &ft) ||
        !rmq_req_opt_i32(conn, req, "topicSysFlag", 0, &sysflag) ||
        !rmq_req_opt_bool(conn, req, "order", false, &order))
        return;
    if (refuse_on_slave(b, conn, req))
        return;
    char why[256];
    const char *bad = rmq_topic_name_invalid(topic, why, sizeof(why));
    if (bad) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "%s", bad);
        return;
    }
    if (!strcmp(topic, b->conf.brokerClusterName) || rmq_topic_is_system(topic)) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "The topic[%s] is conflict with system topic.",
                             topic);
        return;
    }
    int fti = rmq_topic_filter_parse(ft);
    if (fti < 0) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR,
                             "topicFilterType[%s] is not SINGLE_TAG or MULTI_TAG", ft);
        return;
    }
    if (rq <= 0 || wq <= 0 || rq > 1024 || wq > 1024 || perm < 0 || perm > 15) {
        rmq_broker_reply_err(
            conn, req, RMQ_ERR_SYSTEM_ERROR,
            "illegal topic config: readQueueNums=%d writeQueueNums=%d perm=%d (queues 1..1024, perm 0..15)",
            rq, wq, perm);
        return;
    }
    rmq_topic_config_t tc = {(char *)topic, rq, wq, perm, fti, sysflag, order};
    rmq_topic_put(&b->topics, &tc);
    rmq_log(RMQ_LOG_INFO, "broker", "topic %s updated by %s: read=%d write=%d perm=%d", topic,
            rmq_conn_peer(conn), rq, wq, perm);
    rmq_broker_topics_changed(b);
    rmq_broker_reply_ok(conn, req);
}

static void on_delete_topic(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    const char *topic;
    if (!rmq_req_str(conn, req, "topic", &topic))
        return;
    if (refuse_on_slave(b, conn, req))
        return;
    if (rmq_topic_del(&b->topics, topic)) {
        rmq_offset_remove_topic(&b->offsets, topic);
        rmq_broker_persist_offsets(b);
        rmq_broker_topics_changed(b);
    }
    rmq_broker_reply_ok(conn, req);
}

static void on_get_all_topic_config(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    rmq_buf_t body;
    rmq_buf_init(&body);
    rmq_topic_json_wrapper(&body, &b->topics);
    reply_body(conn, req, &body);
}

static void on_update_group(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    if (refuse_on_slave(b, conn, req))
        return;
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

static void on_get_all_groups(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    rmq_buf_t body;
    rmq_buf_init(&body);
    rmq_sub_group_json_wrapper(&body, &b->groups);
    reply_body(conn, req, &body);
}

static void on_delete_group(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    const char *group;
    if (!rmq_req_str(conn, req, "groupName", &group))
        return;
    if (refuse_on_slave(b, conn, req))
        return;
    if (rmq_sub_group_del(&b->groups, group))
        rmq_broker_persist_groups(b);
    rmq_broker_reply_ok(conn, req);
}

static void on_get_all_offsets(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    rmq_buf_t body;
    rmq_buf_init(&body);
    rmq_offset_json(&body, &b->offsets);
    reply_body(conn, req, &body);
}

static void on_get_all_delay_offsets(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    rmq_buf_t o;
    rmq_buf_init(&o);
    rmq_buf_puts(&o, "{\"offsetTable\":{");
    int max = b->store ? rmq_store_max_delay_level(b->store) : 0;
    for (int level = 1; level <= max && level <= RMQ_SCHEDULE_MAX_LEVELS; level++)
        rmq_buf_printf(&o, "%s%d:%lld", level > 1 ? "," : "", level,
                       (long long)(b->schedule ? b->schedule->offsets[level] : 0));
    rmq_buf_puts(&o, "}}");
    reply_body(conn, req, &o);
}

static void mq_key(rmq_buf_t *o, const char *broker, int32_t qid, const char *topic)
{
    rmq_buf_puts(o, "{\"brokerName\":");
    rmq_json_escape(o, broker, strlen(broker), false);
    rmq_buf_printf(o, ",\"queueId\":%d,\"topic\":", qid);
    rmq_json_escape(o, topic, strlen(topic), false);
    rmq_buf_putc(o, '}');
}

static void on_topic_stats(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    const char *topic;
    if (!rmq_req_str(conn, req, "topic", &topic))
        return;
    rmq_topic_config_t *tc = rmq_topic_get(&b->topics, topic);
    if (!tc) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_TOPIC_NOT_EXIST, "topic[%s] not exist", topic);
        return;
    }
    rmq_buf_t o;
    rmq_buf_init(&o);
    rmq_buf_puts(&o, "{\"offsetTable\":{");
    for (int32_t q = 0; q < tc->write_queues; q++) {
        if (q)
            rmq_buf_putc(&o, ',');
        mq_key(&o, b->conf.brokerName, q, topic);
        int64_t max = rmq_store_get_max_offset_in_queue(b->store, topic, q);
        int64_t min = rmq_store_get_min_offset_in_queue(b->store, topic, q);
        if (min < 0)
            min = 0; /* a queue without messages yet: Java creates it and answers 0 */
        int64_t last = 0;
        if (max > 0) {
            int64_t clo = rmq_store_get_commitlog_offset_in_queue(b->store, topic, q, max - 1);
            rmq_store_ref_t ref = {0};
            rmq_msg_rec_t rec;
            if (clo >= 0 && rmq_store_get_message_by_offset(b->store, clo, &ref) == RMQ_OK) {
                if (rmq_msg_decode(ref.data, ref.len, false, &rec) == RMQ_OK)
                    last = rec.store_timestamp;
                rmq_store_ref_release(ref.pin);
            }
        }
        rmq_buf_printf(&o, ":{\"lastUpdateTimestamp\":%lld,\"maxOffset\":%lld,\"minOffset\":%lld}",
                       (long long)last, (long long)max, (long long)min);
    }
    rmq_buf_puts(&o, "}}");
    reply_body(conn, req, &o);
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
        rmq_jw_init(&w, o);
        rmq_jw_obj_begin(&w);
        rmq_jw_kstr(&w, "clientAddr", rmq_conn_peer(chans[i].conn));
        rmq_jw_kstr(&w, "clientId", chans[i].client_id);
        rmq_jw_kstr(&w, "language", rmq_lang_name(chans[i].language));
        rmq_jw_kint(&w, "version", chans[i].version);
        rmq_jw_obj_end(&w);
    }
}

static void on_consumer_connections(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    const char *group;
    if (!rmq_req_str(conn, req, "consumerGroup", &group))
        return;
    rmq_consumer_group_info_t *g = rmq_client_mgr_consumer(b->clients, group);
    if (!g) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_CONSUMER_NOT_ONLINE, "the consumer group[%s] not online",
                             group);
        return;
    }
    rmq_buf_t o;
    rmq_buf_init(&o);
    write_connection_set(&o, g->chans, g->n);
    rmq_buf_puts(&o, "],");
    const char *cfw = g->consume_from_where ? g->consume_from_where : "CONSUME_FROM_LAST_OFFSET";
    const char *ct = g->consume_type ? g->consume_type : "CONSUME_PASSIVELY";
    const char *mm = g->message_model ? g->message_model : "CLUSTERING";
    rmq_buf_puts(&o, "\"consumeFromWhere\":");
    rmq_json_escape(&o, cfw, strlen(cfw), false);
    rmq_buf_puts(&o, ",\"consumeType\":");
    rmq_json_escape(&o, ct, strlen(ct), false);
    rmq_buf_puts(&o, ",\"messageModel\":");
    rmq_json_escape(&o, mm, strlen(mm), false);
    rmq_buf_puts(&o, ",\"subscriptionTable\":{");
    for (size_t i = 0; i < g->nsubs; i++) {
        if (i)
            rmq_buf_putc(&o, ',');
        rmq_json_escape(&o, g->subs[i].topic, strlen(g->subs[i].topic), false);
        rmq_buf_putc(&o, ':');
        rmq_subscription_json(&o, &g->subs[i]);
    }
    rmq_buf_puts(&o, "}}");
    reply_body(conn, req, &o);
}

static void on_producer_connections(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    const char *group;
    if (!rmq_req_str(conn, req, "producerGroup", &group))
        return;
    rmq_producer_group_info_t *g = rmq_map_get(&b->clients->producers, group);
    if (!g || !g->n) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "the producer group[%s] not exist", group);
        return;
    }
    rmq_buf_t o;
    rmq_buf_init(&o);
    write_connection_set(&o, g->chans, g->n);
    rmq_buf_puts(&o, "]}");
    reply_body(conn, req, &o);
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
        int64_t last = 0;
        if (co > 0) {
            int64_t clo = rmq_store_get_commitlog_offset_in_queue(b->store, topic, q, co - 1);
            rmq_store_ref_t ref = {0};
            rmq_msg_rec_t rec;
            if (clo >= 0 && rmq_store_get_message_by_offset(b->store, clo, &ref) == RMQ_OK) {
                if (rmq_msg_decode(ref.data, ref.len, false, &rec) == RMQ_OK)
                    last = rec.store_timestamp;
                rmq_store_ref_release(ref.pin);
            }
        }
        if (!*first)
            rmq_buf_putc(o, ',');
        *first = false;
        mq_key(o, b->conf.brokerName, q, topic);
        rmq_buf_printf(o, ":{\"brokerOffset\":%lld,\"consumerOffset\":%lld,\"lastTimestamp\":%lld}",
                       (long long)max, (long long)co, (long long)last);
    }
}

static void on_consume_stats(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    const char *group;
    if (!rmq_req_str(conn, req, "consumerGroup", &group))
        return;
    const char *topic = rmq_cmd_ext(req, "topic");
    rmq_buf_t o;
    rmq_buf_init(&o);
    rmq_buf_puts(&o, "{\"consumeTps\":0.0,\"offsetTable\":{");
    bool first = true;
    rmq_consumer_group_info_t *cg = rmq_client_mgr_consumer(b->clients, group);
    if (topic && *topic) {
        consume_stats_topic(b, &o, &first, group, topic);
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
                consume_stats_topic(b, &o, &first, group, t);
            free(t);
        }
    }
    rmq_buf_puts(&o, "}}");
    reply_body(conn, req, &o);
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

static void on_runtime_info(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    rmq_buf_t o;
    rmq_buf_init(&o);
    bool f = true;
    rmq_buf_puts(&o, "{\"table\":{");
    kv(&o, &f, "brokerVersionDesc", "V4_9_8 (Comet)");
    kv(&o, &f, "brokerVersion", "%d", RMQ_VERSION_CURRENT);
    kv(&o, &f, "msgPutTotalTodayNow", "%lld", (long long)b->msg_put_total);
    kv(&o, &f, "msgGetTotalTodayNow", "%lld", (long long)b->msg_get_total);
    kv(&o, &f, "msgPutTotalTodayMorning", "0");
    kv(&o, &f, "msgPutTotalYesterdayMorning", "0");
    kv(&o, &f, "msgGetTotalTodayMorning", "0");
    kv(&o, &f, "msgGetTotalYesterdayMorning", "0");
    kv(&o, &f, "putTps", "0.0 0.0 0.0");
    kv(&o, &f, "getTransferedTps", "0.0 0.0 0.0");
    kv(&o, &f, "sendThreadPoolQueueSize", "%lld", (long long)b->pending_sends);
    kv(&o, &f, "sendThreadPoolQueueCapacity", "%d", b->conf.maxPendingSendRequests);
    kv(&o, &f, "pullThreadPoolQueueSize", "%lld", (long long)rmq_pull_hold_count(b->hold));
    kv(&o, &f, "sendThreadPoolQueueHeadWaitTimeMills", "0");
    kv(&o, &f, "pullThreadPoolQueueHeadWaitTimeMills", "0");
    kv(&o, &f, "pageCacheLockTimeMills", "0");
    kv(&o, &f, "earliestMessageTimeStamp", "%lld", (long long)rmq_store_get_earliest_store_time(b->store));
    kv(&o, &f, "commitLogMinOffset", "%lld", (long long)rmq_store_get_commitlog_min_offset(b->store));
    kv(&o, &f, "commitLogMaxOffset", "%lld", (long long)rmq_store_get_commitlog_max_offset(b->store));
    kv(&o, &f, "dispatchBehindBytes", "%lld",
       (long long)(rmq_store_get_commitlog_max_offset(b->store) - rmq_store_get_dispatched_offset(b->store)));
    kv(&o, &f, "commitLogDiskRatio", "%s", rmq_store_is_disk_full(b->store) ? "1.0" : "0.0");
    kv(&o, &f, "bootTimestamp", "%lld", (long long)b->boot_ms);
    kv(&o, &f, "runtime", "[ %lld ms ]", (long long)(rmq_now_ms() - b->boot_ms));
    kv(&o, &f, "brokerRole", "%s", b->store_conf.brokerRole);
    kv(&o, &f, "flushDiskType", "%s", b->store_conf.flushDiskType);
    rmq_buf_puts(&o, "}}");
    reply_body(conn, req, &o);
}

static void on_consume_by_who(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    const char *topic;
    if (!rmq_req_str(conn, req, "topic", &topic))
        return;
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
    rmq_buf_t o;
    rmq_buf_init(&o);
    rmq_jw_t w;
    rmq_jw_init(&w, &o);
    rmq_jw_obj_begin(&w);
    rmq_jw_key(&w, "groupList");
    rmq_jw_arr_begin(&w);
    for (size_t it = 0; rmq_map_next(&seen, &it, &k, &v);)
        rmq_jw_str(&w, k);
    rmq_jw_arr_end(&w);
    rmq_jw_obj_end(&w);
    rmq_map_deinit(&seen);
    reply_body(conn, req, &o);
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

/* GET_CONSUMER_RUNNING_INFO (307): forwarded to the client's channel; its
 * answer (or CONSUME_MSG_TIMEOUT) goes back to the asker. */
typedef struct forward_s {
    rmq_conn_t *asker;
    int32_t opaque;
    uint8_t serialize;
} forward_t;

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
    rmq_broker_t *b = ctx;
    const char *group, *client_id;
    if (!rmq_req_str(conn, req, "consumerGroup", &group) || !rmq_req_str(conn, req, "clientId", &client_id))
        return;
    rmq_consumer_group_info_t *g = rmq_client_mgr_consumer(b->clients, group);
    rmq_client_chan_t *ch = NULL;
    for (size_t i = 0; g && i < g->n; i++)
        if (!strcmp(g->chans[i].client_id, client_id))
            ch = &g->chans[i];
    if (!ch || rmq_conn_is_closed(ch->conn)) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "The Consumer <%s> <%s> not online", group,
                             client_id);
        return;
    }
    if (ch->version < 62) {
        rmq_broker_reply_err(
            conn, req, RMQ_ERR_SYSTEM_ERROR,
            "The Consumer <%s> Version <%d> too low to finish, please upgrade it to V3_1_8_SNAPSHOT",
            client_id, ch->version);
        return;
    }
    rmq_cmd_t fwd;
    rmq_cmd_init_request(&fwd, req->code);
    for (size_t i = 0; i < req->ext_n; i++)
        rmq_cmd_set_ext(&fwd, req->ext[i].key, req->ext[i].val);
    if (req->body_len)
        rmq_cmd_set_body(&fwd, req->body, req->body_len);
    forward_t *f = rmq_calloc(1, sizeof(*f));
    f->asker = conn;
    f->opaque = req->opaque;
    f->serialize = req->serialize;
    rmq_conn_hold(conn);
    if (rmq_conn_request(ch->conn, &fwd, 10000, forward_resp, f) != RMQ_OK)
        forward_resp(ch->conn, RMQ_ERR__TRANSPORT, NULL, f);
    rmq_cmd_deinit(&fwd);
}

/* INVOKE_BROKER_TO_RESET_OFFSET (222, mqadmin resetOffsetByTime): compute
 * each queue's offset for the timestamp and push it to every consumer of the
 * group (RESET_CONSUMER_CLIENT_OFFSET, oneway), as Broker2Client.resetOffset. */
static void on_reset_offset(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    const char *topic, *group;
    int64_t ts;
    bool force;
    if (!rmq_req_str(conn, req, "topic", &topic) || !rmq_req_str(conn, req, "group", &group) ||
        !rmq_req_i64(conn, req, "timestamp", &ts) || !rmq_req_opt_bool(conn, req, "isForce", false, &force))
        return;
    rmq_topic_config_t *tc = rmq_topic_get(&b->topics, topic);
    if (!tc) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR,
                             "[reset-offset] reset offset failed, no topic in this broker. topic=%s", topic);
        return;
    }
    rmq_buf_t o;
    rmq_buf_init(&o);
    rmq_buf_puts(&o, "{\"offsetTable\":{");
    for (int32_t q = 0; q < tc->write_queues; q++) {
        int64_t cur = rmq_offset_query(&b->offsets, group, topic, q);
        if (cur == -1) {
            rmq_buf_free(&o);
            rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "THe consumer group <%s> not exist", group);
            return;
        }
        int64_t off = ts == -1 ? rmq_store_get_max_offset_in_queue(b->store, topic, q)
                               : rmq_store_get_offset_by_time(b->store, topic, q, ts);
        if (off < 0)
            off = 0;
        if (!force && off >= cur)
            off = cur;
        if (q)
            rmq_buf_putc(&o, ',');
        mq_key(&o, b->conf.brokerName, q, topic);
        rmq_buf_printf(&o, ":%lld", (long long)off);
    }
    rmq_buf_puts(&o, "}}");
    rmq_consumer_group_info_t *g = rmq_client_mgr_consumer(b->clients, group);
    if (!g) {
        rmq_buf_free(&o);
        rmq_broker_reply_err(
            conn, req, RMQ_ERR_SYSTEM_ERROR,
            "Consumer not online, so can not reset offset, Group: %s Topic: %s Timestamp: %lld", group, topic,
            (long long)ts);
        return;
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
        rmq_cmd_set_body(&push, o.data, o.len);
        rmq_conn_oneway(g->chans[i].conn, &push);
        rmq_cmd_deinit(&push);
    }
    rmq_log(RMQ_LOG_INFO, "broker", "reset offsets of %s on %s to timestamp %lld, %zu consumers told", group,
            topic, (long long)ts, g->n);
    reply_body(conn, req, &o);
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

void rmq_proc_admin_register(rmq_broker_t *b, rmq_endpoint_t *ep)
{
    rmq_endpoint_set_handler(ep, RMQ_REQ_UPDATE_AND_CREATE_TOPIC, on_update_topic, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_DELETE_TOPIC_IN_BROKER, on_delete_topic, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_ALL_TOPIC_CONFIG, on_get_all_topic_config, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, on_update_group, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG, on_get_all_groups, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_DELETE_SUBSCRIPTIONGROUP, on_delete_group, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_ALL_CONSUMER_OFFSET, on_get_all_offsets, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_ALL_DELAY_OFFSET, on_get_all_delay_offsets, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_TOPIC_STATS_INFO, on_topic_stats, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_CONSUMER_CONNECTION_LIST, on_consumer_connections, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_CONSUME_STATS, on_consume_stats, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_PRODUCER_CONNECTION_LIST, on_producer_connections, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_BROKER_RUNTIME_INFO, on_runtime_info, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_QUERY_TOPIC_CONSUME_BY_WHO, on_consume_by_who, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_BROKER_CONFIG, on_broker_config, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_CONSUMER_RUNNING_INFO, on_consumer_running_info, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_INVOKE_BROKER_TO_RESET_OFFSET, on_reset_offset, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_LOCK_BATCH_MQ, on_lock_batch, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_UNLOCK_BATCH_MQ, on_lock_batch, b);
}
