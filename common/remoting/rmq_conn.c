/* rmq_conn.c - remoting connections: framing, dispatch by code, opaque
 * matching with per-request timeouts, server accept, client connect.
 *
 * Runs on the thread of the endpoint's event_base (the name server's only
 * thread, the broker's I/O thread, the client library's I/O thread). Never
 * blocks: hostnames are resolved with evdns. A connection dies in exactly one
 * place (conn_close); its memory lives on while anyone holds a reference. */
#include "rmq_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_log.h"

#define HANDLER_SLOTS 4096

typedef struct pending_s {
    int32_t opaque;
    rmq_resp_cb_t cb;
    void *arg;
    struct event *timer;
    rmq_conn_t *conn;
    struct pending_s *next;
} pending_t;

struct rmq_conn_s {
    rmq_endpoint_t *ep;
    struct bufferevent *bev;
    int refs;
    bool closed;
    bool connected;
    bool read_paused;
    uint64_t id;
    char peer[80];
    struct sockaddr_storage peer_addr;
    struct sockaddr_storage local_addr;
    pending_t **ptab;
    size_t ptab_size;
    size_t npending;
    void *user;
    rmq_conn_t *next, *prev;
};

typedef struct {
    rmq_req_handler_t h;
    void *ctx;
} handler_t;

struct rmq_endpoint_s {
    struct event_base *base;
    rmq_endpoint_opts_t opts;
    char name[32];
    bool is_client;
    struct evconnlistener *listener;
    int port;
    struct evdns_base *dns;
    handler_t handlers[HANDLER_SLOTS];
    handler_t dflt;
    rmq_close_cb_t close_cb;
    void *close_ctx;
    rmq_conn_t *conns;
};

/* Process-wide counters: several endpoints (client handles) may run their
 * event loops on different threads. */
static _Atomic int32_t next_opaque = 1;
static _Atomic uint64_t next_conn_id = 1;

/* Next request id: positive, wraps well before INT32_MAX (as ali-ons). */
static int32_t take_opaque(void)
{
    int32_t o = atomic_fetch_add(&next_opaque, 1);
    if (o >= INT32_MAX - 10 || o <= 0) {
        atomic_store(&next_opaque, 2);
        o = 1;
    }
    return o;
}

static void conn_close(rmq_conn_t *c, rmq_err_t why);

void rmq_endpoint_opts_default(rmq_endpoint_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->max_frame = RMQ_FRAME_MAX_DEFAULT;
    o->max_output = 64u * 1024 * 1024;
    o->idle_timeout_ms = 120000;
    o->connect_timeout_ms = 3000;
    o->name = "remoting";
}

/* ---------- address helpers ---------- */

static void sockaddr_text(const struct sockaddr *sa, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        port = ntohs(in->sin_port);
        snprintf(out, n, "%s:%d", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        port = ntohs(in6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            inet_ntop(AF_INET, (const uint8_t *)&in6->sin6_addr + 12, ip, sizeof(ip));
            snprintf(out, n, "%s:%d", ip, port);
        } else {
            inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
            snprintf(out, n, "[%s]:%d", ip, port);
        }
    } else {
        snprintf(out, n, "?");
    }
}

/* Turn an IPv4-mapped IPv6 address into plain IPv4 (Java does; ali-ons can
 * only decode 4-byte hosts). */
static void normalize_v4mapped(struct sockaddr_storage *ss)
{
    if (ss->ss_family != AF_INET6)
        return;
    struct sockaddr_in6 in6;
    memcpy(&in6, ss, sizeof(in6));
    if (!IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr))
        return;
    struct sockaddr_in in;
    memset(&in, 0, sizeof(in));
    in.sin_family = AF_INET;
    in.sin_port = in6.sin6_port;
    memcpy(&in.sin_addr, (uint8_t *)&in6.sin6_addr + 12, 4);
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, &in, sizeof(in));
}

