/* broker_metrics.h - the broker's Prometheus metrics (metricsExporterType=
 * PROM): counters the request processors bump on the I/O thread, the
 * snapshot rendered from the broker's tables on request of the HTTP thread,
 * and a registration point for collectors of other parts (replication).
 *
 * Names and labels follow RocketMQ 5 (BrokerMetricsConstant,
 * DefaultStoreMetricsConstant, RemotingMetricsConstant) where RocketMQ has
 * the metric; Comet's own start with comet_. Labels are per topic, group,
 * request/response code, language/version: never per message or client.
 *
 * Thread: everything here runs on the broker's I/O thread. When metrics are
 * off b->metrics is NULL and every hook is one branch. */
#ifndef RMQ_BROKER_METRICS_H
#define RMQ_BROKER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_err.h"
#include "rmq_metrics.h"

typedef struct rmq_broker_s rmq_broker_t;
typedef struct rmq_broker_metrics_s rmq_broker_metrics_t;
struct rmq_store_msg_s;

/* Start the exporter when b->conf.metrics.exporter is PROM (after the
 * remoting endpoints exist); *out stays NULL when metrics are off. */
rmq_err_t rmq_broker_metrics_start(rmq_broker_t *b, rmq_broker_metrics_t **out, char *errstr,
                                   size_t errstr_size);
/* Stop the HTTP thread and free (I/O thread, before the loop is freed). */
void rmq_broker_metrics_stop(rmq_broker_metrics_t *m);

/* ---- hooks (I/O thread; m may be NULL) ---- */

/* n records of msgs were appended (one send request). */
void rmq_bm_put(rmq_broker_metrics_t *m, const struct rmq_store_msg_s *msgs, size_t n);
/* A pull answered count records (bytes bytes) of topic/queue to group;
 * next = the next offset the consumer will ask for. */
void rmq_bm_pull(rmq_broker_metrics_t *m, const char *topic, const char *group, int32_t qid, int64_t next,
                 size_t count, size_t bytes);
/* A request answered after its handler returned (SYNC_FLUSH sends): its
 * code, the response code, the time since it arrived. */
void rmq_bm_rpc_deferred(rmq_broker_metrics_t *m, int req_code, int resp_code, int64_t elapsed_us);

/* ---- registration point for other parts of the broker ---- */

/* fn adds families to the snapshot (I/O thread, during a render). The
 * replication code registers comet_replication_* here. No-op when m is
 * NULL. */
typedef void rmq_bm_collector_fn(rmq_prom_t *w, void *arg);
void rmq_broker_metrics_add_collector(rmq_broker_metrics_t *m, rmq_bm_collector_fn *fn, void *arg);

/* Render every broker metric into w (the exporter's collect callback;
 * exposed for tests). */
void rmq_broker_metrics_collect(rmq_prom_t *w, void *arg);

#endif
