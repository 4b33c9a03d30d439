/* etcd.c - etcd v3 over its JSON gateway with libevent's evhttp client:
 * endpoint list and failover, a pool of kept-alive connections per
 * endpoint, per-call time budgets, watches as streamed answers, base64 and
 * the request/answer helpers.
 *
 * Owns: the evhttp connections, the pending calls and watches.
 * Runs: on the thread of the event_base it was created with (the broker's
 * "Controller" thread); callbacks run there too.
 * Never: blocks (evdns resolves host names), calls a callback twice, or
 * frees a connection from inside one of evhttp's callbacks (connections to
 * drop are reaped by a separate event). */
#include "controller/etcd.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "rmq_timer.h"

#define MAX_ENDPOINTS 16
#define MAX_IDLE_PER_ENDPOINT 4
#define MAX_BODY (8u << 20)
#define WATCH_IDLE_TIMEOUT_S 60

typedef struct conn_s {
    struct conn_s *next;
    struct evhttp_connection *evcon;
    int ep;
} conn_t;

typedef struct endpoint_s {
    char host[256];
    int port;
    char name[300]; /* host:port */
    conn_t *idle;
    int n_idle;
} endpoint_t;

typedef struct call_s {
    struct call_s *next, *prev;
    rmq_etcd_t *e;
    char path[96];
    char *body;
    size_t body_len;
    int64_t deadline;
    int tries_left;
    rmq_etcd_cb *cb;
    void *arg;
    conn_t *conn; /* of the current attempt */
    struct evhttp_request *req;
    struct event *ev_start;
    enum evhttp_request_error last_error;
    bool have_error;
    bool in_make, sync_failed; /* evhttp may fail a request inside evhttp_make_request */
    char why[200];             /* last failure */
} call_t;

struct rmq_etcd_watch_s {
    struct rmq_etcd_watch_s *next, *prev;
    rmq_etcd_t *e;
    struct evhttp_connection *evcon;
    struct evhttp_request *req;
    rmq_etcd_watch_cb *cb;
    void *arg;
    struct evbuffer *acc;  /* bytes of an incomplete line */
    struct event *ev_fail; /* reports a watch that could not be sent */
    bool broken, stopped;
};

typedef struct grave_s {
    struct grave_s *next;
    struct evhttp_connection *evcon;
    rmq_etcd_watch_t *watch;
} grave_t;

struct rmq_etcd_s {
    struct event_base *base;
    struct evdns_base *dns;
    endpoint_t ep[MAX_ENDPOINTS];
    size_t n_ep;
    size_t cur;
    uint64_t gen;
    call_t *calls; /* pending */
    rmq_etcd_watch_t *watches;
    grave_t *graves;
    struct event *ev_reap;
    bool freeing;
};

/* ------------------------------------------------------------- base64 */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *rmq_b64_encode(const void *data, size_t len)
{
    const uint8_t *p = data;
    char *out = rmq_malloc((len + 2) / 3 * 4 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? B64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? B64[v & 63] : '=';
    }
    out[o] = 0;
    return out;
}

/* The value of a base64 digit (its place in B64), -1 for anything else. */
static int b64_val(char c)
{
    const char *p = c ? strchr(B64, c) : NULL;
    return p ? (int)(p - B64) : -1;
}

char *rmq_b64_decode(const char *text, size_t *out_len)
{
    size_t n = strlen(text);
    if (n % 4)
        return NULL;
    char *out = rmq_malloc(n / 4 * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            char c = text[i + k];
            if (c == '=' && i + 4 == n && k >= 2 && (k == 3 || text[i + 3] == '=')) {
                v[k] = -2;
                continue;
            }
            v[k] = b64_val(c);
            if (v[k] < 0 || (k == 3 && v[2] == -2)) {
                free(out);
                return NULL;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)(v[2] < 0 ? 0 : v[2]) << 6 |
                     (uint32_t)(v[3] < 0 ? 0 : v[3]);
        out[o++] = (char)(w >> 16);
        if (v[2] >= 0)
            out[o++] = (char)(w >> 8);
        if (v[3] >= 0)
            out[o++] = (char)w;
    }
    out[o] = 0;
    if (out_len)
        *out_len = o;
    return out;
}

/* ----------------------------------------------------------- endpoints */