bool rmq_addr_split(const char *addr, char *host, size_t host_size, int *port)
{
    if (!addr || !*addr)
        return false;
    const char *colon;
    const char *hs = addr;
    size_t hl;
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (!rb || rb[1] != ':')
            return false;
        hs = addr + 1;
        hl = (size_t)(rb - hs);
        colon = rb + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return false;
        hl = (size_t)(colon - addr);
    }
    if (hl == 0 || hl >= host_size)
        return false;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p <= 0 || p > 65535 || colon[1] == '\0')
        return false;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    *port = (int)p;
    return true;
}

/* ---------- pending requests (chained hash on opaque) ---------- */

static size_t ph(const rmq_conn_t *c, int32_t opaque) { return ((uint32_t)opaque * 2654435761u) & (c->ptab_size - 1); }

static void pending_grow(rmq_conn_t *c)
{
    size_t nsize = c->ptab_size ? c->ptab_size * 2 : 64;
    pending_t **nt = rmq_calloc(nsize, sizeof(*nt));
    size_t old = c->ptab_size;
    pending_t **ot = c->ptab;
    c->ptab = nt;
    c->ptab_size = nsize;
    for (size_t i = 0; i < old; i++) {
        pending_t *p = ot[i];
        while (p) {
            pending_t *nx = p->next;
            size_t h = ph(c, p->opaque);
            p->next = nt[h];
            nt[h] = p;
            p = nx;
        }
    }
    free(ot);
}

static void pending_add(rmq_conn_t *c, pending_t *p)
{
    if (c->npending + 1 > c->ptab_size / 2)
        pending_grow(c);
    size_t h = ph(c, p->opaque);
    p->next = c->ptab[h];
    c->ptab[h] = p;
    c->npending++;
}

static pending_t *pending_take(rmq_conn_t *c, int32_t opaque)
{
    if (!c->ptab_size)
        return NULL;
    pending_t **pp = &c->ptab[ph(c, opaque)];
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->opaque == opaque) {
            pending_t *p = *pp;
            *pp = p->next;
            c->npending--;
            return p;
        }
    }
    return NULL;
}

static void pending_free(pending_t *p)
{
    if (p->timer)
        event_free(p->timer);
    free(p);
}

static void pending_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    pending_t *p = arg;
    rmq_conn_t *c = p->conn;
    pending_t *q = pending_take(c, p->opaque);
    rmq_assert(q == p);
    rmq_conn_hold(c);
    p->cb(c, RMQ_ERR__TIMED_OUT, NULL, p->arg);
    pending_free(p);
    rmq_conn_release(c);
}

/* ---------- connection lifecycle ---------- */

void rmq_conn_hold(rmq_conn_t *c) { c->refs++; }

void rmq_conn_release(rmq_conn_t *c)
{
    if (--c->refs > 0)
        return;
    rmq_assert(c->closed && c->npending == 0);
    free(c->ptab);
    free(c);
}

bool rmq_conn_is_closed(const rmq_conn_t *c) { return c->closed; }
const char *rmq_conn_peer(const rmq_conn_t *c) { return c->peer; }
const struct sockaddr_storage *rmq_conn_peer_addr(const rmq_conn_t *c) { return &c->peer_addr; }
const struct sockaddr_storage *rmq_conn_local_addr(const rmq_conn_t *c) { return &c->local_addr; }
uint64_t rmq_conn_id(const rmq_conn_t *c) { return c->id; }
void rmq_conn_set_user(rmq_conn_t *c, void *user) { c->user = user; }
void *rmq_conn_user(const rmq_conn_t *c) { return c->user; }
rmq_endpoint_t *rmq_conn_endpoint(const rmq_conn_t *c) { return c->ep; }

size_t rmq_conn_output_len(const rmq_conn_t *c)
{
    return c->closed ? 0 : evbuffer_get_length(bufferevent_get_output(c->bev));
}

void rmq_conn_close(rmq_conn_t *c) { conn_close(c, RMQ_ERR__TRANSPORT); }

