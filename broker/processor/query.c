/* processor/query.c - QUERY_MESSAGE (12, by key through the index) and
 * VIEW_MESSAGE_BY_ID (33, by commit-log offset).
 * Thread: io. Bodies reference the mapped records (zero copy).
 * Never: copies message bytes or blocks. */
#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "request.h"
#include "processor/processor.h"
#include "rmq_codes.h"

static void unpin_cb(const void *data, size_t len, void *extra)
{
    rmq_store_ref_release(extra);
}

/* QUERY_MESSAGE's header as Java reads it. False once the error reply is
 * sent. */
typedef struct {
    const char *topic, *key;
    int64_t begin, end;
    int32_t max_num;
} query_req_t;

static bool query_req_decode(const rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req, query_req_t *q)
{
    rmq_hdr_t h;
    if (!rmq_req_decode(conn, req, RMQ_HDR_QUERY_MESSAGE, true, &h))
        return false;
    /* Java builds the index key topic + "#" + key: null reads as "null" */
    const char *topic = rmq_hdr_str(&h, RMQ_F_QUERY_MESSAGE_topic),
               *key = rmq_hdr_str(&h, RMQ_F_QUERY_MESSAGE_key);
    *q = (query_req_t){.topic = topic ? topic : "null",
                       .key = key ? key : "null",
                       .begin = rmq_hdr_i64(&h, RMQ_F_QUERY_MESSAGE_beginTimestamp),
                       .end = rmq_hdr_i64(&h, RMQ_F_QUERY_MESSAGE_endTimestamp)};
    const char *uq = rmq_cmd_ext(req, "_UNIQUE_KEY_QUERY");
    if (uq && !strcmp(uq, "true")) /* String.equals, not parseBoolean, in Java */
        q->max_num = b->conf.defaultQueryMaxNum;
    else if (rmq_req_need(conn, req, &h, RMQ_F_QUERY_MESSAGE_maxNum))
        q->max_num = rmq_hdr_i32(&h, RMQ_F_QUERY_MESSAGE_maxNum);
    else
        return false;
    return true;
}

static void on_query_message(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    query_req_t q;
    if (!query_req_decode(b, conn, req, &q))
        return;
    rmq_query_result_t qr;
    memset(&qr, 0, sizeof(qr));
    rmq_err_t r = rmq_store_query_message(b->store, q.topic, q.key, q.max_num, q.begin, q.end, &qr);
    rmq_cmd_t resp;
    bool found = r == RMQ_OK && qr.count > 0;
    rmq_broker_resp(&resp, req, found ? RMQ_OK : RMQ_ERR_QUERY_NOT_FOUND,
                    found ? NULL : "can not find message, maybe time range not correct");
    rmq_cmd_set_ext_i64(&resp, "indexLastUpdateTimestamp", qr.index_last_update_timestamp);
    rmq_cmd_set_ext_i64(&resp, "indexLastUpdatePhyoffset", qr.index_last_update_phyoffset);
    if (found && !rmq_cmd_is_oneway(req)) {
        struct evbuffer *body = evbuffer_new();
        for (size_t i = 0; i < qr.count; i++)
            if (evbuffer_add_reference(body, qr.msgs[i].data, qr.msgs[i].len, unpin_cb, qr.msgs[i].pin) == 0)
                qr.msgs[i].pin = NULL;
        rmq_conn_send_with_body(conn, &resp, body);
        evbuffer_free(body);
    } else {
        rmq_conn_reply(conn, req, &resp);
    }
    rmq_cmd_deinit(&resp);
    if (r == RMQ_OK)
        rmq_store_query_result_release(&qr);
}

static void on_view_message(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    rmq_hdr_t h;
    if (!rmq_req_decode(conn, req, RMQ_HDR_VIEW_MESSAGE, true, &h))
        return;
    int64_t offset = rmq_hdr_i64(&h, RMQ_F_VIEW_MESSAGE_offset);
    rmq_store_ref_t ref = {0};
    if (offset < 0 || rmq_store_get_message_by_offset(b->store, offset, &ref) != RMQ_OK) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "can not find message by the offset, %lld",
                             (long long)offset);
        return;
    }
    rmq_cmd_t resp;
    rmq_broker_resp(&resp, req, RMQ_OK, NULL);
    struct evbuffer *body = evbuffer_new();
    if (evbuffer_add_reference(body, ref.data, ref.len, unpin_cb, ref.pin) != 0)
        rmq_store_ref_release(ref.pin);
    if (!rmq_cmd_is_oneway(req))
        rmq_conn_send_with_body(conn, &resp, body);
    evbuffer_free(body);
    rmq_cmd_deinit(&resp);
}

void rmq_proc_query_register(rmq_broker_t *b, rmq_endpoint_t *ep)
{
    rmq_endpoint_set_handler(ep, RMQ_REQ_QUERY_MESSAGE, on_query_message, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_VIEW_MESSAGE_BY_ID, on_view_message, b);
}