static bool parse_endpoint(const char *tok, endpoint_t *ep, char *errstr, size_t n)
{
    const char *p = tok;
    if (!strncmp(p, "https://", 8)) {
        snprintf(errstr, n, "etcd endpoint %s: https is not supported (etcd's JSON gateway over plain HTTP)",
                 tok);
        return false;
    }
    if (!strncmp(p, "http://", 7))
        p += 7;
    size_t len = strlen(p);
    while (len && p[len - 1] == '/')
        len--;
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++)
        if (p[i] == ':')
            colon = p + i;
    if (!colon || colon == p || memchr(p, '/', len)) {
        snprintf(errstr, n, "etcd endpoint '%s' is not http://host:port", tok);
        return false;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end != p + len || port <= 0 || port > 65535 || (size_t)(colon - p) >= sizeof(ep->host)) {
        snprintf(errstr, n, "etcd endpoint '%s' is not http://host:port", tok);
        return false;
    }
    memset(ep, 0, sizeof(*ep));
    memcpy(ep->host, p, (size_t)(colon - p));
    ep->port = (int)port;
    snprintf(ep->name, sizeof(ep->name), "%s:%d", ep->host, ep->port);
    return true;
}

static size_t parse_endpoints(const char *list, endpoint_t *eps, char *errstr, size_t n)
{
    char *dup = rmq_strdup(list ? list : ""), *save = NULL;
    size_t k = 0;
    for (char *t = strtok_r(dup, ",; \t", &save); t; t = strtok_r(NULL, ",; \t", &save)) {
        if (k == MAX_ENDPOINTS) {
            snprintf(errstr, n, "etcdEndpoints: more than %d endpoints", MAX_ENDPOINTS);
            free(dup);
            return 0;
        }
        endpoint_t tmp;
        if (!parse_endpoint(t, eps ? &eps[k] : &tmp, errstr, n)) {
            free(dup);
            return 0;
        }
        k++;
    }
    free(dup);
    if (!k)
        snprintf(errstr, n, "etcdEndpoints is empty: list the etcd members as http://host:port,...");
    return k;
}

bool rmq_etcd_endpoints_valid(const char *endpoints, char *errstr, size_t n)
{
    return parse_endpoints(endpoints, NULL, errstr, n) > 0;
}

size_t rmq_etcd_endpoint_count(const rmq_etcd_t *e)
{
    return e->n_ep;
}

const char *rmq_etcd_endpoint(const rmq_etcd_t *e)
{
    return e->ep[e->cur].name;
}

uint64_t rmq_etcd_endpoint_gen(const rmq_etcd_t *e)
{
    return e->gen;
}

/* ----------------------------------------------------------- connections */

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_etcd_t *e = arg;
    while (e->graves) {
        grave_t *g = e->graves;
        e->graves = g->next;
        if (g->evcon)
            evhttp_connection_free(g->evcon);
        if (g->watch) {
            rmq_event_free(g->watch->ev_fail);
            if (g->watch->acc)
                evbuffer_free(g->watch->acc);
            free(g->watch);
        }
        free(g);
    }
}

/* Free later, outside evhttp's callbacks. */
static void bury(rmq_etcd_t *e, struct evhttp_connection *evcon, rmq_etcd_watch_t *w)
{
    grave_t *g = rmq_calloc(1, sizeof(*g));
    g->evcon = evcon;
    g->watch = w;
    g->next = e->graves;
    e->graves = g;
    if (!e->freeing)
        event_active(e->ev_reap, EV_TIMEOUT, 0);
}

static struct evhttp_connection *new_evcon(rmq_etcd_t *e, int ep)
{
    struct evhttp_connection *c =
        evhttp_connection_base_new(e->base, e->dns, e->ep[ep].host, (unsigned short)e->ep[ep].port);
    if (c) {
        evhttp_connection_set_max_body_size(c, MAX_BODY);
        evhttp_connection_set_max_headers_size(c, 64 * 1024);
        evhttp_connection_set_retries(c, 0);
    }
    return c;
}

static conn_t *conn_get(rmq_etcd_t *e, int ep)
{
    endpoint_t *p = &e->ep[ep];
    if (p->idle) {
        conn_t *c = p->idle;
        p->idle = c->next;
        p->n_idle--;
        c->next = NULL;
        return c;
    }
    struct evhttp_connection *evcon = new_evcon(e, ep);
    if (!evcon)
        return NULL;
    conn_t *c = rmq_calloc(1, sizeof(*c));
    c->evcon = evcon;
    c->ep = ep;
    return c;
}