static void conn_close(rmq_conn_t *c, rmq_err_t why)
{
    if (c->closed)
        return;
    c->closed = true;
    rmq_conn_hold(c);
    bufferevent_free(c->bev);
    c->bev = NULL;
    /* unlink from the endpoint */
    if (c->prev)
        c->prev->next = c->next;
    else
        c->ep->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
    /* fail pending requests */
    for (size_t i = 0; i < c->ptab_size; i++) {
        while (c->ptab[i]) {
            pending_t *p = c->ptab[i];
            c->ptab[i] = p->next;
            c->npending--;
            p->cb(c, why, NULL, p->arg);
            pending_free(p);
        }
    }
    if (c->ep->close_cb)
        c->ep->close_cb(c, c->ep->close_ctx);
    rmq_conn_release(c); /* the endpoint's reference */
    rmq_conn_release(c); /* ours */
}

/* ---------- sending ---------- */

static void maybe_pause_reading(rmq_conn_t *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (!c->read_paused && evbuffer_get_length(out) > c->ep->opts.max_output) {
        c->read_paused = true;
        bufferevent_disable(c->bev, EV_READ);
        bufferevent_setwatermark(c->bev, EV_WRITE, c->ep->opts.max_output / 2, 0);
        rmq_log(RMQ_LOG_WARN, c->ep->name, "%s: output backlog %zu bytes, pausing reads", c->peer,
                evbuffer_get_length(out));
    }
}

rmq_err_t rmq_conn_send_with_body(rmq_conn_t *c, const rmq_cmd_t *cmd, struct evbuffer *body)
{
    if (c->closed)
        return RMQ_ERR__TRANSPORT;
    size_t blen = body ? evbuffer_get_length(body) : cmd->body_len;
    rmq_buf_t hb;
    rmq_buf_init(&hb);
    rmq_cmd_encode_header(cmd, blen, &hb);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evbuffer_add(out, hb.data, hb.len);
    rmq_buf_free(&hb);
    if (body)
        evbuffer_add_buffer(out, body);
    else if (cmd->body_len)
        evbuffer_add(out, cmd->body, cmd->body_len);
    maybe_pause_reading(c);
    return RMQ_OK;
}

rmq_err_t rmq_conn_send(rmq_conn_t *c, const rmq_cmd_t *cmd) { return rmq_conn_send_with_body(c, cmd, NULL); }

rmq_err_t rmq_conn_request(rmq_conn_t *c, rmq_cmd_t *req, int timeout_ms, rmq_resp_cb_t cb, void *arg)
{
    if (c->closed)
        return RMQ_ERR__TRANSPORT;
    req->flag &= ~(RMQ_FLAG_RESPONSE | RMQ_FLAG_ONEWAY);
    req->opaque = take_opaque();
    pending_t *p = rmq_calloc(1, sizeof(*p));
    p->opaque = req->opaque;
    p->cb = cb;
    p->arg = arg;
    p->conn = c;
    p->timer = evtimer_new(c->ep->base, pending_timeout_cb, p);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(p->timer, &tv);
    pending_add(c, p);
    return rmq_conn_send(c, req);
}

rmq_err_t rmq_conn_oneway(rmq_conn_t *c, rmq_cmd_t *req)
{
    req->flag = (req->flag & ~RMQ_FLAG_RESPONSE) | RMQ_FLAG_ONEWAY;
    req->opaque = take_opaque();
    return rmq_conn_send(c, req);
}

void rmq_conn_reply_to(rmq_conn_t *c, int32_t opaque, uint8_t serialize, rmq_cmd_t *resp)
{
    resp->opaque = opaque;
    resp->serialize = serialize;
    resp->flag |= RMQ_FLAG_RESPONSE;
    resp->version = RMQ_VERSION_CURRENT;
    resp->language = RMQ_LANG_JAVA;
    rmq_conn_send(c, resp);
}

void rmq_conn_reply(rmq_conn_t *c, const rmq_cmd_t *req, rmq_cmd_t *resp)
{
    if (rmq_cmd_is_oneway(req))
        return;
    rmq_conn_reply_to(c, req->opaque, req->serialize, resp);
}

/* ---------- receiving ---------- */

