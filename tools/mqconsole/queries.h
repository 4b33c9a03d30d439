/* queries.h - the console requests that need the cluster now, run on a
 * worker (jobs.h): a topic's queues and consumers, a group's lag per queue
 * and members, message searches (time range, key, id), dead-letter queues,
 * and the write actions (resend to a group, reset offsets by time). The
 * HTTP side (api.c) has validated every parameter before a query is made.
 * Thread: Worker-N (mc_query_run), HTTP (creation). */
#ifndef MC_QUERIES_H
#define MC_QUERIES_H

#include <stdbool.h>
#include <stdint.h>

#include "console.h"
#include "rpc.h"

typedef enum {
    MC_Q_TOPIC,
    MC_Q_GROUP,
    MC_Q_MSG_TIME,
    MC_Q_MSG_KEY,
    MC_Q_MSG_ID,
    MC_Q_DLQ,
    MC_Q_RESEND,
    MC_Q_DLQ_RESEND,
    MC_Q_RESET,
} mc_query_kind_t;

typedef struct mc_query_s {
    mc_console_t *c;
    rmq_http_req_t *req;
    mc_query_kind_t kind;
    char *topic, *group, *key, *id;
    int64_t begin, end, limit, timestamp;
    bool force;
    char *user_ak,
        *user_sk; /* write actions under ACL: the operator's credentials, used for this action only */
} mc_query_t;

/* Job function: runs q and answers q->req, then frees q. */
void mc_query_run(mc_rpc_t *rpc, void *q);
/* Free a query that will not run. */
void mc_query_free(void *q);

#endif