static void conn_put(rmq_etcd_t *e, conn_t *c, bool healthy)
{
    endpoint_t *p = &e->ep[c->ep];
    if (healthy && p->n_idle < MAX_IDLE_PER_ENDPOINT && !e->freeing) {
        c->next = p->idle;
        p->idle = c;
        p->n_idle++;
        return;
    }
    bury(e, c->evcon, NULL);
    free(c);
}

static void drop_idle(rmq_etcd_t *e, int ep)
{
    endpoint_t *p = &e->ep[ep];
    while (p->idle) {
        conn_t *c = p->idle;
        p->idle = c->next;
        bury(e, c->evcon, NULL);
        free(c);
    }
    p->n_idle = 0;
}

/* ----------------------------------------------------------------- calls */

/* The pending calls and the watches are doubly linked lists through their
 * fields next and prev: x goes on the front of the list at head, or comes
 * out of it (nothing happens when x is in no list). */
#define DLIST_PUSH(head, x)                                                                                  \
    do {                                                                                                     \
        (x)->next = (head);                                                                                  \
        if (head)                                                                                            \
            (head)->prev = (x);                                                                              \
        (head) = (x);                                                                                        \
    } while (0)
#define DLIST_UNLINK(head, x)                                                                                \
    do {                                                                                                     \
        if ((x)->prev)                                                                                       \
            (x)->prev->next = (x)->next;                                                                     \
        else if ((head) == (x))                                                                              \
            (head) = (x)->next;                                                                              \
        if ((x)->next)                                                                                       \
            (x)->next->prev = (x)->prev;                                                                     \
        (x)->next = (x)->prev = NULL;                                                                        \
    } while (0)

static void attempt(call_t *c);

static void call_finish(call_t *c, rmq_etcd_resp_t *r)
{
    DLIST_UNLINK(c->e->calls, c);
    rmq_event_clear(&c->ev_start);
    if (c->cb)
        c->cb(c->arg, r);
    free(c->body);
    free(c);
}

static void finish_error(call_t *c, rmq_err_t err, const char *endpoint)
{
    rmq_etcd_resp_t r = {0};
    r.err = err;
    snprintf(r.msg, sizeof(r.msg), "%s", c->why[0] ? c->why : rmq_err2str(err));
    r.endpoint = endpoint;
    call_finish(c, &r);
}

static const char *req_error_name(enum evhttp_request_error er)
{
    switch (er) {
    case EVREQ_HTTP_TIMEOUT:
        return "timed out";
    case EVREQ_HTTP_EOF:
        return "connection closed";
    case EVREQ_HTTP_INVALID_HEADER:
        return "invalid answer";
    case EVREQ_HTTP_BUFFER_ERROR:
        return "connection failed";
    case EVREQ_HTTP_REQUEST_CANCEL:
        return "cancelled";
    case EVREQ_HTTP_DATA_TOO_LONG:
        return "answer too long";
    default:
        return "failed";
    }
}

/* The endpoint failed us: move on to the next one. */
static void endpoint_failed(rmq_etcd_t *e, int ep, const char *why)
{
    drop_idle(e, ep);
    if ((size_t)ep != e->cur || e->n_ep == 1)
        return;
    e->cur = (e->cur + 1) % e->n_ep;
    e->gen++;
    rmq_log(RMQ_LOG_WARN, "etcd", "etcd endpoint %s: %s; now using %s", e->ep[ep].name, why,
            e->ep[e->cur].name);
}

static void retry_or_fail(call_t *c, rmq_err_t err)
{
    if (c->tries_left > 0 && rmq_mono_ms() < c->deadline && !c->e->freeing)
        attempt(c);
    else
        finish_error(c, err, NULL);
}

static void req_error_cb(enum evhttp_request_error er, void *arg)
{
    call_t *c = arg;
    c->last_error = er;
    c->have_error = true;
}