static void log_bad_frame(rmq_conn_t *c, const char *why, const uint8_t *p, size_t n)
{
    char hex[3 * 32 + 1];
    size_t k = n < 32 ? n : 32;
    for (size_t i = 0; i < k; i++)
        snprintf(hex + 3 * i, 4, "%02x ", p[i]);
    hex[k ? 3 * k - 1 : 0] = '\0';
    rmq_log(RMQ_LOG_WARN, c->ep->name, "closing %s: %s (first bytes: %s)", c->peer, why, hex);
}

static void dispatch_request(rmq_conn_t *c, rmq_cmd_t *req)
{
    rmq_endpoint_t *ep = c->ep;
    handler_t *h = NULL;
    if (req->code >= 0 && req->code < HANDLER_SLOTS && ep->handlers[req->code].h)
        h = &ep->handlers[req->code];
    else if (ep->dflt.h)
        h = &ep->dflt;
    if (h) {
        h->h(c, req, h->ctx);
        return;
    }
    rmq_log(RMQ_LOG_DEBUG, ep->name, "%s: request code %d not supported", c->peer, req->code);
    rmq_cmd_t resp;
    rmq_cmd_init_response(&resp, req, RMQ_ERR_REQUEST_CODE_NOT_SUPPORTED, NULL);
    rmq_cmd_set_remark(&resp, " request type %d not supported", req->code);
    /* Java answers this one even for oneway requests. */
    rmq_conn_reply_to(c, req->opaque, req->serialize, &resp);
    rmq_cmd_deinit(&resp);
}

static void dispatch_response(rmq_conn_t *c, rmq_cmd_t *resp)
{
    pending_t *p = pending_take(c, resp->opaque);
    if (!p) {
        rmq_log(RMQ_LOG_DEBUG, c->ep->name, "%s: response for unknown opaque %d dropped", c->peer, resp->opaque);
        return;
    }
    evtimer_del(p->timer);
    p->cb(c, RMQ_OK, resp, p->arg);
    pending_free(p);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    rmq_conn_t *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    rmq_conn_hold(c);
    while (!c->closed && !c->read_paused) {
        size_t avail = evbuffer_get_length(in);
        if (avail < 4)
            break;
        uint8_t lb[4];
        evbuffer_copyout(in, lb, 4);
        size_t flen = rmq_be32(lb);
        if (flen > c->ep->opts.max_frame || flen < 4) {
            char why[96];
            snprintf(why, sizeof(why), "frame length %zu outside [4, %zu]", flen, c->ep->opts.max_frame);
            log_bad_frame(c, why, lb, 4);
            conn_close(c, RMQ_ERR__TRANSPORT);
            break;
        }
        if (avail < 4 + flen)
            break;
        const uint8_t *frame = evbuffer_pullup(in, (ev_ssize_t)(4 + flen));
        rmq_cmd_t cmd;
        char err[160];
        rmq_err_t r = rmq_cmd_decode(&cmd, frame + 4, flen, err, sizeof(err));
        if (r != RMQ_OK) {
            log_bad_frame(c, err, frame + 4, flen);
            conn_close(c, RMQ_ERR__TRANSPORT);
            break;
        }
        evbuffer_drain(in, 4 + flen);
        if (rmq_cmd_is_response(&cmd))
            dispatch_response(c, &cmd);
        else
            dispatch_request(c, &cmd);
        rmq_cmd_deinit(&cmd);
        if (!c->closed)
            maybe_pause_reading(c);
    }
    rmq_conn_release(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    rmq_conn_t *c = arg;
    if (c->read_paused && evbuffer_get_length(bufferevent_get_output(bev)) <= c->ep->opts.max_output / 2) {
        c->read_paused = false;
        bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
        bufferevent_enable(bev, EV_READ);
        read_cb(bev, c); /* frames may be waiting in the input buffer */
    }
}

static void set_idle_timeout(rmq_conn_t *c)
{
    if (c->ep->opts.idle_timeout_ms > 0) {
        struct timeval tv = {c->ep->opts.idle_timeout_ms / 1000, (c->ep->opts.idle_timeout_ms % 1000) * 1000};
        bufferevent_set_timeouts(c->bev, &tv, NULL);
    } else {
        bufferevent_set_timeouts(c->bev, NULL, NULL);
    }
}

static void fill_local(rmq_conn_t *c)
{
    socklen_t sl = sizeof(c->local_addr);
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    if (fd >= 0 && getsockname(fd, (struct sockaddr *)&c->local_addr, &sl) == 0)
        normalize_v4mapped(&c->local_addr);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    rmq_conn_t *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        c->connected = true;
        fill_local(c);
        socklen_t sl = sizeof(c->peer_addr);
        getpeername(bufferevent_getfd(bev), (struct sockaddr *)&c->peer_addr, &sl);
        normalize_v4mapped(&c->peer_addr);
        set_idle_timeout(c);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        rmq_log(RMQ_LOG_INFO, c->ep->name, "%s: %s, closing", c->peer,
                c->connected ? "idle timeout" : "connect timeout");
    } else if (what & BEV_EVENT_ERROR) {
        int err = EVUTIL_SOCKET_ERROR();
        if (!c->connected)
            rmq_log_errno(RMQ_LOG_WARN, c->ep->name, err, "connect to %s failed", c->peer);
        else
            rmq_log_errno(RMQ_LOG_DEBUG, c->ep->name, err, "%s: connection error", c->peer);
    } else {
        rmq_log(RMQ_LOG_DEBUG, c->ep->name, "%s: closed by peer", c->peer);
    }
    conn_close(c, RMQ_ERR__TRANSPORT);
}

