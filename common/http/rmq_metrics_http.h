/* rmq_metrics_http.h - the Prometheus endpoint of a Comet server
 * (metricsExporterType=PROM): GET /metrics on its own HTTP thread.
 *
 * The numbers belong to the owner's thread (the broker's I/O thread, the
 * name server's loop). A scrape never reads them from the HTTP thread:
 *   1. if the last snapshot is younger than refresh_interval_ms, it is sent
 *      as is (any number of scrapers share one snapshot: no owner work);
 *   2. otherwise the scrape waits and one refresh is requested by
 *      activating an event on the owner's event_base (no allocation, no
 *      lock); the owner renders the exposition text with its collect
 *      callback and publishes it (one pointer swap under a mutex), which
 *      wakes every waiting scrape;
 *   3. if the owner has not published within timeout_ms (a busy loop), the
 *      waiting scrapes get the previous snapshot, or 503 when there is none.
 * So the owner renders at most one snapshot per refresh_interval_ms, however
 * many scrapes arrive. Process metrics (RSS, CPU, fds) and the HTTP
 * server's own counters are read on the HTTP thread and appended. */
#ifndef RMQ_METRICS_HTTP_H
#define RMQ_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "rmq_err.h"
#include "rmq_metrics.h"

struct event_base;
typedef struct rmq_metrics_http_s rmq_metrics_http_t;

/* Render every metric of the owner into w. @thread the owner's. */
typedef void rmq_metrics_collect_fn(rmq_prom_t *w, void *arg);

typedef struct rmq_metrics_http_opts_s {
    const char *host;
    int port;
    int max_connections;
    int refresh_interval_ms;   /* snapshot age that triggers a new render */
    int timeout_ms;            /* how long a scrape waits for the owner */
    const char *common_labels; /* rendered k="v",... added to every sample */
    const char *name;          /* thread / log name */
} rmq_metrics_http_opts_t;

/* Bind and start. NULL with errstr when the port cannot be bound. @thread
 * the owner's (collect runs on owner's base). */
rmq_metrics_http_t *rmq_metrics_http_start(struct event_base *owner, const rmq_metrics_http_opts_t *o,
                                           rmq_metrics_collect_fn *collect, void *arg, char *errstr,
                                           size_t errstr_size);
/* rmq_metrics_http_start from a server's settings c (c->exporter must be
 * PROM): refuses metricsInDelta=true, renders c->label's pairs after
 * own_labels (the server's identity labels, `k="v",...`), binds c->host or,
 * when empty, default_host. RMQ_ERR__INVALID_ARG (a setting) or RMQ_ERR__IO
 * (bind) with errstr; *out set on success. @thread the owner's. */
rmq_err_t rmq_metrics_http_start_conf(struct event_base *owner, const rmq_metrics_conf_t *c,
                                      const char *default_host, const char *own_labels,
                                      rmq_metrics_collect_fn *collect, void *arg, rmq_metrics_http_t **out,
                                      char *errstr, size_t errstr_size);
int rmq_metrics_http_port(const rmq_metrics_http_t *m);
/* Stop the HTTP thread and free. @thread the owner's, while its loop still
 * exists. NULL is a no-op. */
void rmq_metrics_http_stop(rmq_metrics_http_t *m);

#endif