static void req_done_cb(struct evhttp_request *req, void *arg)
{
    call_t *c = arg;
    if (c->in_make) { /* failed inside evhttp_make_request: attempt() goes on */
        c->sync_failed = true;
        return;
    }
    rmq_etcd_t *e = c->e;
    conn_t *conn = c->conn;
    c->conn = NULL;
    c->req = NULL;
    int ep = conn->ep;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (code == 0) {
        const char *why = c->have_error ? req_error_name(c->last_error) : "connection failed";
        snprintf(c->why, sizeof(c->why), "%.120s: %.70s", e->ep[ep].name, why);
        conn_put(e, conn, false);
        endpoint_failed(e, ep, why);
        retry_or_fail(c, c->have_error && c->last_error == EVREQ_HTTP_TIMEOUT ? RMQ_ERR__TIMED_OUT
                                                                              : RMQ_ERR__TRANSPORT);
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *data = (const char *)evbuffer_pullup(in, -1);
    json_error_t jerr;
    json_t *body = len ? json_loadb(data, len, 0, &jerr) : NULL;
    if (code >= 500) {
        const char *m = body ? json_string_value(json_object_get(body, "message")) : NULL;
        snprintf(c->why, sizeof(c->why), "%.120s: HTTP %d%s%.60s", e->ep[ep].name, code, m ? ": " : "",
                 m ? m : "");
        json_decref(body);
        conn_put(e, conn, false);
        endpoint_failed(e, ep, c->why);
        retry_or_fail(c, RMQ_ERR__TRANSPORT);
        return;
    }
    conn_put(e, conn, true);
    rmq_etcd_resp_t r = {0};
    r.http_status = code;
    r.endpoint = e->ep[ep].name;
    if (!body || !json_is_object(body)) {
        r.err = RMQ_ERR__CORRUPT;
        snprintf(r.msg, sizeof(r.msg), "%s: HTTP %d with an answer that is not a JSON object", r.endpoint,
                 code);
    } else if (code != 200) {
        r.err = RMQ_ERR__STATE;
        r.grpc_code = (int)json_integer_value(json_object_get(body, "code"));
        const char *m = json_string_value(json_object_get(body, "message"));
        if (!m)
            m = json_string_value(json_object_get(body, "error"));
        snprintf(r.msg, sizeof(r.msg), "%s", m ? m : "error without a message");
    } else {
        r.err = RMQ_OK;
        r.body = body;
        json_t *h = json_object_get(body, "header");
        if (!h) { /* streamed RPCs answer {"result": {...}} */
            json_t *res = json_object_get(body, "result");
            h = res ? json_object_get(res, "header") : NULL;
        }
        r.revision = h ? rmq_etcd_i64(h, "revision", 0) : 0;
    }
    call_finish(c, &r);
    json_decref(body);
}

static void attempt(call_t *c)
{
    rmq_etcd_t *e = c->e;
    c->tries_left--;
    int ep = (int)e->cur;
    /* the budget is shared by the endpoints still to try, so a silent one
     * cannot use it all */
    int64_t left = c->deadline - rmq_mono_ms();
    int64_t slice = left / (c->tries_left + 1);
    if (slice < 200)
        slice = left < 200 ? left : 200;
    if (slice < 1)
        slice = 1;
    left = slice;
    conn_t *conn = conn_get(e, ep);
    if (!conn) {
        snprintf(c->why, sizeof(c->why), "%.120s: cannot create a connection", e->ep[ep].name);
        finish_error(c, RMQ_ERR__TRANSPORT, NULL);
        return;
    }
    struct timeval tv = {left / 1000, (left % 1000) * 1000};
    evhttp_connection_set_timeout_tv(conn->evcon, &tv);
    struct evhttp_request *req = evhttp_request_new(req_done_cb, c);
    evhttp_request_set_error_cb(req, req_error_cb);
    c->have_error = false;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", e->ep[ep].name);
    evhttp_add_header(h, "Content-Type", "application/json");
    evbuffer_add(evhttp_request_get_output_buffer(req), c->body, c->body_len);
    c->conn = conn;
    c->req = req;
    c->in_make = true;
    c->sync_failed = false;
    int rc = evhttp_make_request(conn->evcon, req, EVHTTP_REQ_POST, c->path);
    c->in_make = false;
    if (rc != 0 || c->sync_failed) {
        /* the request is off the connection, which is not reused */
        c->conn = NULL;
        c->req = NULL;
        snprintf(c->why, sizeof(c->why), "%.120s: cannot connect", e->ep[ep].name);
        conn_put(e, conn, false);
        endpoint_failed(e, ep, "cannot connect");
        retry_or_fail(c, RMQ_ERR__TRANSPORT);
    }
}

static void start_cb(evutil_socket_t fd, short what, void *arg)
{
    call_t *c = arg;
    rmq_event_clear(&c->ev_start);
    attempt(c);
}

void rmq_etcd_call(rmq_etcd_t *e, const char *path, json_t *body, int timeout_ms, rmq_etcd_cb *cb, void *arg)
{
    call_t *c = rmq_calloc(1, sizeof(*c));
    c->e = e;
    snprintf(c->path, sizeof(c->path), "%s", path);
    if (!body)
        body = json_object();
    c->body = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!c->body)
        c->body = rmq_strdup("{}");
    c->body_len = strlen(c->body);
    c->deadline = rmq_mono_ms() + (timeout_ms > 0 ? timeout_ms : 1000);
    c->tries_left = (int)e->n_ep;
    c->cb = cb;
    c->arg = arg;
    DLIST_PUSH(e->calls, c);
    /* never call back from inside this call */
    c->ev_start = evtimer_new(e->base, start_cb, c);
    event_active(c->ev_start, EV_TIMEOUT, 0);
}