static rmq_conn_t *conn_new(rmq_endpoint_t *ep, struct bufferevent *bev)
{
    rmq_conn_t *c = rmq_calloc(1, sizeof(*c));
    c->ep = ep;
    c->bev = bev;
    c->refs = 1;
    c->id = atomic_fetch_add(&next_conn_id, 1);
    c->next = ep->conns;
    if (ep->conns)
        ep->conns->prev = c;
    ep->conns = c;
    bufferevent_setcb(bev, read_cb, write_cb, event_cb, c);
    return c;
}

/* ---------- server ---------- */

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen, void *arg)
{
    rmq_endpoint_t *ep = arg;
    struct bufferevent *bev = bufferevent_socket_new(ep->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    rmq_conn_t *c = conn_new(ep, bev);
    memcpy(&c->peer_addr, sa, (size_t)socklen < sizeof(c->peer_addr) ? (size_t)socklen : sizeof(c->peer_addr));
    normalize_v4mapped(&c->peer_addr);
    sockaddr_text((struct sockaddr *)&c->peer_addr, c->peer, sizeof(c->peer));
    c->connected = true;
    fill_local(c);
    set_idle_timeout(c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    rmq_log(RMQ_LOG_DEBUG, ep->name, "accepted %s", c->peer);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    rmq_endpoint_t *ep = arg;
    rmq_log_errno(RMQ_LOG_ERROR, ep->name, EVUTIL_SOCKET_ERROR(), "accept() failed");
}

static rmq_endpoint_t *endpoint_new(struct event_base *base, const rmq_endpoint_opts_t *opts, bool client)
{
    rmq_endpoint_t *ep = rmq_calloc(1, sizeof(*ep));
    ep->base = base;
    if (opts)
        ep->opts = *opts;
    else
        rmq_endpoint_opts_default(&ep->opts);
    snprintf(ep->name, sizeof(ep->name), "%s", ep->opts.name ? ep->opts.name : "remoting");
    ep->opts.name = NULL;
    ep->is_client = client;
    return ep;
}

rmq_endpoint_t *rmq_server_new(struct event_base *base, const char *host, int port, const rmq_endpoint_opts_t *opts,
                               char *errstr, size_t errstr_size)
{
    rmq_endpoint_t *ep = endpoint_new(base, opts, false);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    int sl;
    char spec[128];
    const char *h = host && *host ? host : "0.0.0.0";
    snprintf(spec, sizeof(spec), strchr(h, ':') ? "[%s]:%d" : "%s:%d", h, port);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, h, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        sl = sizeof(*in4);
    } else if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        sl = sizeof(*in6);
    } else {
        snprintf(errstr, errstr_size, "bad listen address %s (numeric IPv4/IPv6 expected)", spec);
        free(ep);
        return NULL;
    }
    ep->listener = evconnlistener_new_bind(base, accept_cb, ep,
                                           LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 1024,
                                           (struct sockaddr *)&ss, sl);
    if (!ep->listener) {
        snprintf(errstr, errstr_size, "cannot listen on %s: %s", spec, strerror(errno));
        free(ep);
        return NULL;
    }
    evconnlistener_set_error_cb(ep->listener, accept_error_cb);
    struct sockaddr_storage bound;
    socklen_t bl = sizeof(bound);
    getsockname(evconnlistener_get_fd(ep->listener), (struct sockaddr *)&bound, &bl);
    ep->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                : ((struct sockaddr_in6 *)&bound)->sin6_port);
    return ep;
}

