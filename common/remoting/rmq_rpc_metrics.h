/* rmq_rpc_metrics.h - request latency per (request code, response code) for
 * the servers' Prometheus endpoints: RocketMQ 5's rocketmq_rpc_latency
 * histogram (ms buckets 1, 3, 5, 10, 100, 1000, 3000) and Comet's
 * comet_system_busy_total. Fed by an rmq_conn endpoint observer.
 * Thread: one owner (the loop running the endpoints); no locks. Label
 * cardinality is bounded by the request and response codes that exist:
 * request codes Comet has no name for (any number a client may send) share
 * one series, request_code="unknown". */
#ifndef RMQ_RPC_METRICS_H
#define RMQ_RPC_METRICS_H

#include <stdint.h>

#include "rmq_metrics.h"

#define RMQ_RPC_METRICS_SLOTS 4096 /* named request codes are below this */

typedef struct rmq_rpc_stat_s rmq_rpc_stat_t;

typedef struct rmq_rpc_metrics_s {
    /* per request code; the last slot holds every code without a name */
    rmq_rpc_stat_t *by_code[RMQ_RPC_METRICS_SLOTS + 1];
    int64_t busy[RMQ_RPC_METRICS_SLOTS + 1]; /* SYSTEM_BUSY answers per request code */
} rmq_rpc_metrics_t;

/* One answered request (resp_code < 0: no answer, ignored). */
void rmq_rpc_metrics_observe(rmq_rpc_metrics_t *m, int req_code, int resp_code, int64_t elapsed_us);
/* rmq_conn observer signature (ctx = the rmq_rpc_metrics_t). */
void rmq_rpc_metrics_observer(int req_code, int resp_code, int64_t elapsed_us, void *ctx);
void rmq_rpc_metrics_render(const rmq_rpc_metrics_t *m, rmq_prom_t *w);
void rmq_rpc_metrics_free(rmq_rpc_metrics_t *m);

#endif