/* -------------------------------------------------------------- watches */

static void watch_broken(rmq_etcd_watch_t *w)
{
    if (w->broken || w->stopped)
        return;
    w->broken = true;
    w->cb(w->arg, RMQ_ETCD_WATCH_BROKEN, NULL);
}

static void watch_lines(rmq_etcd_watch_t *w)
{
    for (;;) {
        if (w->stopped || w->broken)
            return;
        size_t eol_len = 0;
        struct evbuffer_ptr p = evbuffer_search_eol(w->acc, NULL, &eol_len, EVBUFFER_EOL_LF);
        if (p.pos < 0) {
            if (evbuffer_get_length(w->acc) > MAX_BODY) {
                rmq_log(RMQ_LOG_WARN, "etcd", "watch: a streamed answer over %u bytes", MAX_BODY);
                watch_broken(w);
            }
            return;
        }
        size_t len = (size_t)p.pos;
        char *line = rmq_malloc(len + 1);
        evbuffer_remove(w->acc, line, len);
        evbuffer_drain(w->acc, eol_len);
        line[len] = 0;
        json_error_t jerr;
        json_t *j = len ? json_loadb(line, len, 0, &jerr) : NULL;
        free(line);
        if (!len)
            continue;
        json_t *res = j ? json_object_get(j, "result") : NULL;
        if (!res) {
            json_t *err = j ? json_object_get(j, "error") : NULL;
            const char *m = err ? json_string_value(json_object_get(err, "message")) : NULL;
            rmq_log(RMQ_LOG_WARN, "etcd", "watch: %s", m ? m : "an answer without a result");
            json_decref(j);
            watch_broken(w);
            return;
        }
        if (rmq_etcd_bool(res, "canceled")) {
            const char *why = json_string_value(json_object_get(res, "cancel_reason"));
            rmq_log(RMQ_LOG_WARN, "etcd", "watch cancelled by etcd%s%s", why ? ": " : "", why ? why : "");
            json_decref(j);
            watch_broken(w);
            return;
        }
        bool created = rmq_etcd_bool(res, "created");
        json_t *events = json_object_get(res, "events");
        if (created)
            w->cb(w->arg, RMQ_ETCD_WATCH_CREATED, res);
        if (!w->stopped && json_array_size(events))
            w->cb(w->arg, RMQ_ETCD_WATCH_EVENTS, res);
        json_decref(j);
    }
}

static void watch_chunk_cb(struct evhttp_request *req, void *arg)
{
    rmq_etcd_watch_t *w = arg;
    if (w->stopped)
        return;
    evbuffer_add_buffer(w->acc, evhttp_request_get_input_buffer(req));
    watch_lines(w);
}

static void watch_done_cb(struct evhttp_request *req, void *arg)
{
    rmq_etcd_watch_t *w = arg;
    w->req = NULL;
    if (w->stopped)
        return;
    if (req && evhttp_request_get_response_code(req) == 200) {
        evbuffer_add_buffer(w->acc, evhttp_request_get_input_buffer(req));
        evbuffer_add(w->acc, "\n", 1);
        watch_lines(w);
    }
    watch_broken(w);
}

