/* processor/pull.c - PULL_MESSAGE (11): validation, subscription resolution, the
 * store read, offset correction codes, commit-offset piggy-back, zero-copy
 * response bodies, and parking for long polling (longpoll/pull_hold.c).
 * Thread: io. Message bytes are referenced from the mapped commit log
 * (evbuffer_add_reference, one reference per run of adjacent records); the
 * pin is released when libevent drops them.
 * Never: copies message bodies, or blocks waiting for messages. */
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "broker_meta.h"
#include "request.h"
#include "client/client_mgr.h"
#include "metrics/broker_metrics.h"
#include "processor/processor.h"
#include "longpoll/pull_hold.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_log.h"
#include "client/subscription.h"

#define PULL_SYSFLAG_COMMIT_OFFSET 0x1
#define PULL_SYSFLAG_SUSPEND 0x2
#define PULL_SYSFLAG_SUBSCRIPTION 0x4
#define FAQ_URL "\nSee http://rocketmq.apache.org/docs/faq/ for further details."

static void unpin_cb(const void *data, size_t len, void *extra)
{
    rmq_store_ref_release(extra);
}

static int status_code(rmq_get_status_t st, int64_t req_offset)
{
    switch (st) {
    case RMQ_GET_FOUND:
        return RMQ_OK;
    case RMQ_GET_NO_MATCHED_MESSAGE:
    case RMQ_GET_MESSAGE_WAS_REMOVING:
        return RMQ_ERR_PULL_RETRY_IMMEDIATELY;
    case RMQ_GET_NO_MATCHED_LOGIC_QUEUE:
    case RMQ_GET_NO_MESSAGE_IN_QUEUE:
        return req_offset != 0 ? RMQ_ERR_PULL_OFFSET_MOVED : RMQ_ERR_PULL_NOT_FOUND;
    case RMQ_GET_OFFSET_FOUND_NULL:
    case RMQ_GET_OFFSET_OVERFLOW_ONE:
        return RMQ_ERR_PULL_NOT_FOUND;
    case RMQ_GET_OFFSET_OVERFLOW_BADLY:
    case RMQ_GET_OFFSET_TOO_SMALL:
        return RMQ_ERR_PULL_OFFSET_MOVED;
    }
    return RMQ_ERR_SYSTEM_ERROR;
}

/* Run a pull. first = not a wake-up of a parked one: may suspend and commit
 * the piggy-backed offset. */
