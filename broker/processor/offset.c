/* processor/offset.c - offset requests: QUERY_CONSUMER_OFFSET (14),
 * UPDATE_CONSUMER_OFFSET (15), SEARCH_OFFSET_BY_TIMESTAMP (29),
 * GET_MAX_OFFSET (30), GET_MIN_OFFSET (31), GET_EARLIEST_MSG_STORETIME (32).
 * Thread: io. Reads are O(1) store lookups; commits only touch memory (the
 * offsets snapshot is written by the writer thread).
 * Never: does file I/O. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "request.h"
#include "ha/ha.h"
#include "processor/processor.h"
#include "rmq_codes.h"
#include "rmq_log.h"

/* GET_MAX/MIN_OFFSET, GET_EARLIEST_MSG_STORETIME: topic and queue id. */
static bool topic_queue(rmq_conn_t *conn, const rmq_cmd_t *req, const char **topic, int32_t *qid)
{
    rmq_hdr_t h;
    if (!rmq_req_decode(conn, req, RMQ_HDR_QUEUE, true, &h))
        return false;
    *topic = rmq_hdr_str(&h, RMQ_F_QUEUE_topic);
    *qid = rmq_hdr_i32(&h, RMQ_F_QUEUE_queueId);
    return true;
}

/* QUERY_CONSUMER_OFFSET, UPDATE_CONSUMER_OFFSET: the header, which leads
 * with consumerGroup, topic and queueId (the same field numbers in both). */
typedef struct {
    rmq_hdr_t h;
    const char *group, *topic;
    int32_t qid;
} offset_req_t;

_Static_assert((int)RMQ_F_QUERY_OFFSET_consumerGroup == RMQ_F_UPDATE_OFFSET_consumerGroup &&
                   (int)RMQ_F_QUERY_OFFSET_topic == RMQ_F_UPDATE_OFFSET_topic &&
                   (int)RMQ_F_QUERY_OFFSET_queueId == RMQ_F_UPDATE_OFFSET_queueId,
               "the offset headers share their leading fields");

static bool offset_req_decode(rmq_conn_t *conn, const rmq_cmd_t *req, rmq_hdr_id_t id, offset_req_t *q)
{
    if (!rmq_req_decode(conn, req, id, true, &q->h))
        return false;
    q->group = rmq_hdr_str(&q->h, RMQ_F_QUERY_OFFSET_consumerGroup);
    q->topic = rmq_hdr_str(&q->h, RMQ_F_QUERY_OFFSET_topic);
    q->qid = rmq_hdr_i32(&q->h, RMQ_F_QUERY_OFFSET_queueId);
    return true;
}

static void reply_i64(rmq_conn_t *conn, const rmq_cmd_t *req, const char *key, int64_t v)
{
    rmq_cmd_t resp;
    rmq_broker_resp(&resp, req, RMQ_OK, NULL);
    rmq_cmd_set_ext_i64(&resp, key, v);
    rmq_conn_reply(conn, req, &resp);
    rmq_cmd_deinit(&resp);
}

/* Is the first message of the queue more than accessMessageInMemoryMaxRatio %
 * of RAM behind the commit-log end (checkInDiskByConsumeOffset(0))? */
static bool head_on_disk(rmq_broker_t *b, const char *topic, int32_t qid)
{
    int64_t clo = rmq_store_get_commitlog_offset_in_queue(b->store, topic, qid, 0);
    if (clo < 0)
        return false;
    int64_t mem = (int64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
    return rmq_store_get_commitlog_max_offset(b->store) - clo >
           mem * b->store_conf.accessMessageInMemoryMaxRatio / 100;
}

static void on_query_consumer_offset(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    offset_req_t q;
    if (!offset_req_decode(conn, req, RMQ_HDR_QUERY_OFFSET, &q))
        return;
    int64_t off = rmq_offset_query(&b->offsets, q.group, q.topic, q.qid);
    if (off >= 0) {
        reply_i64(conn, req, "offset", off);
        return;
    }
    int64_t min = rmq_store_get_min_offset_in_queue(b->store, q.topic, q.qid);
    if (min <= 0 && !head_on_disk(b, q.topic, q.qid)) {
        /* the head of the queue is still in memory: a new group starts at 0
         * (Java's ConsumerManageProcessor; CONSUME_FROM_* only applies otherwise) */
        reply_i64(conn, req, "offset", 0);
        return;
    }
    rmq_broker_reply_err(conn, req, RMQ_ERR_QUERY_NOT_FOUND,
                         "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first");
}

static void on_update_consumer_offset(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    offset_req_t q;
    if (!offset_req_decode(conn, req, RMQ_HDR_UPDATE_OFFSET, &q))
        return;
    int64_t off = rmq_hdr_i64(&q.h, RMQ_F_UPDATE_OFFSET_commitOffset);
    rmq_offset_commit(&b->offsets, q.group, q.topic, q.qid, off);
    /* a slave takes commits while its master is away; they go back to the
     * master when it returns (larger offset wins: ha/ha_meta.c) */
    if (b->is_slave)
        rmq_ha_local_offset(b->ha, q.group, q.topic, q.qid, off);
    rmq_broker_reply_ok(conn, req);
}

/* GET_MAX_OFFSET, GET_MIN_OFFSET, GET_EARLIEST_MSG_STORETIME: one value of
 * a queue. */
static void on_queue_value(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    const char *topic;
    int32_t qid;
    if (!topic_queue(conn, req, &topic, &qid))
        return;
    switch (req->code) {
    case RMQ_REQ_GET_MAX_OFFSET:
        reply_i64(conn, req, "offset", rmq_store_get_max_offset_in_queue(b->store, topic, qid));
        break;
    case RMQ_REQ_GET_MIN_OFFSET: {
        int64_t min = rmq_store_get_min_offset_in_queue(b->store, topic, qid);
        reply_i64(conn, req, "offset", min < 0 ? 0 : min); /* unknown queue: 0, as Java */
        break;
    }
    default: /* GET_EARLIEST_MSG_STORETIME */
        reply_i64(conn, req, "timestamp", rmq_store_get_earliest_msg_store_time(b->store, topic, qid));
    }
}

static void on_search_offset(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    rmq_hdr_t h;
    if (!rmq_req_decode(conn, req, RMQ_HDR_SEARCH_OFFSET, true, &h))
        return;
    reply_i64(conn, req, "offset",
              rmq_store_get_offset_by_time(b->store, rmq_hdr_str(&h, RMQ_F_SEARCH_OFFSET_topic),
                                           rmq_hdr_i32(&h, RMQ_F_SEARCH_OFFSET_queueId),
                                           rmq_hdr_i64(&h, RMQ_F_SEARCH_OFFSET_timestamp)));
}

void rmq_proc_offset_register(rmq_broker_t *b, rmq_endpoint_t *ep)
{
    rmq_endpoint_set_handler(ep, RMQ_REQ_QUERY_CONSUMER_OFFSET, on_query_consumer_offset, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_UPDATE_CONSUMER_OFFSET, on_update_consumer_offset, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_MAX_OFFSET, on_queue_value, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_MIN_OFFSET, on_queue_value, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_SEARCH_OFFSET_BY_TIMESTAMP, on_search_offset, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_EARLIEST_MSG_STORETIME, on_queue_value, b);
}