static void watch_fail_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_etcd_watch_t *w = arg;
    rmq_log(RMQ_LOG_WARN, "etcd", "watch: cannot send the request to %s", w->e->ep[w->e->cur].name);
    watch_broken(w);
}

rmq_etcd_watch_t *rmq_etcd_watch_prefix(rmq_etcd_t *e, const char *prefix, int64_t start_rev,
                                        rmq_etcd_watch_cb *cb, void *arg)
{
    int ep = (int)e->cur;
    rmq_etcd_watch_t *w = rmq_calloc(1, sizeof(*w));
    w->e = e;
    w->cb = cb;
    w->arg = arg;
    w->acc = evbuffer_new();
    w->evcon = new_evcon(e, ep);
    json_t *cr = rmq_etcd_range_prefix(prefix);
    if (start_rev > 0)
        json_object_set_new(cr, "start_revision", json_integer(start_rev));
    json_t *body = json_pack("{s:o}", "create_request", cr);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct timeval tv = {WATCH_IDLE_TIMEOUT_S, 0};
    if (w->evcon)
        evhttp_connection_set_timeout_tv(w->evcon, &tv);
    struct evhttp_request *req = w->evcon ? evhttp_request_new(watch_done_cb, w) : NULL;
    DLIST_PUSH(e->watches, w);
    if (req) {
        evhttp_request_set_chunked_cb(req, watch_chunk_cb);
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Host", e->ep[ep].name);
        evhttp_add_header(h, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text));
        w->req = req;
        w->stopped = true; /* a failure inside evhttp_make_request is not reported from here */
        if (evhttp_make_request(w->evcon, req, EVHTTP_REQ_POST, "/v3/watch") != 0 || !w->req)
            w->req = NULL;
        w->stopped = false;
    }
    free(text);
    if (!w->req) { /* reported as broken from the loop, not from here */
        w->ev_fail = evtimer_new(e->base, watch_fail_cb, w);
        event_active(w->ev_fail, EV_TIMEOUT, 0);
    }
    return w;
}

void rmq_etcd_watch_stop(rmq_etcd_watch_t *w)
{
    if (!w)
        return;
    w->stopped = true;
    DLIST_UNLINK(w->e->watches, w);
    bury(w->e, w->evcon, w);
    w->evcon = NULL;
}

/* ------------------------------------------------------------ lifecycle */

rmq_etcd_t *rmq_etcd_new(struct event_base *base, const char *endpoints, char *errstr, size_t n)
{
    rmq_etcd_t *e = rmq_calloc(1, sizeof(*e));
    e->n_ep = parse_endpoints(endpoints, e->ep, errstr, n);
    if (!e->n_ep) {
        free(e);
        return NULL;
    }
    e->base = base;
    e->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (!e->dns) /* no resolv.conf: numeric addresses and /etc/hosts still work */
        e->dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (e->dns)
        evdns_base_load_hosts(e->dns, NULL);
    e->ev_reap = event_new(base, -1, 0, reap_cb, e);
    return e;
}

void rmq_etcd_free(rmq_etcd_t *e)
{
    if (!e)
        return;
    e->freeing = true;
    while (e->watches)
        rmq_etcd_watch_stop(e->watches);
    /* pending calls: free their connections (evhttp drops the requests
     * without calling back), then answer them */
    while (e->calls) {
        call_t *c = e->calls;
        if (c->conn) {
            evhttp_connection_free(c->conn->evcon);
            free(c->conn);
            c->conn = NULL;
        }
        snprintf(c->why, sizeof(c->why), "the etcd client is shutting down");
        finish_error(c, RMQ_ERR__DESTROY, NULL);
    }
    for (size_t i = 0; i < e->n_ep; i++)
        drop_idle(e, (int)i);
    reap_cb(-1, 0, e);
    rmq_event_free(e->ev_reap);
    if (e->dns)
        evdns_base_free(e->dns, 0);
    free(e);
}

/* ------------------------------------------------------------- builders */

static char *prefix_end(const char *prefix)
{
    size_t n = strlen(prefix);
    char *end = rmq_strdup(prefix);
    while (n > 0) {
        unsigned char c = (unsigned char)end[n - 1];
        if (c < 0xff) {
            end[n - 1] = (char)(c + 1);
            end[n] = 0;
            return end;
        }
        n--;
    }
    end[0] = 0; /* all 0xff: to the end of the key space */
    return end;
}

