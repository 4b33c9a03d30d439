/* ns_metrics.h - the name server's Prometheus endpoint
 * (metricsExporterType=PROM): live brokers, topics, connections, request
 * latency, process. @thread the name server's loop. */
#ifndef NS_METRICS_H
#define NS_METRICS_H

#include <stddef.h>

#include "rmq_conn.h"
#include "rmq_err.h"
#include "route_info.h"

struct event_base;
typedef struct ns_config_s ns_config_t;
typedef struct ns_metrics_s ns_metrics_t;

/* Start when cfg->metrics.exporter is PROM (*out NULL otherwise); the
 * observer is installed on ep. */
rmq_err_t ns_metrics_start(const ns_config_t *cfg, struct event_base *base, rmq_endpoint_t *ep,
                           const ns_route_info_t *routes, ns_metrics_t **out, char *errstr,
                           size_t errstr_size);
/* Stop the HTTP thread and free (NULL ok); before ep is destroyed. */
void ns_metrics_stop(ns_metrics_t *m);

#endif
