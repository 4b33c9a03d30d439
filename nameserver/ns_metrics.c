/* ns_metrics.c - the name server's metrics: brokers and topics from the
 * route tables, remoting connections and request latency, rendered on the
 * name server's loop when the HTTP thread asks for a snapshot
 * (common/http/rmq_metrics_http.h).
 * Thread: the name server's loop (render, observer); the HTTP server runs
 * on its own thread and never reads the tables. */
#include "ns_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "namesrv.h"
#include "rmq_alloc.h"
#include "rmq_log.h"
#include "rmq_metrics_http.h"
#include "rmq_rpc_metrics.h"
#include "rmq_time.h"

struct ns_metrics_s {
    const ns_route_info_t *routes;
    rmq_endpoint_t *ep;
    rmq_metrics_http_t *http;
    rmq_rpc_metrics_t rpc;
};

typedef struct count_ctx_s {
    rmq_prom_t *w;
    int64_t now;
    int pass;
} count_ctx_t;

static void broker_row(const char *cluster, const char *name, int64_t id, const char *addr,
                       int64_t last_update, void *arg)
{
    count_ctx_t *c = arg;
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *l[] = {"broker_cluster",
                       cluster ? cluster : "",
                       "broker_name",
                       name,
                       "broker_id",
                       ids,
                       "address",
                       addr,
                       NULL};
    if (c->pass == 0)
        rmq_prom_int(c->w, l, last_update > 0 ? 1 : 0);
    else if (last_update > 0)
        rmq_prom_dbl(c->w, l, (double)(c->now - last_update) / 1000.0);
}

static void collect(rmq_prom_t *w, void *arg)
{
    ns_metrics_t *m = arg;
    const ns_route_info_t *ri = m->routes;
    rmq_prom_family(w, "comet_namesrv_brokers", "gauge",
                    "Registered broker addresses: 1 while live (registered within brokerChannelExpiredTime)");
    count_ctx_t c = {w, rmq_now_ms(), 0};
    ns_route_each_broker(ri, broker_row, &c);
    rmq_prom_family(
        w, "comet_namesrv_broker_registration_age_seconds", "gauge",
        "Seconds since the broker's last REGISTER_BROKER (expired after brokerChannelExpiredTime)");
    c.pass = 1;
    ns_route_each_broker(ri, broker_row, &c);
    rmq_prom_family(w, "comet_namesrv_clusters", "gauge", "Clusters known to this name server");
    rmq_prom_int(w, NULL, (int64_t)rmq_map_count(&ri->clusters));
    rmq_prom_family(w, "comet_namesrv_topics", "gauge", "Topics with a route");
    rmq_prom_int(w, NULL, (int64_t)rmq_map_count(&ri->topics));
    rmq_prom_family(w, "comet_connections", "gauge", "Open remoting connections per listening port");
    const char *l[] = {"port", "main", NULL};
    rmq_prom_int(w, l, (int64_t)rmq_endpoint_conn_count(m->ep));
    rmq_rpc_metrics_render(&m->rpc, w);
}

rmq_err_t ns_metrics_start(const ns_config_t *cfg, struct event_base *base, rmq_endpoint_t *ep,
                           const ns_route_info_t *routes, ns_metrics_t **out, char *errstr,
                           size_t errstr_size)
{
    *out = NULL;
    if (cfg->metrics.exporter != RMQ_METRICS_PROM)
        return RMQ_OK;
    rmq_buf_t own;
    rmq_buf_init(&own);
    rmq_buf_printf(&own, "node_type=\"nameserver\",node_id=\"");
    char id[300];
    snprintf(id, sizeof(id), "%s:%d", cfg->listenAddress, rmq_server_port(ep));
    rmq_prom_escape(&own, id);
    rmq_buf_putc(&own, '"');
    rmq_buf_cstr(&own);
    ns_metrics_t *m = rmq_calloc(1, sizeof(*m));
    m->routes = routes;
    m->ep = ep;
    rmq_err_t r = rmq_metrics_http_start_conf(base, &cfg->metrics, cfg->listenAddress, (const char *)own.data,
                                              collect, m, &m->http, errstr, errstr_size);
    rmq_buf_free(&own);
    if (r != RMQ_OK) {
        free(m);
        return r;
    }
    rmq_endpoint_set_observer(ep, rmq_rpc_metrics_observer, &m->rpc);
    *out = m;
    return RMQ_OK;
}

void ns_metrics_stop(ns_metrics_t *m)
{
    if (!m)
        return;
    rmq_metrics_http_stop(m->http);
    if (m->ep)
        rmq_endpoint_set_observer(m->ep, NULL, NULL);
    rmq_rpc_metrics_free(&m->rpc);
    free(m);
}
