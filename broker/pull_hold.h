/* pull_hold.h - parked long-polling pulls (PullRequestHoldService).
 * A PULL_MESSAGE that finds nothing new is parked here (connection held,
 * request copied) until a message arrives in its queue or its hold time
 * passes; then the pull is re-run and answered with the original opaque.
 * @thread io, except rmq_pull_hold_arrived_cb (store reput thread). */
#ifndef RMQ_PULL_HOLD_H
#define RMQ_PULL_HOLD_H

#include <stdint.h>

#include "broker.h"

rmq_pull_hold_t *rmq_pull_hold_new(rmq_broker_t *b);
/* Answer nothing more; release every held connection. NULL ok. */
void rmq_pull_hold_destroy(rmq_pull_hold_t *h);
/* Park req (copied) on conn for topic/queue at offset, for hold_ms. The
 * optional tag codes restrict which arrivals wake it. */
void rmq_pull_hold_park(rmq_pull_hold_t *h, rmq_conn_t *conn, const rmq_cmd_t *req, const char *topic,
                        int32_t queue_id, int64_t offset, const int64_t *codes, size_t ncodes,
                        int64_t hold_ms);
/* The store's arrived hook (rmq_store_arrived_cb_t): posts to io. */
void rmq_pull_hold_arrived_cb(void *opaque, const char *topic, int32_t queue_id, int64_t logic_offset,
                              int64_t tags_code, int64_t store_timestamp, const char *props,
                              size_t props_len);
/* Number of parked pulls (tests / runtime info). */
int64_t rmq_pull_hold_count(const rmq_pull_hold_t *h);

/* Re-run / run a pull (proc_pull.c). first = not a wake-up: may suspend and
 * commit the piggy-backed offset. */
void rmq_pull_execute(rmq_broker_t *b, rmq_conn_t *conn, const rmq_cmd_t *req, bool first);

#endif
