/* rmq_metrics_http.c - GET /metrics: snapshot hand-off between a metric
 * owner's event loop and the HTTP thread (see the header for the protocol).
 * Threads: refresh_cb runs on the owner's loop (it calls collect and
 * publishes); everything else on the HTTP server's thread. Shared between
 * them: `latest` (under mu) and two events (event_active is thread-safe). */
#include "rmq_metrics_http.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_http.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "rmq_timer.h"

#define PROM_CTYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct waiter_s {
    rmq_http_req_t *req;
    struct waiter_s *next;
} waiter_t;

struct rmq_metrics_http_s {
    rmq_http_server_t *http;
    rmq_metrics_collect_fn *collect;
    void *arg;
    char *common;
    int refresh_ms, timeout_ms;
    struct event *refresh_ev;   /* on the owner's base */
    struct event *published_ev; /* on the HTTP base */
    struct event *timeout_ev;   /* on the HTTP base */
    pthread_mutex_t mu;
    rmq_http_blob_t *latest; /* under mu */
    int64_t latest_mono_ms;  /* under mu */
    int64_t render_us;       /* under mu: how long the last render took on the owner */
    /* HTTP thread only */
    rmq_http_blob_t *tail; /* process + exporter metrics, rendered at most once per refresh interval */
    int64_t tail_mono_ms;
    bool inflight;
    waiter_t *waiters;
    int64_t scrapes, stale_answers, refreshes;
};

/* @thread owner */
static void refresh_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_metrics_http_t *m = arg;
    int64_t t0 = rmq_mono_us();
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_prom_t w;
    rmq_prom_init(&w, &b, m->common);
    m->collect(&w, m->arg);
    rmq_http_blob_t *blob = rmq_http_blob_new(&b);
    int64_t took = rmq_mono_us() - t0;
    pthread_mutex_lock(&m->mu);
    rmq_http_blob_t *old = m->latest;
    m->latest = blob;
    m->latest_mono_ms = rmq_mono_ms();
    m->render_us = took;
    pthread_mutex_unlock(&m->mu);
    rmq_http_blob_unref(old);
    event_active(m->published_ev, EV_READ, 0);
}

/* Process and exporter metrics, rendered on the HTTP thread. */
static void tail_metrics(rmq_metrics_http_t *m, rmq_buf_t *tail, int64_t render_us)
{
    rmq_prom_t w;
    rmq_prom_init(&w, tail, m->common);
    rmq_proc_stats_t ps;
    if (rmq_proc_stats_read(&ps))
        rmq_prom_process(&w, &ps);
    rmq_http_stats_t hs;
    rmq_http_get_stats(m->http, &hs);
    rmq_prom_family(&w, "comet_metrics_http_connections", "gauge",
                    "Open connections to the metrics endpoint.");
    rmq_prom_int(&w, NULL, hs.connections);
    rmq_prom_family(&w, "comet_metrics_http_refused_total", "counter",
                    "Connections to the metrics endpoint refused over its connection limit.");
    rmq_prom_int(&w, NULL, hs.refused_total);
    rmq_prom_family(&w, "comet_metrics_http_requests_total", "counter", "Requests to the metrics endpoint.");
    rmq_prom_int(&w, NULL, hs.requests_total);
    rmq_prom_family(&w, "comet_metrics_scrape_stale_total", "counter",
                    "Scrapes answered with the previous snapshot because the owner thread was busy.");
    rmq_prom_int(&w, NULL, m->stale_answers);
    rmq_prom_family(&w, "comet_metrics_snapshots_total", "counter",
                    "Snapshots rendered by the owner thread.");
    rmq_prom_int(&w, NULL, m->refreshes);
    rmq_prom_family(&w, "comet_metrics_render_seconds", "gauge",
                    "Time the owner thread spent rendering the last snapshot.");
    rmq_prom_dbl(&w, NULL, (double)render_us / 1e6);
}

