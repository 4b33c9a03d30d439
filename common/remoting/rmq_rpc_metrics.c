/* rmq_rpc_metrics.c - rocketmq_rpc_latency and comet_system_busy_total:
 * per request code a short list of (response code, histogram), allocated
 * the first time a pair is seen.
 * Thread: the owner of the endpoints being observed (see the header). */
#include "rmq_rpc_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_err.h"

struct rmq_rpc_stat_s {
    int resp;
    rmq_hist_t h;
    struct rmq_rpc_stat_s *next;
};

static const int64_t rpc_bounds[] = {1, 3, 5, 10, 100, 1000, 3000};

#define UNKNOWN_SLOT RMQ_RPC_METRICS_SLOTS

static bool named(int code)
{
    const char *n = code >= 0 && code < RMQ_RPC_METRICS_SLOTS ? rmq_req_name(code) : NULL;
    return n && strcmp(n, "UNKNOWN") != 0;
}

void rmq_rpc_metrics_observe(rmq_rpc_metrics_t *m, int req_code, int resp_code, int64_t elapsed_us)
{
    if (resp_code < 0)
        return;
    if (!named(req_code))
        req_code = UNKNOWN_SLOT;
    if (resp_code == RMQ_ERR_SYSTEM_BUSY)
        m->busy[req_code]++;
    rmq_rpc_stat_t *s = m->by_code[req_code];
    while (s && s->resp != resp_code)
        s = s->next;
    if (!s) {
        s = rmq_calloc(1, sizeof(*s));
        s->resp = resp_code;
        rmq_hist_init(&s->h, rpc_bounds, (int)(sizeof(rpc_bounds) / sizeof(rpc_bounds[0])));
        s->next = m->by_code[req_code];
        m->by_code[req_code] = s;
    }
    rmq_hist_observe(&s->h, elapsed_us / 1000);
}

void rmq_rpc_metrics_observer(int req_code, int resp_code, int64_t elapsed_us, void *ctx)
{
    rmq_rpc_metrics_observe(ctx, req_code, resp_code, elapsed_us);
}

/* RocketMQ's label values: the constant's name in lower case. */
static const char *code_label(const char *name, int code, char *out, size_t n)
{
    if (!name || !strcmp(name, "UNKNOWN")) {
        snprintf(out, n, "%d", code);
        return out;
    }
    size_t i = 0;
    for (; name[i] && i + 1 < n; i++)
        out[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] - 'A' + 'a' : name[i]);
    out[i] = 0;
    return out;
}

static const char *req_label(int code, char *out, size_t n)
{
    if (code == UNKNOWN_SLOT)
        return "unknown";
    return code_label(rmq_req_name(code), code, out, n);
}

void rmq_rpc_metrics_render(const rmq_rpc_metrics_t *m, rmq_prom_t *w)
{
    rmq_prom_family(w, "rocketmq_rpc_latency", "histogram",
                    "Request handling time in ms, from arrival to the response (remoting)");
    for (int code = 0; code <= UNKNOWN_SLOT; code++) {
        for (const rmq_rpc_stat_t *s = m->by_code[code]; s; s = s->next) {
            char rq[64], rs[64];
            const char *l[] = {"protocol_type",
                               "remoting",
                               "request_code",
                               req_label(code, rq, sizeof(rq)),
                               "response_code",
                               code_label(rmq_err2name(s->resp), s->resp, rs, sizeof(rs)),
                               NULL};
            rmq_prom_hist(w, l, &s->h);
        }
    }
    rmq_prom_family(w, "comet_system_busy_total", "counter",
                    "Requests answered SYSTEM_BUSY (flow control: too many sends waiting for the disk)");
    for (int code = 0; code <= UNKNOWN_SLOT; code++) {
        if (!m->busy[code])
            continue;
        char rq[64];
        const char *l[] = {"request_code", req_label(code, rq, sizeof(rq)), NULL};
        rmq_prom_int(w, l, m->busy[code]);
    }
}

void rmq_rpc_metrics_free(rmq_rpc_metrics_t *m)
{
    for (int i = 0; i <= UNKNOWN_SLOT; i++) {
        while (m->by_code[i]) {
            rmq_rpc_stat_t *s = m->by_code[i];
            m->by_code[i] = s->next;
            free(s);
        }
    }
}