static json_t *b64_str(const char *s)
{
    char *b = rmq_b64_encode(s, strlen(s));
    json_t *j = json_string(b);
    free(b);
    return j;
}

json_t *rmq_etcd_range_prefix(const char *prefix)
{
    char *end = prefix_end(prefix);
    json_t *j = json_object();
    json_object_set_new(j, "key", b64_str(prefix));
    json_object_set_new(j, "range_end", end[0] ? b64_str(end) : json_string("AA=="));
    free(end);
    return j;
}

json_t *rmq_etcd_range_key(const char *key)
{
    json_t *j = json_object();
    json_object_set_new(j, "key", b64_str(key));
    return j;
}

json_t *rmq_etcd_put(const char *key, const char *value, int64_t lease)
{
    json_t *j = json_object();
    json_object_set_new(j, "key", b64_str(key));
    json_object_set_new(j, "value", b64_str(value));
    if (lease)
        json_object_set_new(j, "lease", json_sprintf("%lld", (long long)lease));
    return j;
}

json_t *rmq_etcd_delete(const char *key)
{
    return rmq_etcd_range_key(key);
}

static json_t *cmp(const char *key, const char *target, const char *field, int64_t v)
{
    json_t *j = json_object();
    json_object_set_new(j, "key", b64_str(key));
    json_object_set_new(j, "target", json_string(target));
    json_object_set_new(j, "result", json_string("EQUAL"));
    json_object_set_new(j, field, json_sprintf("%lld", (long long)v));
    return j;
}

json_t *rmq_etcd_cmp_create(const char *key, int64_t create_revision)
{
    return cmp(key, "CREATE", "create_revision", create_revision);
}

json_t *rmq_etcd_cmp_mod(const char *key, int64_t mod_revision)
{
    return cmp(key, "MOD", "mod_revision", mod_revision);
}

json_t *rmq_etcd_cmp_lease(const char *key, int64_t lease)
{
    return cmp(key, "LEASE", "lease", lease);
}

/* -------------------------------------------------------------- answers */

int64_t rmq_etcd_i64(json_t *obj, const char *field, int64_t def)
{
    json_t *v = obj ? json_object_get(obj, field) : NULL;
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    const char *s = json_string_value(v);
    if (!s || !*s)
        return def;
    char *end;
    long long x = strtoll(s, &end, 10);
    return *end ? def : (int64_t)x;
}

bool rmq_etcd_bool(json_t *obj, const char *field)
{
    json_t *v = obj ? json_object_get(obj, field) : NULL;
    return json_is_true(v) || (json_is_string(v) && !strcmp(json_string_value(v), "true"));
}

void rmq_etcd_kvs_free(rmq_etcd_kv_t *kvs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kvs[i].key);
        free(kvs[i].value);
    }
    free(kvs);
}

bool rmq_etcd_kvs(json_t *ans, rmq_etcd_kv_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    json_t *arr = json_object_get(ans, "kvs");
    size_t cnt = json_array_size(arr);
    rmq_etcd_kv_t *kvs = rmq_calloc(cnt + 1, sizeof(*kvs));
    for (size_t i = 0; i < cnt; i++) {
        json_t *kv = json_array_get(arr, i);
        const char *k = json_string_value(json_object_get(kv, "key"));
        const char *v = json_string_value(json_object_get(kv, "value"));
        size_t kl = 0;
        kvs[i].key = k ? rmq_b64_decode(k, &kl) : NULL;
        kvs[i].value = rmq_b64_decode(v ? v : "", &kvs[i].value_len);
        if (!kvs[i].key || !kvs[i].value || strlen(kvs[i].key) != kl) {
            rmq_etcd_kvs_free(kvs, i + 1);
            return false;
        }
        kvs[i].create_revision = rmq_etcd_i64(kv, "create_revision", 0);
        kvs[i].mod_revision = rmq_etcd_i64(kv, "mod_revision", 0);
        kvs[i].version = rmq_etcd_i64(kv, "version", 0);
        kvs[i].lease = rmq_etcd_i64(kv, "lease", 0);
    }
    *out = kvs;
    *n = cnt;
    return true;
}
