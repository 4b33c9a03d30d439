/* processor.h - the request processors as the controller (broker.c) sees
 * them: one registration function per processor file, which puts its
 * request codes into an endpoint's handler table (RocketMQ's
 * registerProcessor), and the clean-up of what they keep between requests.
 * The processors work on the broker's state (broker.h); the controller only
 * calls these. @thread main before the loop, io after. */
#ifndef RMQ_PROCESSOR_H
#define RMQ_PROCESSOR_H

#include "rmq_cmd.h"
#include "rmq_conn.h"

typedef struct rmq_broker_s rmq_broker_t;

/* SEND_MESSAGE(_V2), SEND_BATCH_MESSAGE, CONSUMER_SEND_MSG_BACK (send.c) */
void rmq_proc_send_register(rmq_broker_t *b, rmq_endpoint_t *ep);
/* PULL_MESSAGE (pull.c; not on the VIP port) */
void rmq_proc_pull_register(rmq_broker_t *b, rmq_endpoint_t *ep);
/* Re-run a pull parked in longpoll/pull_hold.c (its context's rerun; b is the
 * broker): no suspension, no commit. */
void rmq_pull_rerun(void *b, rmq_conn_t *conn, const rmq_cmd_t *req);
/* consumer offsets; queue min/max offsets, search by time (offset.c) */
void rmq_proc_offset_register(rmq_broker_t *b, rmq_endpoint_t *ep);
/* admin codes (admin.c); rmq_proc_admin_cleanup frees the queue locks */
void rmq_proc_admin_register(rmq_broker_t *b, rmq_endpoint_t *ep);
void rmq_proc_admin_cleanup(rmq_broker_t *b);
/* QUERY_MESSAGE, VIEW_MESSAGE_BY_ID (query.c) */
void rmq_proc_query_register(rmq_broker_t *b, rmq_endpoint_t *ep);
/* END_TRANSACTION (end_transaction.c) */
void rmq_proc_end_transaction_register(rmq_broker_t *b, rmq_endpoint_t *ep);

#endif
