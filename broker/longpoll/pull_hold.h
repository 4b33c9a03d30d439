/* pull_hold.h - parked long-polling pulls (PullRequestHoldService).
 * A PULL_MESSAGE that finds nothing new is parked here (connection held,
 * request copied) until a message arrives in its queue or its hold time
 * passes; then the pull is re-run (through the context's rerun function)
 * and answered with the original opaque. Depends on the store, the
 * remoting layer and the mailbox only, not on the broker.
 * @thread io, except rmq_pull_hold_arrived_cb (store reput thread). */
#ifndef RMQ_PULL_HOLD_H
#define RMQ_PULL_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_cmd.h"
#include "rmq_conn.h"
#include "rmq_mailbox.h"

struct event_base;
typedef struct rmq_store_s rmq_store_t;
typedef struct rmq_pull_hold_s rmq_pull_hold_t;

/* What the service needs from its owner (the broker). */
typedef struct rmq_pull_hold_ctx_s {
    struct event_base *base; /* the I/O thread's loop (the re-check timer) */
    rmq_mailbox_t *mbox;     /* arrivals from the reput thread are posted here */
    rmq_store_t *store;      /* queue max offsets for the re-check */
    int check_interval_ms;   /* pullHoldCheckInterval */
    /* Re-run a parked pull on a live connection (no suspension, no commit;
     * processor/pull.c). */
    void (*rerun)(void *arg, rmq_conn_t *conn, const rmq_cmd_t *req);
    void *rerun_arg;
} rmq_pull_hold_ctx_t;

rmq_pull_hold_t *rmq_pull_hold_new(const rmq_pull_hold_ctx_t *ctx);
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

#endif
