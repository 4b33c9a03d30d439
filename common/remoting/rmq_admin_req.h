/* rmq_admin_req.h - requests the admin tools build alike (mqadmin,
 * mqconsole): a question about one queue's offsets, and a pull that only
 * browses. Header fields and their order as the Java admin tools send them.
 * Pure frame building, any thread. */
#ifndef RMQ_ADMIN_REQ_H
#define RMQ_ADMIN_REQ_H

#include <stdint.h>

#include "rmq_cmd.h"

/* A request about one queue: GET_MIN_OFFSET, GET_MAX_OFFSET,
 * SEARCH_OFFSET_BY_TIMESTAMP, QUERY_CONSUMER_OFFSET... (consumerGroup only
 * when group is not NULL, then topic and queueId); the caller adds the
 * code's other fields. */
void rmq_admin_req_queue(rmq_cmd_t *req, int32_t code, const char *group, const char *topic,
                         int32_t queue_id);

/* PULL_MESSAGE that reads up to max_msgs from offset and changes nothing:
 * the subscription ("*") in the request, no offset committed, no long
 * polling. */
void rmq_admin_req_browse(rmq_cmd_t *req, const char *group, const char *topic, int32_t queue_id,
                          int64_t offset, int32_t max_msgs);

#endif