static void answer(rmq_metrics_http_t *m, rmq_http_req_t *req)
{
    pthread_mutex_lock(&m->mu);
    rmq_http_blob_t *blob = m->latest;
    if (blob)
        rmq_http_blob_ref(blob);
    int64_t render_us = m->render_us;
    pthread_mutex_unlock(&m->mu);
    if (!blob) {
        rmq_http_reply_error(req, 503, "metrics are not available yet: the server thread did not answer");
        return;
    }
    /* /proc is read at most once per refresh interval too, however many scrapes */
    int64_t now = rmq_mono_ms();
    if (!m->tail || now - m->tail_mono_ms >= m->refresh_ms) {
        rmq_buf_t t;
        rmq_buf_init(&t);
        tail_metrics(m, &t, render_us);
        rmq_http_blob_unref(m->tail);
        m->tail = rmq_http_blob_new(&t);
        m->tail_mono_ms = now;
    }
    /* two shared blobs: the body is never copied per scrape */
    rmq_http_reply_blobs(req, 200, PROM_CTYPE, blob, m->tail);
    rmq_http_blob_unref(blob);
}

static void answer_waiters(rmq_metrics_http_t *m)
{
    waiter_t *w = m->waiters;
    m->waiters = NULL;
    while (w) {
        waiter_t *n = w->next;
        answer(m, w->req);
        free(w);
        w = n;
    }
}

/* @thread HTTP */
static void published_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_metrics_http_t *m = arg;
    m->inflight = false;
    m->refreshes++;
    event_del(m->timeout_ev);
    answer_waiters(m);
}

/* @thread HTTP: the owner did not publish in time */
static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_metrics_http_t *m = arg;
    for (waiter_t *w = m->waiters; w; w = w->next)
        m->stale_answers++;
    rmq_log(RMQ_LOG_WARN, "metrics",
            "no snapshot from the server thread within %d ms; answering with the last one", m->timeout_ms);
    answer_waiters(m);
    /* inflight stays set: the owner will still publish, and no second render is queued meanwhile */
}

/* @thread HTTP */
static void on_metrics(rmq_http_req_t *req, void *ctx)
{
    rmq_metrics_http_t *m = ctx;
    rmq_http_method_t meth = rmq_http_req_method(req);
    if (meth != RMQ_HTTP_GET && meth != RMQ_HTTP_HEAD) {
        rmq_http_reply_error(req, 405, "only GET is allowed here");
        return;
    }
    m->scrapes++;
    pthread_mutex_lock(&m->mu);
    bool fresh = m->latest && rmq_mono_ms() - m->latest_mono_ms < m->refresh_ms;
    pthread_mutex_unlock(&m->mu);
    if (fresh) {
        answer(m, req);
        return;
    }
    waiter_t *w = rmq_malloc(sizeof(*w));
    w->req = req;
    w->next = m->waiters;
    m->waiters = w;
    if (!m->inflight) {
        m->inflight = true;
        event_active(m->refresh_ev, EV_READ, 0);
        struct timeval tv = {m->timeout_ms / 1000, (m->timeout_ms % 1000) * 1000};
        event_add(m->timeout_ev, &tv);
    }
}

static void on_index(rmq_http_req_t *req, void *ctx)
{
    const char *path = rmq_http_req_path(req);
    if (strcmp(path, "/") != 0) {
        rmq_http_reply_error(req, 404, "no such path: %s (the metrics are at /metrics)", path);
        return;
    }
    static const char idx[] = "Comet metrics exporter: see /metrics\n";
    rmq_http_reply_static(req, 200, "text/plain; charset=utf-8", idx, sizeof(idx) - 1, NULL);
}