static void pull_execute(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req, bool first)
{
    rmq_hdr_t h;
    if (!rmq_req_decode(conn, req, RMQ_HDR_PULL, false, &h)) /* NumberFormatException */
        return;
    if (!(b->conf.brokerPermission & RMQ_PERM_READ)) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_NO_PERMISSION, "the broker[%s] pulling message is forbidden",
                             b->conf.brokerIP1);
        return;
    }
    char remark[512];
    if (!rmq_hdr_check_needed(&h, remark, sizeof(remark))) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "%s", remark);
        return;
    }
    const char *group = rmq_hdr_str(&h, RMQ_F_PULL_consumerGroup), *topic = rmq_hdr_str(&h, RMQ_F_PULL_topic);
    int32_t qid = rmq_hdr_i32(&h, RMQ_F_PULL_queueId), sys_flag = rmq_hdr_i32(&h, RMQ_F_PULL_sysFlag);
    int64_t offset = rmq_hdr_i64(&h, RMQ_F_PULL_queueOffset);
    /* Java's store stops once maxMsgNums messages are in; with 0 or less that
     * is after the first one */
    int32_t max_msgs = rmq_hdr_i32(&h, RMQ_F_PULL_maxMsgNums);
    if (max_msgs <= 0)
        max_msgs = 1;
    /* needed by Java on some paths only */
    if ((sys_flag & PULL_SYSFLAG_SUSPEND) && !rmq_req_need(conn, req, &h, RMQ_F_PULL_suspendTimeoutMillis))
        return;
    if ((sys_flag & PULL_SYSFLAG_COMMIT_OFFSET) && first && !b->is_slave &&
        !rmq_req_need(conn, req, &h, RMQ_F_PULL_commitOffset))
        return;
    int64_t suspend_ms = rmq_hdr_i64(&h, RMQ_F_PULL_suspendTimeoutMillis);
    int64_t commit_offset = rmq_hdr_i64(&h, RMQ_F_PULL_commitOffset);
    int64_t sub_version = rmq_hdr_i64(&h, RMQ_F_PULL_subVersion);
    rmq_sub_group_t *sg = rmq_broker_get_group(b, group);
    if (!sg) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SUBSCRIPTION_GROUP_NOT_EXIST,
                             "subscription group [%s] does not exist," FAQ_URL, group);
        return;
    }
    if (!sg->consume_enable) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_NO_PERMISSION, "subscription group no permission, %s", group);
        return;
    }
    rmq_topic_config_t *tc = rmq_topic_get(&b->topics, topic);
    if (!tc) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_TOPIC_NOT_EXIST,
                             "topic[%s] not exist, apply first please!" FAQ_URL, topic);
        return;
    }
    if (!(tc->perm & RMQ_PERM_READ)) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_NO_PERMISSION, "the topic[%s] pulling message is forbidden",
                             topic);
        return;
    }
    if (qid < 0 || qid >= tc->read_queues) {
        rmq_broker_reply_err(
            conn, req, RMQ_ERR_SYSTEM_ERROR,
            "queueId[%d] is illegal, topic:[%s] topicConfig.readQueueNums:[%d] consumer:[%s]", qid, topic,
            tc->read_queues, rmq_conn_peer(conn));
        return;
    }
    rmq_subscription_t own;
    memset(&own, 0, sizeof(own));
    const rmq_subscription_t *sub = NULL;
    char err[256];
    if (sys_flag & PULL_SYSFLAG_SUBSCRIPTION) {
        rmq_err_t r =
            rmq_subscription_build(&own, topic, rmq_hdr_str(&h, RMQ_F_PULL_subscription),
                                   rmq_hdr_str(&h, RMQ_F_PULL_expressionType), sub_version, err, sizeof(err));
        if (r == RMQ_ERR__INVALID_ARG) {
            rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "%s", err);
            return;
        }
        if (r != RMQ_OK) {
            rmq_broker_reply_err(conn, req, RMQ_ERR_SUBSCRIPTION_PARSE_FAILED,
                                 "parse the consumer's subscription[%s] failed, group: %s",
                                 rmq_hdr_str(&h, RMQ_F_PULL_subscription), group);
            return;
        }
        sub = &own;
    } else {
        rmq_consumer_group_info_t *cg = rmq_client_mgr_consumer(b->clients, group);
        if (!cg) {
            rmq_broker_reply_err(conn, req, RMQ_ERR_SUBSCRIPTION_NOT_EXIST,
                                 "the consumer's group info not exist" FAQ_URL);
            return;
        }
        if (cg->message_model && !strcmp(cg->message_model, "BROADCASTING") &&
            !sg->consume_broadcast_enable) {
            rmq_broker_reply_err(conn, req, RMQ_ERR_NO_PERMISSION,
                                 "the consumer group[%s] can not consume by broadcast way", group);
            return;
        }
        sub = rmq_consumer_group_sub(cg, topic);
        if (!sub) {
            rmq_broker_reply_err(conn, req, RMQ_ERR_SUBSCRIPTION_NOT_EXIST,
                                 "the consumer's subscription not exist" FAQ_URL);
            return;
        }
        if (!rmq_req_need(conn, req, &h, RMQ_F_PULL_subVersion))
            return;
        if (sub->sub_version < sub_version) {
            rmq_broker_reply_err(conn, req, RMQ_ERR_SUBSCRIPTION_NOT_LATEST,
                                 "the consumer's subscription not latest");
            return;
        }
        if (sub->expression_type && !strcmp(sub->expression_type, "UNPARSABLE_TAG")) {
            rmq_broker_reply_err(conn, req, RMQ_ERR_SUBSCRIPTION_PARSE_FAILED,
                                 "parse the consumer's subscription of topic %s failed, group: %s", topic,
                                 group);
            return;
        }
        if (sub->expression_type && strcmp(sub->expression_type, "TAG") != 0) {
            rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR,
                                 "The broker does not support consumer to filter message by %s",
                                 sub->expression_type);
            return;
        }
    }
    rmq_get_result_t gr;
    memset(&gr, 0, sizeof(gr));
    rmq_store_get_message(b->store, topic, qid, offset, max_msgs, sub->codes, sub->n, &gr);
    int code = status_code(gr.status, offset);
    int64_t next = gr.next_begin_offset;
    /* commit-offset piggy-back (first processing only, never on a slave) */
    if (first && (sys_flag & PULL_SYSFLAG_COMMIT_OFFSET) && !b->is_slave)
        rmq_offset_commit(&b->offsets, group, topic, qid, commit_offset);
    if (code == RMQ_ERR_PULL_NOT_FOUND && first && (sys_flag & PULL_SYSFLAG_SUSPEND)) {
        int64_t hold = b->conf.longPollingEnable ? suspend_ms : b->conf.shortPollingTimeMills;
        if (hold > 0) {
            rmq_pull_hold_park(b->hold, conn, req, topic, qid, offset, sub->codes, sub->n, hold);
            rmq_store_get_result_release(&gr);
            rmq_subscription_deinit(&own);
            return;
        }
    }
    int64_t suggest = 0;
    if (b->conf.slaveReadEnable && gr.suggest_pulling_from_slave)
        suggest = sg->which_broker_when_consume_slowly;
    else if (b->conf.slaveReadEnable)
        suggest = sg->broker_id;
    if (code == RMQ_ERR_PULL_OFFSET_MOVED && b->is_slave && !b->store_conf.offsetCheckInSlave) {
        /* a slave does not move consumers' offsets (it may just lag its
         * master): retry, at the group's broker (PullMessageProcessor) */
        code = RMQ_ERR_PULL_RETRY_IMMEDIATELY;
        suggest = sg->broker_id;
    }
    rmq_cmd_t resp;
    rmq_broker_resp(&resp, req, code, rmq_get_status_name(gr.status));
    rmq_cmd_set_ext_i64(&resp, "suggestWhichBrokerId", suggest);
    rmq_cmd_set_ext_i64(&resp, "nextBeginOffset", next);
    rmq_cmd_set_ext_i64(&resp, "minOffset", gr.min_offset);
    rmq_cmd_set_ext_i64(&resp, "maxOffset", gr.max_offset);
    if (code == RMQ_OK && !rmq_cmd_is_oneway(req)) {
        /* records that follow each other in one mapped segment go out as
         * one reference (one evbuffer chain, one pin; the others' pins are
         * released with gr) */
        struct evbuffer *body = evbuffer_new();
        for (size_t i = 0; i < gr.count;) {
            size_t j = i + 1, len = gr.msgs[i].len;
            while (j < gr.count && gr.msgs[j].pin == gr.msgs[i].pin &&
                   gr.msgs[j].data == gr.msgs[i].data + len)
                len += gr.msgs[j++].len;
            if (evbuffer_add_reference(body, gr.msgs[i].data, len, unpin_cb, gr.msgs[i].pin) == 0)
                gr.msgs[i].pin = NULL; /* now owned by the evbuffer */
            i = j;
        }
        b->msg_get_total += (int64_t)gr.count;
        rmq_bm_pull(b->metrics, topic, group, qid, next, gr.count, gr.total_bytes);
        rmq_conn_send_with_body(conn, &resp, body);
        evbuffer_free(body);
    } else {
        rmq_conn_reply(conn, req, &resp);
    }
    rmq_cmd_deinit(&resp);
    rmq_store_get_result_release(&gr);
    rmq_subscription_deinit(&own);
}

static void on_pull(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    pull_execute(ctx, conn, req, true);
}

void rmq_pull_rerun(void *b, rmq_conn_t *conn, const rmq_cmd_t *req)
{
    pull_execute(b, conn, req, false);
}

void rmq_proc_pull_register(rmq_broker_t *b, rmq_endpoint_t *ep)
{
    rmq_endpoint_set_handler(ep, RMQ_REQ_PULL_MESSAGE, on_pull, b);
}
