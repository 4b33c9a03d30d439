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
    rmq_hdr_t h;
    if (!rmq_req_decode(conn, req, RMQ_HDR_QUERY_OFFSET, true, &h))
        return;
    const char *group = rmq_hdr_str(&h, RMQ_F_QUERY_OFFSET_consumerGroup);
    const char *topic = rmq_hdr_str(&h, RMQ_F_QUERY_OFFSET_topic);
    int32_t qid = rmq_hdr_i32(&h, RMQ_F_QUERY_OFFSET_queueId);
    int64_t off = rmq_offset_query(&b->offsets, group, topic, qid);
    if (off >= 0) {
        reply_i64(conn, req, "offset", off);
        return;
    }
    int64_t min = rmq_store_get_min_offset_in_queue(b->store, topic, qid);
    if (min <= 0 && !head_on_disk(b, topic, qid)) {
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
    rmq_hdr_t h;
    if (!rmq_req_decode(conn, req, RMQ_HDR_UPDATE_OFFSET, true, &h))
        return;
    const char *group = rmq_hdr_str(&h, RMQ_F_UPDATE_OFFSET_consumerGroup);
    const char *topic = rmq_hdr_str(&h, RMQ_F_UPDATE_OFFSET_topic);
    int32_t qid = rmq_hdr_i32(&h, RMQ_F_UPDATE_OFFSET_queueId);
    int64_t off = rmq_hdr_i64(&h, RMQ_F_UPDATE_OFFSET_commitOffset);
    rmq_offset_commit(&b->offsets, group, topic, qid, off);
    /* a slave takes commits while its master is away; they go back to the
     * master when it returns (larger offset wins: ha/ha_meta.c) */
    if (b->is_slave)
        rmq_ha_local_offset(b->ha, group, topic, qid, off);
    rmq_broker_reply_ok(conn, req);
}

static void on_max_offset(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    const char *topic;
    int32_t qid;
    if (!topic_queue(conn, req, &topic, &qid))
        return;
    reply_i64(conn, req, "offset", rmq_store_get_max_offset_in_queue(b->store, topic, qid));
}

static void on_min_offset(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    const char *topic;
    int32_t qid;
    if (!topic_queue(conn, req, &topic, &qid))
        return;
    int64_t min = rmq_store_get_min_offset_in_queue(b->store, topic, qid);
    reply_i64(conn, req, "offset", min < 0 ? 0 : min); /* unknown queue: 0, as Java */
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

static void on_earliest(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    const char *topic;
    int32_t qid;
    if (!topic_queue(conn, req, &topic, &qid))
        return;
    reply_i64(conn, req, "timestamp", rmq_store_get_earliest_msg_store_time(b->store, topic, qid));
}

void rmq_proc_offset_register(rmq_broker_t *b, rmq_endpoint_t *ep)
{
    rmq_endpoint_set_handler(ep, RMQ_REQ_QUERY_CONSUMER_OFFSET, on_query_consumer_offset, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_UPDATE_CONSUMER_OFFSET, on_update_consumer_offset, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_MAX_OFFSET, on_max_offset, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_MIN_OFFSET, on_min_offset, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_SEARCH_OFFSET_BY_TIMESTAMP, on_search_offset, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_GET_EARLIEST_MSG_STORETIME, on_earliest, b);
}