rmq_metrics_http_t *rmq_metrics_http_start(struct event_base *owner, const rmq_metrics_http_opts_t *o,
                                           rmq_metrics_collect_fn *collect, void *arg, char *errstr,
                                           size_t errstr_size)
{
    rmq_http_opts_t ho;
    rmq_http_opts_default(&ho);
    ho.name = o->name ? o->name : "MetricsHttp";
    ho.host = o->host;
    ho.port = o->port;
    ho.max_connections = o->max_connections > 0 ? o->max_connections : 16;
    ho.max_body_bytes = 0; /* GET only */
    ho.max_head_bytes = 8192;
    ho.max_target_bytes = 2048;
    ho.max_pending = ho.max_connections;
    ho.nice = 10; /* under CPU contention scrapes wait, the message path does not */
    rmq_http_server_t *http = rmq_http_new(&ho, errstr, errstr_size);
    if (!http)
        return NULL;
    rmq_metrics_http_t *m = rmq_calloc(1, sizeof(*m));
    m->http = http;
    m->collect = collect;
    m->arg = arg;
    m->common = rmq_strdup(o->common_labels ? o->common_labels : "");
    m->refresh_ms = o->refresh_interval_ms > 0 ? o->refresh_interval_ms : 1000;
    m->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 3000;
    pthread_mutex_init(&m->mu, NULL);
    m->refresh_ev = event_new(owner, -1, EV_READ, refresh_cb, m);
    m->published_ev = event_new(rmq_http_base(http), -1, EV_READ, published_cb, m);
    m->timeout_ev = evtimer_new(rmq_http_base(http), timeout_cb, m);
    rmq_http_route(http, "/metrics", false, on_metrics, m);
    rmq_http_route(http, "/", true, on_index, m);
    if (rmq_http_start(http, errstr, errstr_size) != RMQ_OK) {
        rmq_metrics_http_stop(m);
        return NULL;
    }
    return m;
}

rmq_err_t rmq_metrics_http_start_conf(struct event_base *owner, const rmq_metrics_conf_t *c,
                                      const char *default_host, const char *own_labels,
                                      rmq_metrics_collect_fn *collect, void *arg, rmq_metrics_http_t **out,
                                      char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (c->in_delta) {
        snprintf(errstr, errstr_size,
                 "metricsInDelta=true is not supported: the Prometheus exposition is cumulative");
        return RMQ_ERR__INVALID_ARG;
    }
    rmq_buf_t common;
    rmq_buf_init(&common);
    rmq_buf_puts(&common, own_labels);
    char err[256];
    if (!rmq_prom_parse_label_list(c->label, &common, err, sizeof(err))) {
        snprintf(errstr, errstr_size, "metricsLabel: %s", err);
        rmq_buf_free(&common);
        return RMQ_ERR__INVALID_ARG;
    }
    rmq_buf_cstr(&common);
    rmq_metrics_http_opts_t o = {0};
    o.host = c->host && *c->host ? c->host : default_host;
    o.port = c->port;
    o.max_connections = c->max_connections;
    o.refresh_interval_ms = c->refresh_interval_ms;
    o.timeout_ms = 3000;
    o.common_labels = (const char *)common.data;
    o.name = "MetricsHttp";
    *out = rmq_metrics_http_start(owner, &o, collect, arg, errstr, errstr_size);
    rmq_buf_free(&common);
    return *out ? RMQ_OK : RMQ_ERR__IO;
}

int rmq_metrics_http_port(const rmq_metrics_http_t *m)
{
    return rmq_http_port(m->http);
}

void rmq_metrics_http_stop(rmq_metrics_http_t *m)
{
    if (!m)
        return;
    /* joins the HTTP thread (no more refresh requests) and frees the
     * requests still waiting: nobody answers them now */
    rmq_http_destroy(m->http);
    waiter_t *w = m->waiters;
    m->waiters = NULL;
    while (w) {
        waiter_t *n = w->next;
        free(w);
        w = n;
    }
    rmq_event_free(m->refresh_ev); /* on the owner's thread: refresh_cb cannot be running */
    rmq_event_free(m->published_ev);
    rmq_event_free(m->timeout_ev);
    rmq_http_blob_unref(m->latest);
    rmq_http_blob_unref(m->tail);
    pthread_mutex_destroy(&m->mu);
    free(m->common);
    free(m);
}
