/* rmq_metrics.h - Prometheus text exposition (format 0.0.4) written into a
 * buffer, fixed-bucket histograms, and the process collector.
 *
 * Metrics in Comet are plain integers owned by one thread (the broker's I/O
 * thread, the name server's loop): incrementing one is an add, never a lock
 * or an allocation. When a scrape needs fresh numbers the owner renders them
 * with this writer into a buffer and hands the finished text to the HTTP
 * thread (common/http/rmq_metrics_http.h); nothing here is shared between
 * threads. Label values are escaped as the format requires (\\ \" \n) and
 * invalid UTF-8 becomes U+FFFD, so attacker-chosen names cannot break the
 * exposition. */
#ifndef RMQ_METRICS_H
#define RMQ_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_buf.h"

/* metricsExporterType (an RMQ_CONF_ENUM setting of both servers) */
typedef enum { RMQ_METRICS_DISABLE = 0, RMQ_METRICS_PROM = 1 } rmq_metrics_exporter_t;
extern const char *const rmq_metrics_exporter_names[];

/* The metrics-exporter settings both servers carry (RocketMQ 5's names;
 * Comet extras marked). Each server's settings table holds the rows, with
 * its own defaults and help texts (offsets into this struct); the endpoint
 * is started from it by rmq_metrics_http_start_conf. */
typedef struct rmq_metrics_conf_s {
    rmq_metrics_exporter_t exporter; /* metricsExporterType */
    char *host;                      /* metricsPromExporterHost (empty: the server's address) */
    int32_t port;                    /* metricsPromExporterPort */
    char *label;                     /* metricsLabel, `name:value,...` */
    bool in_delta;                   /* metricsInDelta (must stay false) */
    int32_t max_connections;         /* metricsPromExporterMaxConnections (Comet) */
    int32_t refresh_interval_ms;     /* metricsRefreshIntervalMs (Comet) */
} rmq_metrics_conf_t;

/* ---- writer ---- */

typedef struct rmq_prom_s {
    rmq_buf_t *out;
    const char *common; /* labels every sample carries, pre-rendered: k="v",k="v" (may be "") */
    const char *family; /* name of the family being written */
} rmq_prom_t;

/* Labels are passed as a NULL-terminated array of name, value pairs:
 *   const char *l[] = {"topic", t, "consumer_group", g, NULL}; */
void rmq_prom_init(rmq_prom_t *w, rmq_buf_t *out, const char *common_labels);
/* Start a family: "# HELP" and "# TYPE" lines. type is "counter", "gauge"
 * or "histogram". */
void rmq_prom_family(rmq_prom_t *w, const char *name, const char *type, const char *help);
/* One sample of the current family (suffix "" or "_bucket", "_sum", ...). */
void rmq_prom_int(rmq_prom_t *w, const char *const *labels, int64_t v);
void rmq_prom_dbl(rmq_prom_t *w, const char *const *labels, double v);
void rmq_prom_sample(rmq_prom_t *w, const char *suffix, const char *const *labels, const char *extra_k,
                     const char *extra_v, const char *value);

/* Append `k="escaped v"` pairs (comma-separated, no braces) to out. */
void rmq_prom_labels(rmq_buf_t *out, const char *const *labels);
/* Escape one label value (without quotes). */
void rmq_prom_escape(rmq_buf_t *out, const char *v);
/* Parse RocketMQ's metricsLabel ("k1:v1,k2:v2") into rendered label pairs
 * appended to out (with a leading comma when out is not empty). false with
 * errstr when a pair is malformed or a name is not a valid label name. */
bool rmq_prom_parse_label_list(const char *spec, rmq_buf_t *out, char *errstr, size_t errstr_size);
bool rmq_prom_valid_name(const char *name);

/* ---- histograms with fixed bounds (one owner thread, no atomics) ---- */

#define RMQ_HIST_MAX_BOUNDS 16

typedef struct rmq_hist_s {
    const int64_t *bounds; /* upper bounds, ascending, nb of them; +Inf implied */
    int nb;
    uint64_t counts[RMQ_HIST_MAX_BOUNDS + 1]; /* per bucket (not cumulative); last = +Inf */
    int64_t sum;
    uint64_t count;
} rmq_hist_t;

void rmq_hist_init(rmq_hist_t *h, const int64_t *bounds, int nb);
static inline void rmq_hist_observe(rmq_hist_t *h, int64_t v)
{
    int i = 0;
    while (i < h->nb && v > h->bounds[i])
        i++;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}
/* _bucket (cumulative, le="..."), _sum, _count of the current family. */
void rmq_prom_hist(rmq_prom_t *w, const char *const *labels, const rmq_hist_t *h);

/* ---- the process collector (standard names of Prometheus' clients) ---- */

typedef struct rmq_proc_stats_s {
    double cpu_seconds; /* user + system */
    int64_t rss_bytes;
    int64_t vsize_bytes;
    double start_time; /* seconds since the epoch */
    int64_t open_fds;  /* -1 if unknown */
    int64_t max_fds;
    int64_t threads;
} rmq_proc_stats_t;

/* Read /proc/self (any thread). false if /proc is not available. */
bool rmq_proc_stats_read(rmq_proc_stats_t *st);
/* process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_start_time_seconds, process_open_fds,
 * process_max_fds, plus comet_process_threads. */
void rmq_prom_process(rmq_prom_t *w, const rmq_proc_stats_t *st);

#endif