int rmq_server_port(const rmq_endpoint_t *ep) { return ep->port; }

/* ---------- client ---------- */

rmq_endpoint_t *rmq_client_new(struct event_base *base, const rmq_endpoint_opts_t *opts)
{
    return endpoint_new(base, opts, true);
}

rmq_conn_t *rmq_client_conn(rmq_endpoint_t *ep, const char *addr)
{
    for (rmq_conn_t *c = ep->conns; c; c = c->next)
        if (strcmp(c->peer, addr) == 0)
            return c;
    char host[256];
    int port;
    if (!rmq_addr_split(addr, host, sizeof(host), &port))
        return NULL;
    struct bufferevent *bev = bufferevent_socket_new(ep->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        return NULL;
    rmq_conn_t *c = conn_new(ep, bev);
    snprintf(c->peer, sizeof(c->peer), "%s", addr);
    struct timeval tv = {ep->opts.connect_timeout_ms / 1000, (ep->opts.connect_timeout_ms % 1000) * 1000};
    bufferevent_set_timeouts(bev, &tv, &tv);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    int rc;
    if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sl) == 0) {
        rc = bufferevent_socket_connect(bev, (struct sockaddr *)&ss, sl);
    } else {
        if (!ep->dns)
            ep->dns = evdns_base_new(ep->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
        rc = bufferevent_socket_connect_hostname(bev, ep->dns, AF_UNSPEC, host, port);
    }
    if (rc != 0) {
        rmq_log(RMQ_LOG_WARN, ep->name, "connect to %s failed immediately", addr);
        conn_close(c, RMQ_ERR__TRANSPORT);
        return NULL;
    }
    return c;
}

rmq_err_t rmq_client_request(rmq_endpoint_t *ep, const char *addr, rmq_cmd_t *req, int timeout_ms, rmq_resp_cb_t cb,
                             void *arg)
{
    rmq_conn_t *c = rmq_client_conn(ep, addr);
    if (!c)
        return RMQ_ERR__TRANSPORT;
    return rmq_conn_request(c, req, timeout_ms, cb, arg);
}

/* ---------- endpoint ---------- */

void rmq_endpoint_set_handler(rmq_endpoint_t *ep, int code, rmq_req_handler_t h, void *ctx)
{
    rmq_assert(code >= 0 && code < HANDLER_SLOTS);
    ep->handlers[code].h = h;
    ep->handlers[code].ctx = ctx;
}

void rmq_endpoint_set_default_handler(rmq_endpoint_t *ep, rmq_req_handler_t h, void *ctx)
{
    ep->dflt.h = h;
    ep->dflt.ctx = ctx;
}

void rmq_endpoint_set_close_cb(rmq_endpoint_t *ep, rmq_close_cb_t cb, void *ctx)
{
    ep->close_cb = cb;
    ep->close_ctx = ctx;
}

struct event_base *rmq_endpoint_base(rmq_endpoint_t *ep) { return ep->base; }

void rmq_endpoint_destroy(rmq_endpoint_t *ep)
{
    if (!ep)
        return;
    if (ep->listener)
        evconnlistener_free(ep->listener);
    ep->close_cb = NULL;
    while (ep->conns)
        conn_close(ep->conns, RMQ_ERR__DESTROY);
    if (ep->dns)
        evdns_base_free(ep->dns, 0);
    free(ep);
}
